"""`textfile-redis once` against real servers, read by a real node_exporter and promtool."""

from __future__ import annotations

import re
import stat
from typing import TYPE_CHECKING

import pytest

from tests.support.config import write_config
from tests.support.consumers import promtool_check_metrics
from tests.support.daemon import clean_env, run_cli
from tests.support.processes import free_port

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from tests.support.consumers import NodeExporter
    from tests.support.servers import RedisServer

# promtool's naming lints that redis_exporter's own names raise; anything else is a real problem.
ACCEPTED_LINTS = (
    'counter metrics should have "_total" suffix',
    'non-counter metrics should not have "_total" suffix',
    "metric names should not contain abbreviated units",
)


def _type_lines(text: str) -> dict[str, str]:
    return dict(re.findall(r"^# TYPE (\S+) (\S+)$", text, re.MULTILINE))


def _complaints(log: str) -> list[str]:
    """node_exporter's warnings and errors, but for its note that tests run it as root."""
    return [
        line
        for line in log.splitlines()
        if re.search(r"level=(warn|error)", line) and "running as root" not in line
    ]


def _value(text: str, name: str, **labels: str) -> float | None:
    """The value of the first sample of `name` whose labels include `labels`."""
    for line in text.splitlines():
        if not line.startswith(f"{name}{{") and not line.startswith(f"{name} "):
            continue
        if all(f'{key}="{value}"' in line for key, value in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return None


def test_once_serves_three_targets_through_node_exporter(
    replica_pair: tuple[RedisServer, RedisServer],
    server_factory: Callable[..., RedisServer],
    node_exporter_factory: Callable[[Path], NodeExporter],
    textfile_dir: Path,
    tmp_path: Path,
) -> None:
    """Primary, replica and a password-protected unix socket: every family served, no error."""
    primary, replica = replica_pair
    private = server_factory(password="s3cr3t-pw", unixsocket=True)  # noqa: S106 - a test secret
    (tmp_path / "private.password").write_text("s3cr3t-pw\n")
    config = write_config(
        tmp_path / "config.toml",
        textfile_dir,
        [
            {"name": "primary", "addr": primary.addr},
            {"name": "replica", "addr": replica.addr},
            {
                "name": "private",
                "addr": f"unix://{private.unix_path}",
                "password_file": str(tmp_path / "private.password"),
            },
        ],
    )
    result = run_cli("once", "--config", str(config))
    assert result.returncode == 0, result.stderr
    assert "s3cr3t-pw" not in result.stderr
    files = sorted(p.name for p in textfile_dir.iterdir())
    assert files == ["redis_primary.prom", "redis_private.prom", "redis_replica.prom"]

    exporter = node_exporter_factory(textfile_dir)
    served = exporter.metrics()
    assert _value(served, "node_textfile_scrape_error") == 0
    for name in files:
        ours = _type_lines((textfile_dir / name).read_text())
        assert len(ours) > 50
        assert {k: v for k, v in _type_lines(served).items() if k in ours} == ours
    assert _value(served, "redis_up", addr=primary.addr) == 1
    assert _value(served, "redis_master_link_up", addr=replica.addr) == 1
    assert _value(served, "redis_db_keys", addr=f"unix://{private.unix_path}", db="db0") == 0
    assert _complaints(exporter.log()) == []


def test_written_file_passes_promtool_and_is_0644_under_umask_077(
    server: RedisServer, textfile_dir: Path, tmp_path: Path
) -> None:
    """Only redis_exporter's naming lints show in promtool; the file is 0644 anyway."""
    config = write_config(tmp_path / "c.toml", textfile_dir, [{"name": "a", "addr": server.addr}])
    result = run_cli("once", "--config", str(config), umask=0o077)
    assert result.returncode == 0, result.stderr
    path = textfile_dir / "redis_a.prom"
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    problems = promtool_check_metrics(path)
    assert [p for p in problems if not p.endswith(ACCEPTED_LINTS)] == []
    assert sorted(p.name for p in textfile_dir.iterdir()) == ["redis_a.prom"]


def test_unreachable_target_gets_up_zero_and_exit_1(
    server: RedisServer, textfile_dir: Path, tmp_path: Path
) -> None:
    """The down target's file says redis_up 0, the other is fresh, stderr names the failure."""
    down = f"redis://127.0.0.1:{free_port()}"
    targets = [{"name": "up", "addr": server.addr}, {"name": "down", "addr": down}]
    config = write_config(tmp_path / "c.toml", textfile_dir, targets, timeout=1, interval=5)
    result = run_cli("once", "--config", str(config))
    assert result.returncode == 1
    assert "target down" in result.stderr
    assert "Connection refused" in result.stderr
    assert "target up " not in result.stderr
    down_text = (textfile_dir / "redis_down.prom").read_text()
    assert _value(down_text, "redis_up") == 0
    assert _value(down_text, "textfile_redis_scrape_error") == 1
    assert _value(down_text, "redis_connected_clients") is None
    assert _value((textfile_dir / "redis_up.prom").read_text(), "redis_up") == 1


def test_acl_user_without_config_permission_loses_only_config_metrics(
    server_factory: Callable[..., RedisServer], textfile_dir: Path, tmp_path: Path
) -> None:
    """An ACL user denied CONFIG still gets every other family, and the refusal is shown."""
    server = server_factory()
    server.client().execute_command(  # type: ignore[no-untyped-call]
        "ACL", "SETUSER", "monitor", "on", ">monitor-pw", "+@all", "-config", "~*"
    )
    (tmp_path / "pw").write_text("monitor-pw")
    target = {
        "name": "a",
        "addr": server.addr,
        "username": "monitor",
        "password_file": str(tmp_path / "pw"),
    }
    config = write_config(tmp_path / "c.toml", textfile_dir, [target])
    result = run_cli("once", "--config", str(config))
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("refused CONFIG GET ") == 1
    text = (textfile_dir / "redis_a.prom").read_text()
    assert _value(text, "textfile_redis_command_refused", command="config") == 1
    assert _value(text, "redis_config_maxmemory") is None
    assert _value(text, "redis_up") == 1
    assert _value(text, "redis_connected_clients") is not None


@pytest.mark.parametrize(
    ("renamed_to", "config_command"), [("MYCONFIG", "MYCONFIG"), ("", "CONFIG")]
)
def test_renamed_config_command(
    server_factory: Callable[..., RedisServer],
    textfile_dir: Path,
    tmp_path: Path,
    renamed_to: str,
    config_command: str,
) -> None:
    """config_command follows a renamed CONFIG; a disabled CONFIG costs only config metrics."""
    server = server_factory(extra_args=["--rename-command", "CONFIG", renamed_to])
    target = {"name": "a", "addr": server.addr, "config_command": config_command}
    config = write_config(tmp_path / "c.toml", textfile_dir, [target])
    result = run_cli("once", "--config", str(config))
    assert result.returncode == 0, result.stderr
    text = (textfile_dir / "redis_a.prom").read_text()
    assert _value(text, "redis_up") == 1
    if renamed_to:
        assert _value(text, "redis_config_maxclients") == 10000
    else:
        assert _value(text, "redis_config_maxclients") is None
        assert _value(text, "textfile_redis_command_refused", command="config") == 1


def test_flags_and_environment_without_config_file(
    server_factory: Callable[..., RedisServer], textfile_dir: Path, tmp_path: Path
) -> None:
    """--redis-addr with REDIS_USER/REDIS_PASSWORD_FILE, no config file, as the quick start runs."""
    server = server_factory(password="env-pw")  # noqa: S106 - a test secret
    (tmp_path / "pw").write_text("env-pw\n")
    result = run_cli(
        "once",
        "--config",
        str(tmp_path / "absent.toml"),
        "--redis-addr",
        server.addr,
        "--textfile-dir",
        str(textfile_dir),
        env={**clean_env(), "REDIS_PASSWORD_FILE": str(tmp_path / "pw")},
    )
    assert result.returncode == 78  # an explicit --config that does not exist is an error
    result = run_cli(
        "once",
        "--redis-addr",
        server.addr,
        "--textfile-dir",
        str(textfile_dir),
        env={**clean_env(), "REDIS_PASSWORD_FILE": str(tmp_path / "pw")},
    )
    assert result.returncode == 0, result.stderr
    (written,) = textfile_dir.iterdir()
    assert _value(written.read_text(), "redis_up") == 1

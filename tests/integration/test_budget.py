"""The series budget on real servers: big opt-in families left out whole, the file still served."""

from __future__ import annotations

import contextlib
import re
import resource
import signal
import socket
from typing import TYPE_CHECKING

import pytest

from tests.support.config import write_config
from tests.support.daemon import RunningDaemon, run_cli
from tests.support.processes import wait_for
from tests.support.servers import raw_command
from textfile_redis import budget, catalog
from textfile_redis.config import Config, Overrides, load_config
from textfile_redis.cycle import Collector

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping
    from pathlib import Path

    from tests.support.consumers import NodeExporter
    from tests.support.servers import RedisServer

# One server version: the budget is the same code whatever the server.
ONE_KIND = pytest.mark.parametrize("server_kind", ["redis-7.0"], indirect=True)

CLIENTS = 2000
KEYS = 50_000
GROUPS = 1500
SERIES = re.compile(r"^textfile_redis_series\{[^}]*\} (\S+)$", re.MULTILINE)
DROPPED = re.compile(r'^textfile_redis_series_dropped\{.*family="([^"]+)".*\} (\S+)$', re.MULTILINE)


# Under a budget of 5,000 some of these go, the biggest first: which ones depends on the server.
PER_CLIENT = {e.name for e in catalog.FAMILIES if e.option == catalog.CLIENTS_OPTION}


def samples(text: str) -> list[str]:
    """The sample lines of an exposition text (no comments)."""
    return [line for line in text.splitlines() if line and not line.startswith("#")]


def families_in(text: str) -> set[str]:
    """The families an exposition text declares with # TYPE."""
    return set(re.findall(r"^# TYPE (\S+) ", text, re.MULTILINE))


def dropped_in(text: str) -> dict[str, int]:
    """textfile_redis_series_dropped's samples: family -> series left out."""
    return {family: int(float(count)) for family, count in DROPPED.findall(text)}


def text_of(path: Path) -> str:
    """The file's text; empty while it is absent."""
    try:
        return path.read_text()
    except FileNotFoundError:
        return ""


def load(path: Path) -> Config:
    """The configuration in `path`, loaded as the daemon loads it."""
    return load_config(Overrides(config_path=path), {})


def collect(config: Config) -> dict[str, str]:
    """One cycle of every target; each target's file text by target name."""
    collector = Collector(config)
    try:
        reports = collector.cycle()
    finally:
        collector.close()
    assert all(report.ok for report in reports), [r.describe() for r in reports]
    return {t.name: (config.textfile_dir / t.filename).read_text() for t in config.targets}


def default_families(text: str) -> set[str]:
    """The families of a file that are on by default (never cut)."""
    return {
        name
        for name in families_in(text)
        if (entry := catalog.BY_NAME.get(name)) is None or not entry.option
    }


def assert_within_budget(text: str, limit: int, unbudgeted: str) -> None:
    """The file holds `limit` series at most, says how many, keeps every default family whole."""
    lines = samples(text)
    assert len(lines) <= limit
    assert SERIES.findall(text) == [f"{float(len(lines))!r}"]
    assert default_families(unbudgeted) <= families_in(text)
    for name, count in dropped_in(text).items():  # left out whole: not one line of it remains
        assert not any(line.startswith((f"{name}{{", f"{name} ")) for line in lines)
        assert count > 0
        assert name in families_in(unbudgeted)


def assert_served(node_exporter: NodeExporter, dropped: set[str]) -> None:
    """node_exporter serves the file without a scrape error, the left-out families named."""
    served = node_exporter.metrics()
    assert re.search(r"^node_textfile_scrape_error 0$", served, re.MULTILINE)
    assert set(dropped_in(served)) == dropped
    assert node_exporter.complaints() == []


@pytest.fixture
def etc(tmp_path: Path) -> Path:
    """A configuration directory."""
    directory = tmp_path / "etc"
    directory.mkdir()
    return directory


def budget_case(  # noqa: PLR0913 - the case's parts, each one named
    server: RedisServer,
    *,
    etc: Path,
    textfile_dir: Path,
    node_exporter_factory: Callable[[Path], NodeExporter],
    options: Mapping[str, object],
    limit: int,
    expected: set[str],
) -> None:
    """Over `limit`, exactly `expected` families go, the file fits and node_exporter serves it."""
    target = {"name": "big", "addr": server.addr, **options}
    top = {"interval": 20, "timeout": 15}
    free_dir = textfile_dir.parent / "unbudgeted"
    free_dir.mkdir()
    free = [{**target, "max_series": 10**7}]
    free_config = write_config(etc / "free.toml", free_dir, free, max_series_total=10**7, **top)
    unbudgeted = collect(load(free_config))
    budgeted = collect(
        load(
            write_config(
                etc / "config.toml", textfile_dir, [{**target, "max_series": limit}], **top
            )
        )
    )
    assert set(dropped_in(budgeted["big"])) == expected or expected is PER_CLIENT
    assert set(dropped_in(budgeted["big"])) <= expected
    assert_within_budget(budgeted["big"], limit, unbudgeted["big"])
    assert_served(node_exporter_factory(textfile_dir), set(dropped_in(budgeted["big"])))


@ONE_KIND
def test_check_keys_over_50000_keys_are_left_out_whole(
    server_factory: Callable[..., RedisServer],
    etc: Path,
    textfile_dir: Path,
    node_exporter_factory: Callable[[Path], NodeExporter],
) -> None:
    """check_keys over 50,000 keys under a 2,000 budget: the per-key families go, defaults stay."""
    server = server_factory()
    raw_command(server.client(), "DEBUG", "POPULATE", str(KEYS), "key")
    options = {"check_keys": ["db0=key:*"], "scan_budget": 10, "check_keys_batch_size": 5000}
    expected = {"redis_key_size", "redis_key_memory_usage_bytes", "redis_key_value_as_string"}
    budget_case(
        server,
        etc=etc,
        textfile_dir=textfile_dir,
        node_exporter_factory=node_exporter_factory,
        options=options,
        limit=2000,
        expected=expected,
    )


@contextlib.contextmanager
def connections(server: RedisServer, count: int) -> Iterator[list[socket.socket]]:
    """`count` real client connections to the server, open until the block ends."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, count + 1024)), hard))
    opened: list[socket.socket] = []
    try:
        opened += [socket.create_connection(("127.0.0.1", server.port)) for _ in range(count)]
        connected = lambda: int(server.client().info("clients")["connected_clients"]) > count  # noqa: E731
        wait_for(connected, message=f"{count} connections never all accepted")
        yield opened
    finally:
        for sock in opened:
            sock.close()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


@ONE_KIND
def test_client_list_of_2000_connections_is_left_out_whole(
    server_factory: Callable[..., RedisServer],
    etc: Path,
    textfile_dir: Path,
    node_exporter_factory: Callable[[Path], NodeExporter],
) -> None:
    """export_client_list with 2,000 real connections under a 5,000 budget: client families go."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, CLIENTS + 4096), hard))
    try:  # the server inherits the limit, and sizes maxclients to it
        server = server_factory(extra_args=["--maxclients", str(CLIENTS + 1000)])
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    with connections(server, CLIENTS):
        options = {"export_client_list": True}
        budget_case(
            server,
            etc=etc,
            textfile_dir=textfile_dir,
            node_exporter_factory=node_exporter_factory,
            options=options,
            limit=5000,
            expected=PER_CLIENT,
        )


def key_groups(server: RedisServer, groups: int, db: int = 0) -> None:
    """`groups` key groups of two keys each: g<n>_a and g<n>_b."""
    pipe = server.client(db).pipeline(transaction=False)
    for index in range(groups):
        pipe.mset({f"g{index}_a": "1", f"g{index}_b": "2"})
    pipe.execute()


GROUP_OPTIONS = {"check_key_groups": ["^(.*)_[^_]+$"], "max_distinct_key_groups": 100_000}
GROUP_FAMILIES = {"redis_key_group_count", "redis_key_group_memory_usage_bytes"}


@ONE_KIND
def test_many_key_groups_are_left_out_whole(
    server_factory: Callable[..., RedisServer],
    etc: Path,
    textfile_dir: Path,
    node_exporter_factory: Callable[[Path], NodeExporter],
) -> None:
    """1,500 key groups under a 1,500 budget: the two per-group families go, the rest stays."""
    server = server_factory()
    key_groups(server, GROUPS)
    options = {**GROUP_OPTIONS, "scan_budget": 10}
    budget_case(
        server,
        etc=etc,
        textfile_dir=textfile_dir,
        node_exporter_factory=node_exporter_factory,
        options=options,
        limit=1500,
        expected=GROUP_FAMILIES,
    )


@ONE_KIND
def test_a_reload_raising_the_budget_restores_the_families_within_one_cycle(
    server_factory: Callable[..., RedisServer], etc: Path, textfile_dir: Path, tmp_path: Path
) -> None:
    """A reload (SIGHUP) raising max_series brings the key groups back in the next file."""
    server = server_factory()
    key_groups(server, GROUPS)
    interval = 1.0
    target = {"name": "groups", "addr": server.addr, **GROUP_OPTIONS}

    def configure(limit: int) -> Path:
        top = {"interval": interval, "timeout": 0.9, "scan_budget": 0.8}
        targets = [{**target, "max_series": limit}]
        return write_config(etc / "config.toml", textfile_dir, targets, **top)

    daemon = RunningDaemon(configure(1000), tmp_path / "daemon.log")
    try:
        path = textfile_dir / "redis_groups.prom"
        wait_for(lambda: path.exists() and dropped_in(path.read_text()), message="nothing left out")
        first = path.stat().st_mtime_ns
        wait_for(lambda: path.stat().st_mtime_ns != first, message="no second cycle")
        assert daemon.log().count("left out:") == 1, daemon.log()  # on change, not every cycle
        configure(100_000)
        daemon.send(signal.SIGHUP)
        wait_for(  # a target whose options change is retired and its file written anew
            lambda: "redis_key_group_count{" in text_of(path),
            timeout=2 * interval + 1,
            message="key groups not back within one cycle of the reload",
        )
        text = path.read_text()
        assert dropped_in(text) == {}
        assert "textfile_redis_series_limit" in text
    finally:
        daemon.kill()


@ONE_KIND
def test_the_total_budget_holds_across_three_targets_deterministically(
    server_factory: Callable[..., RedisServer], etc: Path, textfile_dir: Path
) -> None:
    """Three targets share max_series_total equally; the same families go on two cycles."""
    servers = [server_factory() for _ in range(3)]
    for server, groups in zip(servers, (2000, 300, 0), strict=True):
        if groups:
            key_groups(server, groups)
    targets = [
        {"name": f"t{index}", "addr": server.addr, **GROUP_OPTIONS, "scan_budget": 5}
        for index, server in enumerate(servers)
    ]
    total = 4500
    config = load(write_config(etc / "config.toml", textfile_dir, targets, max_series_total=total))
    share = budget.limit_for(10_000, total, 3)
    collect(config)  # the first cycle's commands add default series (commandstats) to later ones
    first, second = collect(config), collect(config)
    for text in first.values():
        assert len(samples(text)) <= share
        assert "textfile_redis_series_limit{" in text
    assert sum(len(samples(text)) for text in first.values()) <= total
    assert {name: dropped_in(text) for name, text in first.items()} == {
        "t0": {"redis_key_group_count": 2000, "redis_key_group_memory_usage_bytes": 2000},
        "t1": {},
        "t2": {},
    }
    assert {n: dropped_in(t) for n, t in second.items()} == {
        n: dropped_in(t) for n, t in first.items()
    }


@ONE_KIND
def test_check_single_keys_writes_nothing_for_a_missing_key(
    server_factory: Callable[..., RedisServer], etc: Path, textfile_dir: Path
) -> None:
    """A missing single key gets no series (redis_exporter writes 0); a present one does."""
    server = server_factory()
    server.client().set("present", "7")
    target = {"name": "single", "addr": server.addr, "check_single_keys": ["present", "missing"]}
    text = collect(load(write_config(etc / "config.toml", textfile_dir, [target])))["single"]
    assert 'key="present"' in text
    assert 'key="missing"' not in text


@pytest.mark.parametrize(
    ("place", "lines", "key"),
    [
        ("top", ["max_series = 0"], "max_series"),
        ("target", ['max_series = "lots"'], "target[1].max_series"),
        ("top", ["max_series_total = -1"], "max_series_total"),
    ],
)
def test_bad_budget_exits_78_naming_file_and_key(
    etc: Path, textfile_dir: Path, place: str, lines: list[str], key: str
) -> None:
    """A bad budget key makes `check` exit 78, its one line naming the file and the key."""
    top = "\n".join(lines) if place == "top" else ""
    own = "\n".join(lines) if place == "target" else ""
    config = etc / "config.toml"
    config.write_text(
        f'textfile_dir = "{textfile_dir}"\n{top}\n[[target]]\naddr = "127.0.0.1:1"\n{own}\n'
    )
    done = run_cli("check", "--config", str(config))
    assert done.returncode == 78  # EX_CONFIG
    assert f"{config}: {key}: expected a whole number greater than 0" in done.stderr


@ONE_KIND
def test_check_connect_prints_series_against_the_budget(
    server_factory: Callable[..., RedisServer], etc: Path, textfile_dir: Path
) -> None:
    """`check --connect` says each target's series against its budget, and what would go."""
    server = server_factory()
    key_groups(server, 300)
    target = {"name": "g", "addr": server.addr, **GROUP_OPTIONS, "max_series": 500}
    config = write_config(etc / "config.toml", textfile_dir, [target])
    done = run_cli("check", "--connect", "--config", str(config))
    assert done.returncode == 0, done.stderr
    assert re.search(
        r"target g \(.*\): ok in \S+s; \d+ of 500 series, left out: "
        r"redis_key_group_(count|memory_usage_bytes) \(300\)",
        done.stdout,
    ), done.stdout

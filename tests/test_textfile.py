"""Rendering, atomic writes, the ownership marker and removal of our own files."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import threading
from typing import TYPE_CHECKING

import pytest
from prometheus_client.parser import text_string_to_metric_families

from textfile_redis.families import Families
from textfile_redis.textfile import (
    Marker,
    owned_files,
    read_marker,
    remove_files,
    render,
    temp_files,
    write_atomic,
)

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from textfile_redis.exposition import Family

OWNER = "0123456789ab"


def _families() -> list[Family]:
    families = Families({"addr": "redis://127.0.0.1:6379"})
    families.gauge("redis_up", 1.0)
    families.counter("redis_total_error_replies", 3.0)
    families.counter("redis_commands_total", 7.0, cmd="get")
    families.histogram("redis_commands_latencies_usec", 3.0, 21.0, [(1048576.0, 3.0), (1.0, 1.0)])
    return families.collect()


def _type_lines(text: str) -> dict[str, str]:
    lines = (line.split(" ") for line in text.splitlines() if line.startswith("# TYPE "))
    return {words[2]: words[3] for words in lines}


def test_marker_is_the_first_line_and_reads_back() -> None:
    """The first line names the owner and target, and parses back to the same marker."""
    text = render(_families(), Marker(OWNER, "cache")).decode()
    first = text.splitlines()[0]
    assert first == f"# textfile-redis owner={OWNER} target=cache"
    assert Marker.parse(first + "\n") == Marker(OWNER, "cache")


@pytest.mark.parametrize(
    "line",
    [
        "# HELP redis_up x",
        "# textfile-redis owner=a",
        "# textfile-redis owner=a target=b extra",
        "",
    ],
)
def test_marker_parse_refuses_foreign_lines(line: str) -> None:
    """Lines that are not exactly our marker are not mistaken for one."""
    assert Marker.parse(line) is None


def test_counter_without_total_keeps_its_name_and_counter_type() -> None:
    """redis_total_error_replies renders with TYPE counter and samples of that exact name."""
    text = render(_families(), Marker(OWNER, "t")).decode()
    assert _type_lines(text)["redis_total_error_replies"] == "counter"
    assert 'redis_total_error_replies{addr="redis://127.0.0.1:6379"} 3.0' in text
    assert "redis_total_error_replies_total" not in text


def test_counter_with_total_names_type_and_samples_alike() -> None:
    """A `_total` counter's TYPE line names exactly the samples' name."""
    text = render(_families(), Marker(OWNER, "t")).decode()
    assert _type_lines(text)["redis_commands_total"] == "counter"
    assert 'redis_commands_total{addr="redis://127.0.0.1:6379",cmd="get"} 7.0' in text


def test_histogram_bounds_are_formatted_as_go_does() -> None:
    """Bucket bounds read le="1" and le="1.048576e+06", as redis_exporter writes them."""
    text = render(_families(), Marker(OWNER, "t")).decode()
    assert 'le="1"' in text
    assert 'le="1.048576e+06"' in text
    assert 'redis_commands_latencies_usec_count{addr="redis://127.0.0.1:6379"} 3.0' in text


def test_bytes_that_are_not_utf8_are_escaped_and_lookalikes_written_once() -> None:
    r"""Undecodable bytes read back as \xNN; a key that then prints like another is written once."""
    families = Families({"addr": 'say "hi"'})
    families.gauge("redis_key_size", 5.0, db="db0", key="u:\udcff\udcfe")
    families.gauge("redis_key_size", 6.0, db="db0", key="u:\\xff\\xfe")
    families.gauge("redis_key_size", 7.0, db="db0", key="plain")
    text = render(families.collect(), Marker(OWNER, "t")).decode()
    samples = [s for f in text_string_to_metric_families(text) for s in f.samples]
    values = {sample.labels["key"]: sample.value for sample in samples}
    assert values == {"u:\\xff\\xfe": 5.0, "plain": 7.0}
    assert {sample.labels["addr"] for sample in samples} == {'say "hi"'}


def test_no_sample_carries_a_timestamp() -> None:
    """node_exporter skips files with timestamps, so every sample line has two fields only."""
    text = render(_families(), Marker(OWNER, "t")).decode()
    for line in text.splitlines():
        if not line.startswith("#"):
            assert len(line.rsplit("} ", 1)[-1].split(" ")) == 1, line


def test_write_is_mode_0644_whatever_the_umask(tmp_path: Path) -> None:
    """A file written under umask 077 is still readable by node_exporter's user."""
    old_umask = os.umask(0o077)
    try:
        write_atomic(tmp_path, "redis_a.prom", b"# x\n", OWNER)
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE((tmp_path / "redis_a.prom").stat().st_mode) == 0o644
    assert sorted(p.name for p in tmp_path.iterdir()) == ["redis_a.prom"]


def test_a_planted_link_at_the_temp_name_is_never_followed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Even a name guessed right finds the file exclusive: the next random name is used."""
    victim = tmp_path / "victim"
    victim.write_bytes(b"precious")
    guessed = bytes(8)
    (tmp_path / f".textfile-redis-{OWNER}-{guessed.hex()}.tmp").symlink_to(victim)
    draws = iter([guessed, b"\x01" * 8])
    monkeypatch.setattr(os, "urandom", lambda _n: next(draws))
    write_atomic(tmp_path, "redis_a.prom", b"# x\n", OWNER)
    assert victim.read_bytes() == b"precious"
    assert (tmp_path / "redis_a.prom").read_bytes() == b"# x\n"
    assert not (tmp_path / f".textfile-redis-{OWNER}-{'01' * 8}.tmp").exists()


def test_write_replaces_the_whole_file(tmp_path: Path) -> None:
    """A shorter rewrite leaves no tail of the longer file behind."""
    write_atomic(tmp_path, "redis_a.prom", b"long content\n" * 100, OWNER)
    write_atomic(tmp_path, "redis_a.prom", b"short\n", OWNER)
    assert (tmp_path / "redis_a.prom").read_bytes() == b"short\n"


def test_concurrent_readers_never_see_a_partial_file(tmp_path: Path) -> None:
    """Readers in a tight loop only ever see one complete version or the other."""
    versions = [b"".join(b"metric_%d %d\n" % (i, v) for i in range(5000)) for v in (1, 2)]
    path = tmp_path / "redis_a.prom"
    write_atomic(tmp_path, path.name, versions[0], OWNER)
    stop = threading.Event()
    seen_bad: list[int] = []

    def read_loop() -> None:
        while not stop.is_set():
            content = path.read_bytes()
            if content not in versions:
                seen_bad.append(len(content))

    readers = [threading.Thread(target=read_loop) for _ in range(2)]
    for reader in readers:
        reader.start()
    for round_number in range(300):
        write_atomic(tmp_path, path.name, versions[round_number % 2], OWNER)
    stop.set()
    for reader in readers:
        reader.join()
    assert seen_bad == []


@pytest.fixture
def small_tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A 64 KiB tmpfs: a directory that really runs out of space."""
    mount_point = tmp_path / "full"
    mount_point.mkdir()
    _mount(["-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount_point)])
    yield mount_point
    subprocess.run(["umount", str(mount_point)], check=True)


@pytest.fixture
def read_only_dir(tmp_path: Path) -> Iterator[Path]:
    """A read-only tmpfs holding one old file: even root cannot write there."""
    mount_point = tmp_path / "ro"
    mount_point.mkdir()
    _mount(["-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount_point)])
    (mount_point / "redis_a.prom").write_bytes(b"old\n")
    _mount(["-o", "remount,ro", str(mount_point)])
    yield mount_point
    subprocess.run(["umount", str(mount_point)], check=True)


def _mount(arguments: list[str]) -> None:
    result = subprocess.run(["mount", *arguments], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        if os.environ.get("CI"):
            pytest.fail(f"mount failed in CI: {result.stderr.strip()}")
        pytest.skip(f"mount needs root here: {result.stderr.strip()}")


def test_full_directory_leaves_no_temp_and_no_partial_file(small_tmpfs: Path) -> None:
    """ENOSPC mid-write raises, removes the temp file and leaves the old file intact."""
    write_atomic(small_tmpfs, "redis_a.prom", b"old\n", OWNER)
    with pytest.raises(OSError, match="No space left"):
        write_atomic(small_tmpfs, "redis_a.prom", b"x" * (1 << 20), OWNER)
    assert sorted(p.name for p in small_tmpfs.iterdir()) == ["redis_a.prom"]
    assert (small_tmpfs / "redis_a.prom").read_bytes() == b"old\n"


def test_read_only_directory_leaves_everything_as_it_was(read_only_dir: Path) -> None:
    """A read-only directory makes the write fail before any file is created."""
    with pytest.raises(OSError, match="Read-only"):
        write_atomic(read_only_dir, "redis_a.prom", b"new\n", OWNER)
    assert sorted(p.name for p in read_only_dir.iterdir()) == ["redis_a.prom"]
    assert (read_only_dir / "redis_a.prom").read_bytes() == b"old\n"


def test_killed_writer_leaves_only_a_hidden_temp_file_we_can_find(tmp_path: Path) -> None:
    """A process killed mid-write leaves a hidden non-.prom temp file, found by temp_files."""
    script = (
        "import os, signal, sys\n"
        "from pathlib import Path\n"
        "import textfile_redis.textfile as t\n"
        "os.fsync = lambda fd: os.kill(os.getpid(), signal.SIGKILL)\n"
        f"t.write_atomic(Path({str(tmp_path)!r}), 'redis_a.prom', b'x', {OWNER!r})\n"
    )
    subprocess.run([sys.executable, "-c", script], check=False)
    leftovers = temp_files(tmp_path, OWNER)
    assert len(leftovers) == 1
    assert leftovers[0].name.startswith(".")
    assert not leftovers[0].name.endswith(".prom")
    assert not (tmp_path / "redis_a.prom").exists()
    assert remove_files(leftovers) == leftovers


def test_owned_files_are_only_ours(tmp_path: Path) -> None:
    """Files of other owners and other tools are never listed as ours."""
    write_atomic(tmp_path, "redis_a.prom", Marker(OWNER, "a").line().encode(), OWNER)
    write_atomic(tmp_path, "redis_b.prom", Marker("other", "b").line().encode(), "other")
    (tmp_path / "redis_c.prom").write_text("# HELP redis_up x\nredis_up 1\n")
    (tmp_path / "node.prom").write_text(Marker(OWNER, "x").line())
    assert owned_files(tmp_path, OWNER) == [tmp_path / "redis_a.prom"]
    assert read_marker(tmp_path / "redis_b.prom") == Marker("other", "b")
    assert read_marker(tmp_path / "missing.prom") is None

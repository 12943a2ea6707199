"""Rendering, atomic writes, the ownership marker and removal of our own files."""

from __future__ import annotations

import logging
import os
import stat
import subprocess
import sys
import threading
from contextlib import suppress
from typing import TYPE_CHECKING

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.daemon import run_cli
from tests.support.tools import unavailable
from textfile_redis import catalog, textfile
from textfile_redis.config import Overrides, load_config
from textfile_redis.textfile import (
    ForeignFileError,
    Marker,
    owned_files,
    read_marker,
    remove_files,
    render,
    temp_files,
    write_atomic,
)
from textfile_redis.translate import Families

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

    from textfile_redis.exposition import Family

OWNER = "0123456789ab"
OTHER_OWNER = "ba9876543210"
DEADLINE = 5.0  # seconds: far beyond a listing's milliseconds, far below a hang noticed by a human
NOBODY = 65534
MARKED = Marker(OWNER, "a").line().encode()  # what a file must start with to be replaced


def _families() -> list[Family]:
    families = Families({"addr": "redis://127.0.0.1:6379"})
    families.gauge(catalog.UP, 1.0)
    families.counter(catalog.BY_NAME["redis_total_error_replies"], 3.0)
    families.counter(catalog.COMMANDS_TOTAL, 7.0, cmd="get")
    families.histogram(catalog.COMMANDS_LATENCIES_USEC, 3.0, 21.0, [(1048576.0, 3.0), (1.0, 1.0)])
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
    families.gauge(catalog.KEY_SIZE, 5.0, db="db0", key="u:\udcff\udcfe")
    families.gauge(catalog.KEY_SIZE, 6.0, db="db0", key="u:\\xff\\xfe")
    families.gauge(catalog.KEY_SIZE, 7.0, db="db0", key="plain")
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
    write_atomic(tmp_path, "redis_a.prom", MARKED + b"long content\n" * 100, OWNER)
    write_atomic(tmp_path, "redis_a.prom", MARKED + b"short\n", OWNER)
    assert (tmp_path / "redis_a.prom").read_bytes() == MARKED + b"short\n"


def test_concurrent_readers_never_see_a_partial_file(tmp_path: Path) -> None:
    """Readers in a tight loop only ever see one complete version or the other."""
    versions = [MARKED + b"".join(b"metric_%d %d\n" % (i, v) for i in range(5000)) for v in (1, 2)]
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
        unavailable(f"mount failed (it needs root): {result.stderr.strip()}")


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
    assert remove_files(leftovers, OWNER) == leftovers


def test_owned_files_are_only_ours(tmp_path: Path) -> None:
    """Files of other owners and other tools are never listed as ours."""
    write_atomic(tmp_path, "redis_a.prom", Marker(OWNER, "a").line().encode(), OWNER)
    write_atomic(tmp_path, "redis_b.prom", Marker("other", "b").line().encode(), "other")
    (tmp_path / "redis_c.prom").write_text("# HELP redis_up x\nredis_up 1\n")
    (tmp_path / "node.prom").write_text(Marker(OWNER, "x").line())
    assert owned_files(tmp_path, OWNER) == [tmp_path / "redis_a.prom"]
    assert read_marker(tmp_path / "redis_b.prom") == Marker("other", "b")
    assert read_marker(tmp_path / "missing.prom") is None


# --- what another local user can put in the directory ------------------------------------------


def _ours(directory: Path, name: str = "redis_a.prom", owner: str = OWNER) -> Path:
    write_atomic(directory, name, Marker(owner, name).line().encode() + b"redis_up 1\n", owner)
    return directory / name


def _temp_name(owner: str = OWNER) -> str:
    return f".textfile-redis-{owner}-{'ab' * 8}.tmp"


def _plant(path: Path, kind: str, link_target: Path) -> None:
    """Put a directory, a FIFO or a symlink (to link_target) at path."""
    if kind == "directory":
        path.mkdir()
    elif kind == "fifo":
        os.mkfifo(path)
    else:
        path.symlink_to(link_target)


def _finishes_promptly(work: Callable[[], object], fifos: list[Path]) -> object:
    """Run work in a thread and return (or raise) what it does; fail if it hangs on a FIFO."""
    outcome: list[object] = []
    thread = threading.Thread(target=_run_into, args=(work, outcome), daemon=True)
    thread.start()
    thread.join(DEADLINE)
    hung = thread.is_alive()
    if hung:  # a reader blocked in open() wakes once a writer opens the FIFO
        for fifo in fifos:
            with suppress(OSError):
                os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        thread.join(DEADLINE)
    assert not hung, f"still blocked after {DEADLINE}s"
    if isinstance(outcome[0], BaseException):
        raise outcome[0]
    return outcome[0]


def _run_into(work: Callable[[], object], outcome: list[object]) -> None:
    try:
        outcome.append(work())
    except Exception as exc:  # noqa: BLE001 - handed to the test's thread, which raises it
        outcome.append(exc)


def test_a_fifo_under_our_name_is_skipped_without_blocking(tmp_path: Path) -> None:
    """Listing, reading and removal never open a FIFO named like our file in a blocking way."""
    ours = _ours(tmp_path)
    fifo = tmp_path / "redis_x.prom"
    os.mkfifo(fifo)
    listed = _finishes_promptly(lambda: owned_files(tmp_path, OWNER), [fifo])
    assert listed == [ours]
    assert _finishes_promptly(lambda: read_marker(fifo), [fifo]) is None
    assert _finishes_promptly(lambda: remove_files([fifo, ours], OWNER), [fifo]) == [ours]
    assert stat.S_ISFIFO(fifo.lstat().st_mode)


@pytest.mark.parametrize("kind", ["directory", "fifo", "symlink"])
def test_an_entry_named_like_our_temp_file_is_left_alone(
    tmp_path: Path, kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A non-file under our temp name is not listed, not removed, and logged once as left alone."""
    victim = _ours(tmp_path)
    hostile = tmp_path / _temp_name()
    _plant(hostile, kind, victim)
    with caplog.at_level(logging.WARNING, logger="textfile_redis.textfile"):
        assert temp_files(tmp_path, OWNER) == []
        assert remove_files([hostile], OWNER) == []
    assert os.path.lexists(hostile)
    assert victim.exists()
    assert [r.getMessage() for r in caplog.records if str(hostile) in r.getMessage()] != []
    assert len(caplog.records) == 2  # one line for the listing, one for the removal attempt


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a file to another user needs root")
def test_a_temp_named_file_of_another_user_is_left_alone(tmp_path: Path) -> None:
    """A regular file under our temp name that another user owns was not made by us: kept."""
    planted = tmp_path / _temp_name()
    planted.write_bytes(b"theirs")
    os.chown(planted, NOBODY, NOBODY)
    assert temp_files(tmp_path, OWNER) == []
    assert remove_files([planted], OWNER) == []
    assert planted.read_bytes() == b"theirs"


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"# HELP redis_up x\nredis_up 1\n", "not a textfile-redis file"),
        (Marker(OTHER_OWNER, "a").line().encode(), "held by another owner"),
    ],
)
def test_a_file_not_ours_under_our_name_is_never_replaced_or_removed(
    tmp_path: Path, content: bytes, reason: str
) -> None:
    """Another tool's or another owner's file under our name survives the write and removal."""
    theirs = tmp_path / "redis_a.prom"
    theirs.write_bytes(content)
    with pytest.raises(ForeignFileError, match=reason) as raised:
        write_atomic(tmp_path, theirs.name, Marker(OWNER, "a").line().encode(), OWNER)
    assert isinstance(raised.value, OSError)
    assert str(theirs) in str(raised.value)
    assert owned_files(tmp_path, OWNER) == []
    assert remove_files([theirs], OWNER) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == [theirs.name]
    assert theirs.read_bytes() == content


def _rename_over(path: Path, content: bytes) -> None:
    beside = path.with_name(".beside")
    beside.write_bytes(content)
    beside.replace(path)


@pytest.mark.parametrize(
    ("swap", "content", "reason"),
    [
        (_rename_over, Marker(OTHER_OWNER, "a").line().encode(), "held by another owner"),
        (lambda path, content: path.write_bytes(content), b"redis_up 1\n", "no marker"),
    ],
    ids=["renamed over, same size", "rewritten in place"],
)
def test_a_file_put_over_our_last_write_is_still_refused(
    tmp_path: Path, swap: Callable[[Path, bytes], object], content: bytes, reason: str
) -> None:
    """What another tool put under our name since our last write there is checked again."""
    path = tmp_path / "redis_a.prom"
    for _ in range(2):
        write_atomic(tmp_path, path.name, MARKED, OWNER)
    swap(path, content)
    with pytest.raises(ForeignFileError, match=reason):
        write_atomic(tmp_path, path.name, MARKED, OWNER)
    assert path.read_bytes() == content
    assert temp_files(tmp_path, OWNER) == []


def test_a_same_size_rewrite_in_place_of_our_last_write_is_still_refused(tmp_path: Path) -> None:
    """Inode, size and even mtime kept (rsync --inplace -t), the change time tells a rewrite."""
    if not _change_times_are_fine(tmp_path / "probe"):
        pytest.skip("this kernel's file change times are per clock tick (before Linux 6.13)")
    path = tmp_path / "redis_a.prom"
    write_atomic(tmp_path, path.name, MARKED, OWNER)
    theirs = Marker(OTHER_OWNER, "a").line().encode()
    assert len(theirs) == len(MARKED)
    ours = path.stat()
    with path.open("r+b") as file:
        file.write(theirs)
    os.utime(path, ns=(ours.st_atime_ns, ours.st_mtime_ns))
    with pytest.raises(ForeignFileError, match="held by another owner"):
        write_atomic(tmp_path, path.name, MARKED, OWNER)
    assert path.read_bytes() == theirs


def _change_times_are_fine(path: Path) -> bool:
    """Whether each of quick rewrites, each after a stat, gets a change time of its own."""
    path.write_bytes(b"0")
    times = set()
    rewrites = 20
    for _ in range(rewrites):
        times.add(path.stat().st_ctime_ns)
        path.write_bytes(b"0")
    return len(times) == rewrites


def test_our_untouched_last_write_is_replaced_without_reading_it_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The cycle's usual case costs one lstat: the file is the one we left, so its marker too."""
    write_atomic(tmp_path, "redis_a.prom", MARKED, OWNER)
    read: list[object] = []
    monkeypatch.setattr(textfile, "read_marker", read.append)
    write_atomic(tmp_path, "redis_a.prom", MARKED + b"redis_up 1\n", OWNER)
    assert read == []
    assert (tmp_path / "redis_a.prom").read_bytes() == MARKED + b"redis_up 1\n"


def _as_coarse_times_show(status: os.stat_result, field: int, value: int) -> os.stat_result:
    """The lstat with one field changed, times kept: what coarse timestamps can show."""
    fields = list(status)
    fields[field] = value
    times = {name: getattr(status, name) for name in ("st_atime_ns", "st_mtime_ns", "st_ctime_ns")}
    return os.stat_result(fields, times)


@pytest.mark.parametrize(
    ("field", "change", "read_again"),
    [(stat.ST_NLINK, 0, False), (stat.ST_NLINK, -1, True), (stat.ST_UID, 1, True)],
    ids=["as remembered", "a hard link added", "another user's"],
)
def test_our_last_write_differing_only_in_links_or_user_is_checked_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, field: int, change: int, *, read_again: bool
) -> None:
    """Where a link or a reused inode leaves the times as they were, links and user still tell."""
    path = tmp_path / "redis_a.prom"
    write_atomic(tmp_path, path.name, MARKED, OWNER)
    os.link(path, tmp_path / "elsewhere")  # moves ctime here, not always where times are coarse
    now = path.lstat()
    remembered = _as_coarse_times_show(now, field, int(now[field]) + change)
    textfile._remember(str(path), OWNER, remembered, MARKED)  # noqa: SLF001 - planted
    read: list[str | Path] = []

    def recording(where: str | Path) -> Marker | None:
        read.append(where)
        return read_marker(where)

    monkeypatch.setattr(textfile, "read_marker", recording)
    write_atomic(tmp_path, path.name, MARKED + b"redis_up 1\n", OWNER)
    assert read == ([str(path)] if read_again else [])
    assert path.read_bytes() == MARKED + b"redis_up 1\n"


@pytest.mark.parametrize(
    ("data", "writer"),
    [
        (b"# x\n", OWNER),
        (Marker(OTHER_OWNER, "a").line().encode(), OWNER),
        (Marker(OTHER_OWNER, "a").line().encode(), OTHER_OWNER),
    ],
    ids=["no marker", "another owner's marker", "another owner's write"],
)
def test_a_file_we_wrote_is_replaced_only_when_its_marker_is_ours(
    tmp_path: Path, data: bytes, writer: str
) -> None:
    """Having written a file is not ownership: its marker must still name the owner."""
    write_atomic(tmp_path, "redis_a.prom", data, writer)
    with pytest.raises(ForeignFileError):
        write_atomic(tmp_path, "redis_a.prom", MARKED, OWNER)
    assert (tmp_path / "redis_a.prom").read_bytes() == data


@pytest.mark.parametrize(
    ("kind", "described"),
    [("directory", "a directory"), ("fifo", "a FIFO"), ("symlink", "a symbolic link")],
)
def test_a_non_file_under_our_name_is_refused_by_the_write(
    tmp_path: Path, kind: str, described: str
) -> None:
    """A directory, FIFO or link (even to our own file) where we would write stays as it was."""
    ours = _ours(tmp_path, "redis_ours.prom")
    destination = _ours(tmp_path)  # our last write there does not vouch for what replaced it
    destination.unlink()
    _plant(destination, kind, ours)
    mode = destination.lstat().st_mode
    with pytest.raises(ForeignFileError, match=f"is {described}, not a textfile-redis file"):
        _finishes_promptly(lambda: write_atomic(tmp_path, destination.name, MARKED, OWNER), [])
    assert destination.lstat().st_mode == mode
    assert ours.read_bytes().startswith(Marker(OWNER, ours.name).line().encode())
    assert temp_files(tmp_path, OWNER) == []


def test_removal_checks_the_marker_again_right_before_unlinking(tmp_path: Path) -> None:
    """A file listed as ours, then replaced by another tool's under the same name, is kept."""
    listed = [*owned_files(tmp_path, OWNER), _ours(tmp_path)]
    assert owned_files(tmp_path, OWNER) == listed
    listed[0].write_bytes(b"# HELP redis_up another tool's\n")
    assert remove_files(listed, OWNER) == []
    assert listed[0].read_bytes() == b"# HELP redis_up another tool's\n"


@pytest.fixture
def read_only_with_ours(tmp_path: Path) -> Iterator[Path]:
    """A tmpfs holding one of our files and one of our temp files, then made read-only."""
    mount_point = tmp_path / "ro"
    mount_point.mkdir()
    _mount(["-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount_point)])
    _ours(mount_point)
    (mount_point / _temp_name()).write_bytes(b"")
    _mount(["-o", "remount,ro", str(mount_point)])
    yield mount_point
    subprocess.run(["umount", str(mount_point)], check=True)


def test_removal_in_a_read_only_directory_logs_each_file_and_returns(
    read_only_with_ours: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Files that cannot be removed are logged one line each, naming file and reason; no raise."""
    leftovers = owned_files(read_only_with_ours, OWNER) + temp_files(read_only_with_ours, OWNER)
    assert len(leftovers) == 2  # the file and the temp file
    with caplog.at_level(logging.WARNING, logger="textfile_redis.textfile"):
        assert remove_files(leftovers, OWNER) == []
    messages = [record.getMessage() for record in caplog.records]
    assert len(messages) == len(leftovers)
    for path, message in zip(leftovers, messages, strict=True):
        assert str(path) in message
        assert "Read-only file system" in message
    assert all(path.exists() for path in leftovers)


@pytest.mark.timeout(4 * DEADLINE)  # a FIFO opened for reading would hang: fail, not wait
def test_cleanup_exits_0_past_entries_it_must_not_touch(tmp_path: Path) -> None:
    """`cleanup` removes our file and exits 0 beside a directory and a FIFO under our names."""
    textfile_dir = tmp_path / "textfile"
    textfile_dir.mkdir()
    config_path = tmp_path / "config.toml"
    config_path.write_text(f'textfile_dir = "{textfile_dir}"\n')
    owner = load_config(Overrides(config_path=config_path), {}, allow_no_targets=True).owner
    _ours(textfile_dir, owner=owner)
    (textfile_dir / _temp_name(owner)).mkdir()
    os.mkfifo(textfile_dir / "redis_x.prom")
    result = run_cli("cleanup", "--config", str(config_path))
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert sorted(p.name for p in textfile_dir.iterdir()) == [_temp_name(owner), "redis_x.prom"]

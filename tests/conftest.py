"""Fixtures that start real Redis, Valkey and node_exporter processes and always stop them."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

import pytest

from tests.support.cluster import Sentinel, start_cluster, start_sentinel
from tests.support.consumers import NodeExporter
from tests.support.servers import KINDS, RedisServer, ServerKind, binary_for, kind_named, populate
from tests.support.tools import require

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence
    from pathlib import Path


@pytest.fixture(scope="session", params=KINDS, ids=[kind.name for kind in KINDS])
def server_kind(request: pytest.FixtureRequest) -> ServerKind:
    """Return each server version under test in turn; skip it if absent (fail it on CI).

    A test may narrow the versions with `@pytest.mark.parametrize("server_kind", ["redis-7.0"],
    indirect=True)`.
    """
    kind = kind_named(request.param) if isinstance(request.param, str) else request.param
    require(binary_for(kind), f"no {kind.name} binary here; install {kind.installed_by}")
    return kind


@pytest.fixture(scope="session")
def server(
    server_kind: ServerKind, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RedisServer]:
    """Yield a populated server of each kind, shared by the session: tests only read it."""
    with RedisServer.start(server_kind, tmp_path_factory.mktemp(server_kind.name)) as started:
        populate(started.client())
        yield started


@pytest.fixture(scope="session")
def replica_pair(
    server_kind: ServerKind, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[RedisServer, RedisServer]]:
    """Yield a populated primary of each kind and a replica whose link to it is up."""
    workdir = tmp_path_factory.mktemp(f"{server_kind.name}-pair")
    with RedisServer.start(server_kind, workdir / "primary") as primary:
        populate(primary.client())
        with RedisServer.start(server_kind, workdir / "replica", replica_of=primary) as replica:
            yield primary, replica


@pytest.fixture
def server_factory(
    server_kind: ServerKind, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[..., RedisServer]]:
    """Yield a starter of empty servers of each kind (RedisServer.start's options); stops all."""
    with contextlib.ExitStack() as running:

        def start(
            *,
            extra_args: Sequence[str] = (),
            replica_of: RedisServer | None = None,
            password: str | None = None,
            unixsocket: bool = False,
        ) -> RedisServer:
            server = RedisServer.start(
                server_kind,
                tmp_path_factory.mktemp(server_kind.name),
                extra_args=extra_args,
                replica_of=replica_of,
                password=password,
                unixsocket=unixsocket,
            )
            return running.enter_context(server)

        yield start


@pytest.fixture(scope="module")
def cluster(
    server_kind: ServerKind, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[list[RedisServer]]:
    """Yield a three-primary cluster of each kind, all slots assigned and cluster_state:ok."""
    nodes = start_cluster(server_kind, tmp_path_factory.mktemp(f"{server_kind.name}-cluster"))
    with contextlib.ExitStack() as running:
        for node in nodes:
            running.enter_context(node)
        yield nodes


@pytest.fixture
def sentinel_factory(
    server_kind: ServerKind, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[..., Sentinel]]:
    """Yield a starter of sentinels of each kind watching a given primary; stops all."""
    with contextlib.ExitStack() as running:

        def start(primary: RedisServer, master_name: str = "mymaster") -> Sentinel:
            workdir = tmp_path_factory.mktemp(f"{server_kind.name}-sentinel")
            sentinel = start_sentinel(server_kind, workdir, primary, master_name)
            return running.enter_context(sentinel)

        yield start


@pytest.fixture
def node_exporter_factory(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Callable[[Path], NodeExporter]]:
    """Yield a starter of node_exporters reading a given textfile directory; stops all."""
    with contextlib.ExitStack() as running:

        def start(textfile_dir: Path) -> NodeExporter:
            workdir = tmp_path_factory.mktemp("node_exporter")
            return running.enter_context(NodeExporter.start(textfile_dir, workdir))

        yield start


@pytest.fixture
def textfile_dir(tmp_path: Path) -> Path:
    """Return a fresh, empty textfile directory."""
    directory = tmp_path / "textfile"
    directory.mkdir()
    return directory

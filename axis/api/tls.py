"""TLS for `axis serve`: which listeners need it, and a certificate/key pair checked up front.

Every request carries the bearer token, and the token can change every host. Over plain HTTP on
a non-loopback address anyone on the path reads it, so such a listener needs TLS unless the user
says `--insecure-http` (a VPN or SSH tunnel already encrypts, say). The pair is loaded here,
before uvicorn, so that a missing file, a file that holds no PEM, a key of another certificate or
a key with a passphrase is one line naming the option and the file, not a traceback from the
middle of uvicorn's start-up (and an encrypted key never stops an unattended start at a prompt).
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path

from axis.app.context import AppError

#: The most of a certificate or key file read to check it (a PEM chain is a few KiB).
_MAX_PEM = 1 << 20
#: OpenSSL's reasons for a key that is not the certificate's: same type but another key, or a
#: key of another type (an RSA key for an EC certificate) that fills no certificate's slot.
_NOT_ITS_KEY = frozenset({"KEY_VALUES_MISMATCH", "NO_CERTIFICATE_ASSIGNED"})


@dataclass(frozen=True)
class TlsFiles:
    """A certificate chain and its private key (PEM), checked to load together."""

    cert: Path
    key: Path


def tls_files(cert: Path | None, key: Path | None) -> TlsFiles | None:
    """The pair to serve with, None without TLS; AppError (one line) when they cannot be used."""
    if cert is None and key is None:
        return None
    if cert is None or key is None:
        given, missing = ("--tls-cert", "--tls-key") if key is None else ("--tls-key", "--tls-cert")
        raise AppError(f"{given} needs {missing} too: pass the certificate chain and its private key (PEM files)")
    _read_pem("--tls-cert", cert, b"CERTIFICATE-----", "no -----BEGIN CERTIFICATE----- block in it")
    key_text = _read_pem("--tls-key", key, b"PRIVATE KEY-----", "no -----BEGIN ... PRIVATE KEY----- block in it")
    if b"ENCRYPTED" in key_text:
        raise AppError(f"--tls-key {key}: the key has a passphrase, which a server cannot ask for; "
                       f"give it an unencrypted copy readable only by you (`openssl pkey -in KEY -out NEW`)")
    try:  # password b"": an encrypted key would fail here instead of prompting on the terminal
        ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_cert_chain(cert, key, password=b"")
    except ssl.SSLError as exc:
        why = ("the key does not belong to the certificate" if exc.reason in _NOT_ITS_KEY
               else f"OpenSSL cannot load them ({exc.reason or exc})")
        raise AppError(f"--tls-cert {cert} with --tls-key {key}: {why}") from exc
    return TlsFiles(cert, key)


def refuse_clear_text(listen: str, *, loopback: bool, tls: TlsFiles | None, insecure_http: bool) -> None:
    """A non-loopback listener without TLS is refused unless `--insecure-http` says so."""
    if tls is not None and insecure_http:
        raise AppError("--insecure-http with --tls-cert/--tls-key: choose one (TLS, or plain HTTP knowingly)")
    if not loopback and tls is None and not insecure_http:
        raise AppError(f"refusing to serve {listen} over plain HTTP: the bearer token would cross the network "
                       f"readable; pass --tls-cert FILE --tls-key FILE, or --insecure-http if the network is "
                       f"already encrypted")


def _read_pem(option: str, path: Path, marker: bytes, missing: str) -> bytes:
    """The file's first MiB; AppError when it cannot be read or lacks the PEM block."""
    try:
        with path.open("rb") as f:
            text = f.read(_MAX_PEM)
    except OSError as exc:
        raise AppError(f"{option} {path}: {exc.strerror or exc}") from exc
    if marker not in text:
        raise AppError(f"{option} {path}: {missing}")
    return text

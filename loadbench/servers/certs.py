"""A throwaway certificate authority and a server certificate for 127.0.0.1 / localhost, made at run time.

`serve --tls` and `tls = true` servers get a fresh CA per start (trustme, on cryptography), written into
the server's private run directory (0700, removed when the server stops): the CA file for clients to
trust, the server's certificate chain and its private key. Nothing is ever installed in a trust store;
`loadbench run` passes the CA file to its own engine, so it needs no --insecure.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

from loadbench.errors import ServerUnavailableError

INSTALL_HINT = "pip install 'loadbench[http2]' (or pip install trustme)"


@dataclass(frozen=True, slots=True, kw_only=True)
class TlsFiles:
    """PEM files of one throwaway certificate: `ca` (what clients trust), `cert` (chain) and `key`."""

    ca: Path
    cert: Path
    key: Path


def tls_unavailable() -> str | None:
    """Why no certificate can be made here (with the install command), or None."""
    if importlib.util.find_spec("trustme") is None:
        return f"TLS needs a throwaway certificate authority: {INSTALL_HINT}"
    return None


def make_certificate(directory: Path) -> TlsFiles:
    """Write a fresh CA and a certificate for 127.0.0.1, ::1 and localhost into `directory`."""
    why_not = tls_unavailable()
    if why_not is not None:
        raise ServerUnavailableError(why_not)
    import trustme

    ca = trustme.CA(organization_name="loadbench throwaway CA")
    issued = ca.issue_cert("127.0.0.1", "::1", "localhost")
    files = TlsFiles(ca=directory / "ca.pem", cert=directory / "cert.pem", key=directory / "key.pem")
    ca.cert_pem.write_to_path(str(files.ca))
    issued.private_key_pem.write_to_path(str(files.key))
    files.key.chmod(0o600)
    with files.cert.open("wb") as chain:
        for pem in issued.cert_chain_pems:
            chain.write(pem.bytes())
    return files

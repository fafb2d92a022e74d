"""TLS on the client side, the same for every engine: the SSL context, and one handshake before any load.

`client_context` builds the context of an https run from DriveOptions: verification against the system's
trust store (or `cacert`), or none with `insecure`. `check_handshake` opens one connection and completes
one handshake before the run, so a certificate that does not verify (or a server that speaks no TLS) is
one clear error naming the fix, not a run of a hundred thousand identical "protocol" errors.
"""

from __future__ import annotations

import socket
import ssl
from pathlib import Path
from time import perf_counter_ns

from loadbench.errors import EngineError, UsageError
from loadbench.types import DriveOptions, Target

__all__ = ["check_handshake", "client_context"]


def client_context(options: DriveOptions, *, alpn: tuple[str, ...] = ("http/1.1",)) -> ssl.SSLContext:
    """The client SSL context of an https run: verifying (system store or options.cacert) unless insecure.

    `alpn` lists the protocols offered (HTTP/2 clients offer "h2" first). UsageError for an unreadable
    or invalid cacert file.
    """
    context = ssl.create_default_context()
    if options.cacert:
        path = Path(options.cacert)
        if not path.is_file():
            raise UsageError(f"--cacert {options.cacert}: no such file; give a PEM file of CA certificates")
        try:
            context.load_verify_locations(cafile=str(path))
        except ssl.SSLError as exc:
            raise UsageError(f"--cacert {options.cacert}: not a PEM file of CA certificates ({exc})") from exc
    if options.insecure:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    context.set_alpn_protocols(list(alpn))
    return context


def check_handshake(
    target: Target, context: ssl.SSLContext, *, timeout_s: float, address: tuple[str, int] | None = None
) -> tuple[float, str | None]:
    """One TCP connect and TLS handshake to `target`: (handshake ms, the ALPN protocol chosen).

    Raises EngineError with one line saying what failed and how to fix it: a certificate that does not
    verify (--cacert FILE, or --insecure), a server that does not speak TLS, or no connection at all.
    """
    host, port = address or (target.host, target.port)
    where = target.base_url
    try:
        with socket.create_connection((host, port), timeout=timeout_s) as raw:
            t0 = perf_counter_ns()
            with context.wrap_socket(raw, server_hostname=target.host) as tls:
                return (perf_counter_ns() - t0) / 1e6, tls.selected_alpn_protocol()
    except ssl.SSLCertVerificationError as exc:
        reason = exc.verify_message or exc.reason or str(exc)
        raise EngineError(
            f"TLS: the certificate of {where} does not verify ({reason}); trust its CA with --cacert FILE, "
            "or pass --insecure to skip verification (self-signed certificates)"
        ) from None
    except ssl.SSLError as exc:
        raise EngineError(
            f"TLS: no handshake with {where} ({exc.reason or exc}); is the server speaking TLS on that "
            "port? use http:// for a plain one"
        ) from None
    except OSError as exc:
        raise EngineError(f"cannot connect to {where} for the TLS check: {exc.strerror or exc}") from None

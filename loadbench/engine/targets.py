"""Turn a URL into a Target and a request path, and refuse non-loopback targets before any lookup.

The loopback check looks only at the text of the host: `localhost`, literal addresses in 127.0.0.0/8,
and ::1 (also IPv4-mapped ::ffff:127.x.y.z). `*.localhost` names count as loopback names
(`is_loopback_host`) but `check_target` refuses them as targets, since the resolver could map them
anywhere. No name is resolved and no socket is opened here, so a refused target never touches the
network.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from loadbench.errors import TargetRefusedError, UsageError
from loadbench.types import Target


def is_loopback_host(host: str) -> bool:
    """True when `host` (no brackets) is localhost or a loopback address literal; never resolves."""
    name = host.strip().rstrip(".").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(name.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


def check_target(target: Target, *, allow_remote: bool) -> None:
    """Raise TargetRefusedError unless the target is loopback or `allow_remote` is set.

    A `*.localhost` name is refused too, before any lookup: it is a loopback *name* (RFC 6761), but the
    engines resolve names through the system's resolver, which may ask DNS and connect to whatever
    address comes back, unchecked. `localhost` itself (the hosts file's entry) and loopback literals are
    what loadbench connects to; a virtual host name goes in the Host header instead.
    """
    if allow_remote:
        return
    name = target.host.strip().rstrip(".").lower()
    if name.endswith(".localhost"):
        raise TargetRefusedError(
            f"target {target.base_url}: a *.localhost name may be resolved through DNS to any address, "
            f"so it is refused before any lookup; connect to 127.0.0.1 (or localhost) and send the name "
            f"as the Host header (-H 'Host: {target.host}'), or pass --allow-remote"
        )
    if is_loopback_host(target.host):
        return
    raise TargetRefusedError(
        f"target {target.base_url} is not a loopback address (localhost, 127.0.0.0/8 or ::1); "
        "loadbench sends load only to this machine unless you pass --allow-remote "
        "(use it only against servers you own)"
    )


def parse_url(url: str) -> tuple[Target, str]:
    """Split `url` into a Target and the request path with its query (default "/").

    Raises UsageError for a missing host, a scheme other than http/https, or a bad port.
    """
    text = url.strip()
    if "://" not in text:
        raise UsageError(f"URL {url!r} has no scheme; write it like http://127.0.0.1:8000/path")
    try:
        parts = urlsplit(text)
        parts.hostname  # noqa: B018 - urlsplit checks a bracketed IPv6 host only when it is read
    except ValueError as exc:
        hint = "write it like http://127.0.0.1:8000/path"
        raise UsageError(f"URL {url!r} is not a valid URL ({exc}); {hint}") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise UsageError(f"URL {url!r}: scheme {parts.scheme!r} is not supported; use http:// (or https://)")
    host = parts.hostname
    if not host:
        raise UsageError(f"URL {url!r} has no host; write it like http://127.0.0.1:8000/path")
    try:
        port = parts.port
    except ValueError as exc:
        raise UsageError(f"URL {url!r}: the port is not a number from 1 to 65535") from exc
    if port == 0:
        raise UsageError(f"URL {url!r}: port 0 cannot be connected to; give the server's port")
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    target = Target(scheme=scheme, host=host, port=port or (443 if scheme == "https" else 80))  # type: ignore[arg-type]
    return target, path

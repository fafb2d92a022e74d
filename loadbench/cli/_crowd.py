"""`bench`'s idle and slow clients: the options into a Crowd, and the lines saying what the server did."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from loadbench.types import Crowd

__all__ = ["crowd_from_options", "crowd_suffix", "crowd_text"]


def crowd_from_options(idle: str, idle_mode: str, trickle_interval: str, idle_path: str | None,
                       slow_readers: str, read_rate: str, slow_path: str) -> Crowd | None:  # fmt: skip
    """The idle/slow clients asked for (None: none)."""
    from loadbench.errors import UsageError
    from loadbench.types import Crowd
    from loadbench.units import parse_byte_rate, parse_count, parse_duration

    for name, value in (("--idle-path", idle_path), ("--slow-path", slow_path)):
        if value is not None and not value.startswith("/"):
            raise UsageError(f"{name} {value!r}: must start with / (the URL's host and port are used)")
    interval = parse_duration(trickle_interval, what="--trickle-interval")
    if interval <= 0:
        raise UsageError(f"--trickle-interval {trickle_interval}: must be longer than 0 s")
    crowd = Crowd(
        idle=parse_count(idle, what="--idle"), idle_mode=idle_mode,  # type: ignore[arg-type]
        trickle_interval_s=interval, idle_path=idle_path,
        slow_readers=parse_count(slow_readers, what="--slow-readers"),
        read_rate_bps=parse_byte_rate(read_rate, what="--read-rate"), slow_path=slow_path,
    )  # fmt: skip
    return crowd if crowd.connections else None


def crowd_suffix(crowd: Any) -> str:
    """The load label's suffix for a bench record with idle/slow clients (Crowd.label)."""
    from loadbench.types import Crowd

    if not crowd:
        return ""
    return Crowd(idle=crowd.get("idle", 0), idle_mode=crowd.get("idle_mode", "keepalive"),
                 slow_readers=crowd.get("slow_readers", 0)).label  # fmt: skip


def crowd_text(crowd: Any) -> str:
    """Lines saying what the server did with the idle and slow clients."""
    lines = []

    def failed(counts: dict[str, int]) -> str:
        return ", ".join(f"{k} {v:,}" for k, v in sorted(counts.items()) if v) or "none"

    if crowd.get("idle"):
        mode = crowd.get("idle_mode", "keepalive")
        extra = f" every {crowd['trickle_interval_s']:g} s" if mode == "trickle" else ""
        waiting = (f", {crowd['idle_waiting_end']:,} still waiting for their response"
                   if crowd.get("idle_waiting_end") else "")  # fmt: skip
        lines.append(f"idle       {crowd['idle']:,} {mode}{extra} ({crowd.get('idle_path')}): held "
                     f"{crowd['idle_held_start']:,} at the start, {crowd['idle_held_end']:,} at the end"
                     f"{waiting}; lost: {failed(crowd.get('idle_failed', {}))}")  # fmt: skip
    if crowd.get("slow_readers"):
        rate = crowd.get("slow_read_rate_bps_max")
        lines.append(f"slow       {crowd['slow_readers']:,} readers of {crowd['slow_path']} at "
                     f"{crowd['read_rate_bps']:,.0f} B/s each: held {crowd['slow_held_start']:,} at the "
                     f"start, {crowd['slow_held_end']:,} at the end; read {crowd['slow_bytes_read']:,} bytes "
                     "(fastest "
                     f"{'–' if rate is None else f'{rate:,.0f}'} B/s); lost: "
                     f"{failed(crowd.get('slow_failed', {}))}")  # fmt: skip
    if crowd.get("source_addresses", 1) > 1:
        lines.append(f"           spread over {crowd['source_addresses']} source addresses (127.0.0.1-"
                     f"{crowd['source_addresses']})")
    return "\n".join(lines)

"""Which local addresses aiortc offers as ICE host candidates.

aioice gathers every interface address except 127.0.0.1. A server that must keep media on
chosen interfaces (tests on loopback, a host with a private and a public interface) restricts
the list here. aioice exposes no per-connection setting, so this is process-wide: it wraps
aioice's own gatherer once and reads the allowed list on every gathering.
"""

from __future__ import annotations

import aioice.ice

_original = aioice.ice.get_host_addresses
_allowed: list[str] | None = None


def _host_addresses(use_ipv4: bool, use_ipv6: bool) -> list[str]:
    if _allowed is None:
        return _original(use_ipv4, use_ipv6)
    return [a for a in _allowed if (":" in a and use_ipv6) or (":" not in a and use_ipv4)]


def restrict_host_addresses(addresses: list[str] | None) -> None:
    """Offer only these addresses (None: every interface, aioice's default)."""
    global _allowed
    _allowed = list(addresses) if addresses else None
    aioice.ice.get_host_addresses = _host_addresses

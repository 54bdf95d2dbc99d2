"""Whether a host name or address is this machine's loopback (the CLI's and Ray's checks)."""

from __future__ import annotations

import ipaddress

__all__ = ["is_loopback_host"]


def is_loopback_host(host: str) -> bool:
    """``localhost``, ``127.x.x.x`` or ``::1``; a name that is no address is not loopback."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False

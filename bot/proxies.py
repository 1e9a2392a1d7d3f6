"""Who is behind a request, for login throttling, rate limits and the audit log (the dashboard and the chat channels).

Behind a reverse proxy every request comes from the proxy's address. X-Forwarded-For is
believed only when the request comes from a configured proxy (TRUSTED_PROXIES), and only
as far as trusted proxies wrote it: each proxy appends the address it was called from, so
the right-most address that is not a trusted proxy is the client. Whatever stands left of
it the client wrote itself.
"""

from __future__ import annotations

from ipaddress import IPv4Network, IPv6Network, ip_address
from typing import Iterable, Sequence

Networks = Sequence[IPv4Network | IPv6Network]
LONGEST = 64  # an IPv6 address with a zone fits; a forged entry is cut short


def _trusted(address: str, proxies: Networks) -> bool:
    try:
        ip = ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in proxies)


def client_address(remote_addr: str | None, forwarded_for: Iterable[str], proxies: Networks) -> str:
    """The client's address: the peer's own unless the peer is a trusted proxy, then the right-most untrusted forwarded one."""
    chain = [hop.strip() for header in forwarded_for for hop in header.split(",") if hop.strip()]
    chain.append(remote_addr or "unknown")
    for address in reversed(chain):
        if not _trusted(address, proxies):
            return address[:LONGEST]
    return chain[0][:LONGEST]  # every hop is a proxy of ours: the request began inside

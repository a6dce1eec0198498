"""Who is calling: the client's address behind trusted reverse proxies, and whether it is in an
allow-list.

X-Forwarded-For is a header anybody can write, so it is read only when the direct peer is a
trusted proxy (`[server] trusted_proxies`), and then from the right: each proxy appends the
address it received the request from, so the nearest entry that is not itself a trusted proxy is
the client. Whatever a client wrote into the header itself stays at the left and is never
reached. (werkzeug's ProxyFix instead trusts a fixed number of hops from any peer.)
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network

Address = IPv4Address | IPv6Address
Network = IPv4Network | IPv6Network


@lru_cache(maxsize=16)
def networks(cidrs: tuple[str, ...]) -> tuple[Network, ...]:
    """The configured CIDRs, parsed once (the configuration has checked them)."""
    return tuple(ip_network(cidr.strip(), strict=False) for cidr in cidrs)


def parse_address(text: str | None) -> Address | None:
    """An address as a peer or a proxy writes it ("203.0.113.7", "203.0.113.7:5000",
    "[2001:db8::1]:443", "::ffff:203.0.113.7"); None when it is none."""
    text = (text or "").strip()
    if text.startswith("[") and "]" in text:
        text = text[1:text.index("]")]
    elif text.count(":") == 1:
        text = text.partition(":")[0]
    try:
        address = ip_address(text)
    except ValueError:
        return None
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def within(address: Address, allowed: Iterable[Network]) -> bool:
    return any(address in network for network in allowed)


def client_address(peer: str | None, forwarded_for: str | None,
                   proxies: tuple[Network, ...]) -> Address | None:
    """The client's address; None when it cannot be told (an address that does not parse)."""
    address = parse_address(peer)
    if address is None or not proxies or not forwarded_for:
        return address
    hops = forwarded_for.split(",")
    while within(address, proxies) and hops:
        address = parse_address(hops.pop())
        if address is None:
            return None
    return address


def request_address() -> str:
    """The address of the client of the current request, read through the reverse proxies of
    `[server] trusted_proxies` (sign-in limits and the audit log count it; without them, behind
    a proxy every client counts as the proxy). An unreadable forwarded address counts as the
    peer's."""
    from flask import current_app, request

    proxies = networks(tuple(current_app.extensions["sms_ktp"].settings.server.trusted_proxies))
    client = client_address(request.remote_addr, request.headers.get("X-Forwarded-For"), proxies)
    return str(client) if client is not None else request.remote_addr or ""

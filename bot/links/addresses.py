"""Which addresses the bot may connect to for a stranger's link, and how names become
addresses: the fetcher resolves each name itself and checks every address it gets."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Sequence
from typing import Final

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Awaitable[Sequence[str]]]
"""Host name and port → the addresses it stands for, as strings."""
AddressPolicy = Callable[[IPAddress], bool]
"""Whether the bot may connect to an address for a user."""

_NAT64: Final = ipaddress.IPv6Network("64:ff9b::/96")


def address_allowed(ip: str | IPAddress) -> bool:
    """Whether the address is public: not loopback, private, link-local, shared (CGNAT),
    multicast, reserved, unspecified nor broadcast. An IPv6 address that carries an IPv4
    one (mapped, NAT64, 6to4) is judged by that IPv4 address too."""
    address = ipaddress.ip_address(ip)
    if isinstance(address, ipaddress.IPv4Address):
        return _public(address)
    if address.ipv4_mapped is not None:
        return _public(address.ipv4_mapped)
    if address in _NAT64:  # inside ::/8, which is reserved, though it reaches the internet
        return _public(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    if address.sixtofour is not None and not _public(address.sixtofour):
        return False
    return _public(address) and not address.is_site_local


def _public(address: IPAddress) -> bool:
    """``is_global`` leaves out most; multicast and reserved ones can be global too."""
    return address.is_global and not (address.is_multicast or address.is_reserved)


def any_address(address: IPAddress) -> bool:
    return True


async def resolve(host: str, port: int) -> list[str]:
    """The system resolver's addresses for ``host``: the fetcher's default resolver."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


def ip_literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None

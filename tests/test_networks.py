"""Network sets, the client behind trusted proxies, address keys and hosting networks: pure,
no server. Sets are checked against the stdlib's ipaddress as the reference."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ranker.core.networks import (
    NetworkSet,
    client_address,
    default_hosting_networks,
    limit_key,
    network_key,
)

_Network = ipaddress.IPv4Network | ipaddress.IPv6Network
_Address = ipaddress.IPv4Address | ipaddress.IPv6Address
_MAPPED = ipaddress.IPv6Network("::ffff:0:0/96")

# Proxies in front of the collector; readers come from the documentation ranges outside them.
PROXIES = NetworkSet.parse(["10.0.0.0/8", "127.0.0.1", "2001:db8:ffff::/48"], "test")


@pytest.mark.parametrize(
    ("peer", "forwarded_for", "client"),
    [
        # Not from a proxy: the peer, whatever the headers claim.
        ("203.0.113.9", [], "203.0.113.9"),
        ("203.0.113.9", ["10.0.0.1"], "203.0.113.9"),
        ("203.0.113.9", ["198.51.100.7, 10.0.0.2"], "203.0.113.9"),
        # From a proxy: the hop it appended.
        ("10.0.0.1", ["198.51.100.7"], "198.51.100.7"),
        ("127.0.0.1", ["198.51.100.7"], "198.51.100.7"),
        # ...and never what the client wrote to the left of it.
        ("10.0.0.1", ["1.1.1.1, 10.0.0.9, 198.51.100.7"], "198.51.100.7"),
        # Chains of proxies are skipped, right to left.
        ("10.0.0.1", ["6.6.6.6, 198.51.100.7, 10.0.0.2, 10.0.0.3"], "198.51.100.7"),
        # A proxy's own request, and a reader inside the proxies' networks.
        ("10.0.0.1", [], "10.0.0.1"),
        ("10.0.0.1", ["10.0.0.9, 10.0.0.2"], "10.0.0.9"),
        # Not an address: the walk ends at the last trusted hop.
        ("10.0.0.1", ["198.51.100.7, unknown, 10.0.0.2"], "10.0.0.2"),
        ("10.0.0.1", ["unknown"], "10.0.0.1"),
        ("10.0.0.1", ["198.51.100.7,,10.0.0.2"], "10.0.0.2"),
        ("10.0.0.1", [""], "10.0.0.1"),
        ("10.0.0.1", ["198.51.100.7, 10.0.0.2 10.0.0.3"], "10.0.0.1"),
        ("10.0.0.1", ["198.51.100.7, 10.0.0.2/8"], "10.0.0.1"),
        ("10.0.0.1", ["198.51.100.7, _hidden"], "10.0.0.1"),
        # Several header lines are one list, in order.
        ("10.0.0.1", ["6.6.6.6, 198.51.100.7", "10.0.0.2"], "198.51.100.7"),
        ("10.0.0.1", ["198.51.100.7", "203.0.113.9"], "203.0.113.9"),
        ("10.0.0.1", ["6.6.6.6", "198.51.100.7, 10.0.0.2", "10.0.0.3"], "198.51.100.7"),
        # Whitespace around entries.
        ("10.0.0.1", ["  198.51.100.7\t,  10.0.0.2 "], "198.51.100.7"),
        # Ports, as some load balancers write them.
        ("10.0.0.1", ["198.51.100.7:5678"], "198.51.100.7"),
        ("10.0.0.1", ["198.51.100.7:5678, 10.0.0.2:443"], "198.51.100.7"),
        ("10.0.0.1", ["[2001:db8:1::7]:443"], "2001:db8:1::7"),
        ("10.0.0.1", ["[2001:db8:1::7]"], "2001:db8:1::7"),
        ("10.0.0.1", ["198.51.100.7:http"], "10.0.0.1"),
        ("10.0.0.1", ["198.51.100.7:"], "10.0.0.1"),
        ("10.0.0.1", ["[198.51.100.7]:80"], "10.0.0.1"),
        ("10.0.0.1", ["[2001:db8:1::7]:"], "10.0.0.1"),
        ("10.0.0.1", ["[2001:db8:1::7"], "10.0.0.1"),
        # IPv6, normalised.
        ("2001:db8:ffff::1", ["2001:db8:1::7"], "2001:db8:1::7"),
        ("2001:db8:ffff::1", ["2001:DB8:1:0:0:0:0:7"], "2001:db8:1::7"),
        ("2001:db8:ffff::1", ["198.51.100.7, 2001:db8:ffff::2"], "198.51.100.7"),
        ("2001:db8:1::7", ["198.51.100.7"], "2001:db8:1::7"),
        ("2001:0db8:0001::0007", [], "2001:db8:1::7"),
        # IPv4-mapped IPv6 is the IPv4 address: as a peer, as a hop, trusted or not.
        ("::ffff:10.0.0.1", ["198.51.100.7"], "198.51.100.7"),
        ("::ffff:203.0.113.9", ["198.51.100.7"], "203.0.113.9"),
        ("10.0.0.1", ["::ffff:198.51.100.7"], "198.51.100.7"),
        ("10.0.0.1", ["198.51.100.7, ::ffff:10.0.0.2"], "198.51.100.7"),
        ("10.0.0.1", ["[::ffff:198.51.100.7]:443"], "198.51.100.7"),
        # No address for the peer (a Unix socket): nothing to trust.
        ("", ["198.51.100.7"], ""),
        ("unix", ["198.51.100.7"], "unix"),
    ],
)
def test_client_address(peer: str, forwarded_for: list[str], client: str) -> None:
    assert client_address(peer, forwarded_for, PROXIES) == client


def test_client_address_trusts_nobody_by_default() -> None:
    assert client_address("10.0.0.1", ["198.51.100.7"], NetworkSet()) == "10.0.0.1"


readers = st.one_of(
    st.ip_addresses(network="198.51.100.0/24"),
    st.ip_addresses(network="2001:db8:1::/48"),
)
proxies = st.one_of(st.ip_addresses(network="10.0.0.0/8"), st.just("127.0.0.1"))
junk = st.one_of(st.text(max_size=20), st.ip_addresses().map(str), proxies.map(str))


@given(
    reader=readers,
    chain=st.lists(proxies.map(str), min_size=1, max_size=4),
    forged=st.lists(junk, max_size=5),
    data=st.data(),
)
def test_client_address_is_not_the_clients_to_choose(
    reader: _Address, chain: list[str], forged: list[str], data: st.DataObject
) -> None:
    # Each proxy appends the peer it saw; the reader may have sent anything before that.
    entries = [*forged, str(reader), *chain[:-1]]
    # The same entries over one to three header lines, in order.
    cuts = data.draw(st.lists(st.integers(1, len(entries)), unique=True, max_size=2))
    bounds = [0, *sorted(cut for cut in cuts if cut < len(entries)), len(entries)]
    headers = [", ".join(entries[a:b]) for a, b in zip(bounds, bounds[1:], strict=False)]
    assert client_address(chain[-1], headers, PROXIES) == str(reader)


def _v4(value: int, prefix: int) -> ipaddress.IPv4Network:
    return ipaddress.IPv4Network((value >> (32 - prefix) << (32 - prefix), prefix))


def _v6(value: int, prefix: int) -> ipaddress.IPv6Network:
    return ipaddress.IPv6Network((value >> (128 - prefix) << (128 - prefix), prefix))


# Networks anywhere, and networks crowded into a small space so that they overlap, nest
# and touch; some IPv4 written in the mapped IPv6 form.
networks = st.one_of(
    st.builds(_v4, st.integers(0, 2**32 - 1), st.integers(0, 32)),
    st.builds(_v4, st.integers(0xC0000200, 0xC00002FF), st.integers(24, 32)),
    st.builds(_v6, st.integers(0, 2**128 - 1), st.integers(0, 128)),
    st.builds(_v6, st.integers(0x20010DB8 << 96, (0x20010DB8 << 96) + 255), st.integers(120, 128)),
    st.builds(
        _v6, st.integers(0, 2**32 - 1).map(lambda v: (0xFFFF << 32) + v), st.integers(96, 128)
    ),
)


def _normal(network: _Network) -> _Network:
    if network.version == 6 and network.subnet_of(_MAPPED):  # type: ignore[arg-type]
        first = int(network.network_address) - int(_MAPPED.network_address)
        return ipaddress.IPv4Network((first, network.prefixlen - 96))
    return network


def _reference(address: str, nets: list[_Network]) -> bool:
    parsed = ipaddress.ip_address(address)
    if isinstance(parsed, ipaddress.IPv6Address) and parsed.ipv4_mapped is not None:
        parsed = parsed.ipv4_mapped
    return any(parsed in _normal(net) for net in nets)


def _near(data: st.DataObject, nets: list[_Network]) -> str:
    """An address on, inside or just outside one of `nets`, or anywhere; sometimes an
    IPv4 one in its mapped spelling."""
    if nets and data.draw(st.booleans()):
        net = data.draw(st.sampled_from(nets))
        first, last = int(net.network_address), int(net.broadcast_address)
        value = data.draw(
            st.sampled_from([first - 1, first, last, last + 1]) | st.integers(first, last)
        )
        address: _Address = (
            ipaddress.IPv4Address(value % 2**32)
            if net.version == 4
            else ipaddress.IPv6Address(value % 2**128)
        )
    else:
        address = data.draw(st.ip_addresses())
    if isinstance(address, ipaddress.IPv4Address) and data.draw(st.booleans()):
        return f"::ffff:{address}"
    return str(address)


@given(nets=st.lists(networks, max_size=12), data=st.data())
def test_membership_is_ipaddress(nets: list[_Network], data: st.DataObject) -> None:
    found = NetworkSet(nets)
    for _ in range(8):
        address = _near(data, nets)
        assert (address in found) == _reference(address, nets), address


@given(nets=st.lists(networks, max_size=12))
def test_len_is_the_collapsed_networks(nets: list[_Network]) -> None:
    normal = [_normal(net) for net in nets]
    v4 = [n for n in normal if isinstance(n, ipaddress.IPv4Network)]
    v6 = [n for n in normal if isinstance(n, ipaddress.IPv6Network)]
    collapsed = len(list(ipaddress.collapse_addresses(v4))) + len(
        list(ipaddress.collapse_addresses(v6))
    )
    assert len(NetworkSet(nets)) == collapsed
    assert bool(NetworkSet(nets)) == bool(nets)


@given(a=st.lists(networks, max_size=8), b=st.lists(networks, max_size=8), data=st.data())
def test_union_and_difference(a: list[_Network], b: list[_Network], data: st.DataObject) -> None:
    first, second = NetworkSet(a), NetworkSet(b)
    union, difference = first | second, first - second
    for _ in range(8):
        address = _near(data, a + b)
        assert (address in union) == (_reference(address, a) or _reference(address, b))
        assert (address in difference) == (_reference(address, a) and not _reference(address, b))


def test_membership_of_text_that_is_no_address() -> None:
    every = NetworkSet.parse(["0.0.0.0/0", "::/0"], "test")
    for text in ["", "unknown", "10.0.0.1:80", " 10.0.0.1", "10.0.0.1/32", "010.0.0.1", "1" * 100]:
        assert text not in every
    assert "10.0.0.1" in every and "::1" in every


def test_parse() -> None:
    networks = NetworkSet.parse(["10.0.0.0/8", "192.0.2.1", " 2001:db8::/32 "], "x")
    assert "10.255.0.1" in networks and "192.0.2.1" in networks and "2001:db8:5::1" in networks
    assert "192.0.2.2" not in networks and "11.0.0.0" not in networks
    assert len(networks) == 3
    # Host bits are dropped, as nginx's set_real_ip_from does.
    assert "192.0.2.200" in NetworkSet.parse(["192.0.2.7/24"], "x")


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (["10.0.0.0/8", "10.0.0.0/33"], r"^collector\.trusted_proxies\[1\]: '10\.0\.0\.0/33' is"),
        (["proxy.example"], r"^collector\.trusted_proxies\[0\]: 'proxy\.example' is not an IP"),
        ([""], r"\[0\]: '' is not"),
        ([8], r"\[0\]: 8 is not"),
        ("10.0.0.0/8", r"^collector\.trusted_proxies: expected a list of networks, got the"),
    ],
)
def test_parse_errors(values: list[str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        NetworkSet.parse(values, "collector.trusted_proxies")


def test_empty() -> None:
    assert not NetworkSet() and len(NetworkSet()) == 0 and "10.0.0.1" not in NetworkSet()
    assert NetworkSet.parse(["10.0.0.0/9", "10.128.0.0/9"], "x")
    assert len(NetworkSet.parse(["10.0.0.0/9", "10.128.0.0/9", "10.1.0.0/16"], "x")) == 1


def test_from_files(tmp_path: Path) -> None:
    first = tmp_path / "cloud.txt"
    first.write_text(
        "# Hosting networks\n\n10.0.0.0/8\n  192.0.2.0/24   # a comment after the network\n"
        "\t\n2001:db8::/32\n",
        encoding="utf-8",
    )
    second = tmp_path / "more.txt"
    second.write_text("198.51.100.7\n", encoding="utf-8")
    networks = NetworkSet.from_files([first, str(second)])
    assert len(networks) == 4
    for address in ("10.1.2.3", "192.0.2.9", "2001:db8::1", "198.51.100.7"):
        assert address in networks
    assert "198.51.100.8" not in networks
    assert not NetworkSet.from_files([])


def test_from_files_errors(tmp_path: Path) -> None:
    good = tmp_path / "good.txt"
    good.write_text("10.0.0.0/8\n", encoding="utf-8")
    bad = tmp_path / "bad.txt"
    bad.write_text("# fine\n192.0.2.0/24\n192.0.2.0/24 extra\n", encoding="utf-8")
    with pytest.raises(ValueError, match=rf"^{bad}:3: '192\.0\.2\.0/24 extra' is not an IP"):
        NetworkSet.from_files([good, bad])
    with pytest.raises(FileNotFoundError):
        NetworkSet.from_files([tmp_path / "missing.txt"])


@pytest.mark.parametrize(
    ("address", "limit", "network"),
    [
        ("203.0.113.7", "203.0.113.7", "203.0.113.0/24"),
        ("0.0.0.0", "0.0.0.0", "0.0.0.0/24"),
        ("255.255.255.255", "255.255.255.255", "255.255.255.0/24"),
        ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64", "2001:db8:1::/48"),
        ("2001:DB8:0001:0002::1", "2001:db8:1:2::/64", "2001:db8:1::/48"),
        ("::1", "::/64", "::/48"),
        ("::ffff:203.0.113.7", "203.0.113.7", "203.0.113.0/24"),
        ("unknown", "unknown", "unknown"),
        ("", "", ""),
        ("203.0.113.7:80", "203.0.113.7:80", "203.0.113.7:80"),
        ("x" * 100, "x" * 100, "x" * 100),
    ],
)
def test_keys(address: str, limit: str, network: str) -> None:
    assert limit_key(address) == limit
    assert network_key(address) == network


def _reference_key(text: str, v4: int, v6: int) -> str:
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return text
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address.version == 4 and v4 == 32:
        return str(address)
    prefix = v4 if address.version == 4 else v6
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))


texts = st.one_of(
    st.text(alphabet="0123456789abcdefABCDEF.:%x ", max_size=45),
    st.ip_addresses().map(str),
    st.ip_addresses(v=4).map(lambda a: f"::ffff:{a}"),
)


@given(text=texts)
def test_keys_agree_with_ipaddress(text: str) -> None:
    assert limit_key(text) == _reference_key(text, 32, 64)
    assert network_key(text) == _reference_key(text, 24, 48)


def test_default_hosting_networks() -> None:
    hosting = default_hosting_networks()
    assert hosting is default_hosting_networks()  # loaded once
    assert len(hosting) > 1000
    for cloud in (
        "18.204.0.1",  # AWS EC2, us-east-1
        "2600:1f18::1",  # AWS, us-east-1
        "104.154.128.1",  # Google Cloud, us-central1
        "20.42.0.1",  # Azure
        "159.203.0.1",  # DigitalOcean
        "129.146.0.1",  # Oracle Cloud
    ):
        assert cloud in hosting, cloud
    for reader_or_edge in (
        "127.0.0.1",
        "192.168.1.20",
        "198.51.100.7",  # documentation: a home connection for this test's purposes
        "2001:db8::1",
        "13.32.0.1",  # CloudFront, though inside AWS's catch-all list
        "104.16.0.1",  # Cloudflare: WARP and iCloud Private Relay readers
        "2606:4700::1",  # Cloudflare
        "8.8.8.8",  # Google, not Google Cloud
    ):
        assert reader_or_edge not in hosting, reader_or_edge

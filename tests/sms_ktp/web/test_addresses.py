"""The caller's address behind reverse proxies: X-Forwarded-For is believed only from a trusted
proxy, and read from the right, so a client can never choose the address it is checked as."""

from __future__ import annotations

from ipaddress import ip_address

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sms_ktp.web.addresses import client_address, networks, parse_address, within

PROXIES = networks(("127.0.0.1/32", "10.0.0.0/8", "fd00::/8"))


@pytest.mark.parametrize(("text", "expected"), [
    ("203.0.113.7", "203.0.113.7"), (" 203.0.113.7 ", "203.0.113.7"),
    ("203.0.113.7:5000", "203.0.113.7"), ("2001:db8::1", "2001:db8::1"),
    ("[2001:db8::1]:443", "2001:db8::1"), ("::ffff:203.0.113.7", "203.0.113.7"),
    ("", None), (None, None), ("unknown", None), ("203.0.113.999", None),
    ("203.0.113.7, 10.0.0.1", None), ("[2001:db8::1", None),
])
def test_addresses_are_read_as_proxies_and_servers_write_them(text, expected):
    found = parse_address(text)
    assert (str(found) if found is not None else None) == expected


def test_without_trusted_proxies_the_header_is_ignored():
    assert str(client_address("198.51.100.1", "203.0.113.7", ())) == "198.51.100.1"


def test_from_an_untrusted_peer_the_header_is_ignored():
    assert str(client_address("198.51.100.1", "203.0.113.7", PROXIES)) == "198.51.100.1"


def test_through_trusted_proxies_the_nearest_untrusted_address_is_the_client():
    assert str(client_address("127.0.0.1", "203.0.113.7", PROXIES)) == "203.0.113.7"
    assert str(client_address("127.0.0.1", "198.51.100.66, 203.0.113.7, 10.2.3.4",
                              PROXIES)) == "203.0.113.7"
    assert str(client_address("::1", "203.0.113.7", networks(("::1/128",)))) == "203.0.113.7"


def test_a_trusted_proxy_with_nothing_forwarded_is_itself_the_caller():
    assert str(client_address("127.0.0.1", None, PROXIES)) == "127.0.0.1"
    assert str(client_address("127.0.0.1", "10.0.0.1, 10.0.0.2", PROXIES)) == "10.0.0.1"


def test_an_unreadable_hop_makes_the_caller_unknown():
    assert client_address("127.0.0.1", "203.0.113.7, junk", PROXIES) is None
    assert client_address("127.0.0.1", "", PROXIES) is not None  # no header at all
    assert client_address("", "203.0.113.7", PROXIES) is None  # e.g. a Unix socket


def test_allow_lists_hold_both_address_families():
    allowed = networks(("203.0.113.0/24", "2001:db8::/32"))
    assert within(ip_address("203.0.113.200"), allowed)
    assert within(ip_address("2001:db8:1::5"), allowed)
    assert not within(ip_address("203.0.114.1"), allowed)
    mapped = parse_address("::ffff:203.0.113.1")  # an IPv4 peer on a dual-stack socket
    assert mapped is not None and within(mapped, allowed)


public = st.ip_addresses(v=4).filter(lambda a: not within(a, PROXIES)).map(str)
trusted = st.sampled_from(["127.0.0.1", "10.0.0.1", "10.20.30.40", "fd00::1"])


@given(written=st.lists(public | st.text(max_size=20), max_size=4), real=public,
       hops=st.lists(trusted, max_size=3), peer=trusted)
def test_a_client_never_chooses_the_address_it_is_checked_as(written, real, hops, peer):
    """Whatever the client wrote into the header itself, the proxies appended the real address
    (and their own) after it: the real one is found."""
    header = ", ".join([*written, real, *hops])
    assert str(client_address(peer, header, PROXIES)) == real


@given(peer=public, header=st.text(max_size=60))
def test_an_untrusted_peer_is_checked_as_itself_whatever_it_sends(peer, header):
    assert str(client_address(peer, header, PROXIES)) == peer

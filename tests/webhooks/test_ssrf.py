"""SSRF guard: URL parsing the way browsers and curl do, and the address policy."""

from __future__ import annotations

import ipaddress

import pytest

from riskdrift.errors import (
    CallbackResolutionError,
    InvalidRequest,
    PermanentError,
    TransientError,
    UnsafeCallbackURL,
)
from riskdrift.webhooks.ssrf import (
    IPNetwork,
    ResolvedTarget,
    parse_allowed_networks,
    parse_ipv4_host,
    refusal_reason,
    resolve_callback,
    system_resolver,
)
from tests.doubles import ScriptedDNS

PUBLIC_V4 = "93.184.215.14"
PUBLIC_V6 = "2606:2800:21f:cb07:6820:80da:af6b:8b2c"


DNS = ScriptedDNS(
    by_name={
        "localhost": ["127.0.0.1", "::1"],
        "internal.example.com": ["10.1.2.3"],
        "metadata.example.com": ["169.254.169.254"],
        "ula.example.com": ["fd00::1"],
        "mixed.example.com": [PUBLIC_V4, "192.168.0.10"],
        "mapped.example.com": ["::ffff:10.0.0.1"],
        "cgnat.example.com": ["100.100.100.100"],
        "zero.example.com": ["0.0.0.0"],
        "nat64.example.com": ["64:ff9b::a9fe:a9fe"],
        "linklocal6.example.com": ["fe80::1%1"],
        "hooks.example.com": [PUBLIC_V4, PUBLIC_V6],
        "xn--bcher-kva.example": [PUBLIC_V4],
        "under_score.example.com": [PUBLIC_V4],
    }
)

# (url, a fragment of the refusal message)
REFUSED: list[tuple[str, str]] = [
    # IPv4 literals, in every spelling browsers and curl accept
    ("http://127.0.0.1/", "loopback"),
    ("http://2130706433/", "127.0.0.1 is loopback"),
    ("http://0177.0.0.1/", "127.0.0.1 is loopback"),
    ("http://0x7f.0.0.1/", "127.0.0.1 is loopback"),
    ("http://0x7F000001/", "127.0.0.1 is loopback"),
    ("http://017700000001/", "127.0.0.1 is loopback"),
    ("http://127.1/", "127.0.0.1 is loopback"),
    ("http://127.0.1/", "127.0.0.1 is loopback"),
    ("http://127.0.0.1./", "127.0.0.1 is loopback"),
    ("http://%31%32%37.0.0.1/", "127.0.0.1 is loopback"),
    ("http://１２７.０.０.１/", "127.0.0.1 is loopback"),
    ("HTTP://0X7F.1:8080/x", "127.0.0.1 is loopback"),
    ("http://10.0.0.1/", "private"),
    ("http://172.16.5.4/", "private"),
    ("http://192.168.1.1/", "private"),
    ("http://169.254.169.254/latest/meta-data/", "link-local"),
    ("http://0xa9fea9fe/", "169.254.169.254 is link-local"),
    ("http://100.64.0.1/", "carrier-grade NAT"),
    ("http://0.0.0.0/", "this network"),
    ("http://0/", "0.0.0.0 is 'this network'"),
    ("http://0.1.2.3/", "this network"),
    ("http://224.0.0.1/", "multicast"),
    ("http://255.255.255.255/", "broadcast"),
    ("http://240.0.0.1/", "reserved"),
    ("http://198.18.0.1/", "benchmarking"),
    ("http://192.0.2.1/", "documentation"),
    ("http://198.51.100.7/", "documentation"),
    ("http://203.0.113.9/", "documentation"),
    ("http://192.0.0.8/", "IETF protocol assignments"),
    # IPv6 literals, including IPv4 hidden inside IPv6
    ("http://[::1]/", "loopback"),
    ("http://[0:0:0:0:0:0:0:1]:8080/", "loopback"),
    ("http://[::]/", "unspecified"),
    ("http://[::ffff:127.0.0.1]/", "IPv4-mapped 127.0.0.1: loopback"),
    ("http://[::FFFF:7F00:1]/", "IPv4-mapped 127.0.0.1: loopback"),
    ("http://[::ffff:169.254.169.254]/", "IPv4-mapped 169.254.169.254: link-local"),
    ("http://[::127.0.0.1]/", "IPv4-compatible (deprecated) for 127.0.0.1: loopback"),
    ("http://[::5db8:d70e]/", "IPv4-compatible (deprecated)"),
    ("http://[64:ff9b::7f00:1]/", "NAT64 for 127.0.0.1: loopback"),
    ("http://[64:ff9b::10.0.0.1]/", "NAT64 for 10.0.0.1: private"),
    ("http://[64:ff9b:1::5db8:d70e]/", "local-use NAT64"),
    ("http://[2002:7f00:1::]/", "6to4 for 127.0.0.1: loopback"),
    ("http://[2002:c0a8:101::1]/", "6to4 for 192.168.1.1: private"),
    ("http://[2001:0:4136:e378:8000:63bf:f5ff:fffe]/", "Teredo with client 10.0.0.1: private"),
    ("http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/", "client 192.0.2.45: documentation"),
    ("http://[fc00::1]/", "unique local"),
    ("http://[fd12:3456:789a::1]/", "unique local"),
    ("http://[fe80::1]/", "link-local"),
    ("http://[fe80::1%25eth0]/", "link-local"),
    ("http://[fe80::1%eth0]/", "link-local"),
    ("http://[2606:2800:21f:cb07:6820:80da:af6b:8b2c%25eth0]/", "zone id"),
    ("http://[fec0::1]/", "site-local"),
    ("http://[ff02::1]/", "multicast"),
    ("http://[2001:db8::1]/", "documentation"),
    ("http://[100::1]/", "discard-only"),
    ("http://[4000::1]/", "outside global unicast"),
    # user info tricks: the host is after the last "@"
    ("http://evil@127.0.0.1/", "127.0.0.1 is loopback"),
    ("http://hooks.example.com@10.0.0.1:8080/", "10.0.0.1 is private"),
    ("http://a@b@[::1]/", "loopback"),
    ("http://user:pass@" + PUBLIC_V4 + "/", "credentials"),
    # hostnames whose DNS answers are not global (injectable resolver)
    ("http://LOCALHOST/", "localhost resolves to 127.0.0.1, which is loopback"),
    ("http://localhost./", "loopback"),
    ("https://internal.example.com/hook", "resolves to 10.1.2.3, which is private"),
    ("https://metadata.example.com/", "169.254.169.254, which is link-local"),
    ("https://ula.example.com/", "fd00::1, which is unique local"),
    ("https://mixed.example.com/", "192.168.0.10, which is private"),
    ("https://mapped.example.com/", "IPv4-mapped 10.0.0.1: private"),
    ("https://cgnat.example.com/", "carrier-grade NAT"),
    ("https://zero.example.com/", "this network"),
    ("https://nat64.example.com/", "NAT64 for 169.254.169.254"),
    ("https://linklocal6.example.com/", "fe80::1%1, which is link-local"),
    # not http(s), or not a URL a browser and we would agree on
    ("ftp://" + PUBLIC_V4 + "/", "only http and https"),
    ("file:///etc/passwd", "only http and https"),
    ("gopher://" + PUBLIC_V4 + ":70/", "only http and https"),
    ("javascript:alert(1)", "only http and https"),
    ("http:" + PUBLIC_V4 + "/", "absolute URL"),
    ("http://" + PUBLIC_V4 + "\\@127.0.0.1/", "backslashes"),
    ("http://" + PUBLIC_V4 + "\t/", "whitespace"),
    ("http:// " + PUBLIC_V4 + "/", "whitespace"),
    ("http:///path", "no host"),
    ("http://1.2.3.4.5/", "more than four"),
    ("http://0x7g.1/", "not a valid IPv4"),
    ("http://256.0.0.1/", "out of the IPv4 range"),
    ("http://1.2.3.08/", "not a valid IPv4"),
    ("http://4294967296/", "out of the IPv4 range"),
    ("http://[::1/", "unterminated"),
    ("http://[::1]x/", "unexpected characters"),
    ("http://[1.2.3.4]/", "not a valid IPv6"),
    ("http://::1/", "[brackets]"),
    ("http://a..b.example/", "not a valid hostname"),
    ("http://" + "x" * 64 + ".example/", "not a valid hostname"),
    ("http://" + PUBLIC_V4 + ":99999/", "invalid port"),
    ("http://" + PUBLIC_V4 + ":0/", "invalid port"),
    ("http://" + PUBLIC_V4 + ":8o/", "invalid port"),
    ("http://" + "a" * 2100 + ".com/", "longer than"),
]


@pytest.mark.parametrize(("url", "message"), REFUSED, ids=[u[:60] for u, _ in REFUSED])
async def test_refused(url: str, message: str) -> None:
    with pytest.raises(UnsafeCallbackURL) as caught:
        await resolve_callback(url, allowed=(), resolver=DNS)
    assert message in str(caught.value)
    assert str(caught.value).startswith("callback_url refused: ")
    assert isinstance(caught.value, PermanentError)
    assert isinstance(caught.value, InvalidRequest)


def test_the_table_is_large_enough() -> None:
    assert len(REFUSED) >= 30


async def test_public_ipv4_literal_is_allowed_without_dns() -> None:
    dns = ScriptedDNS(by_name={})
    target = await resolve_callback(f"https://{PUBLIC_V4}:8443/hook?x=1#frag", resolver=dns)
    assert target == ResolvedTarget(
        url=f"https://{PUBLIC_V4}:8443/hook?x=1#frag",
        scheme="https",
        host=PUBLIC_V4,
        port=8443,
        path="/hook?x=1",
        addresses=(ipaddress.IPv4Address(PUBLIC_V4),),
        ip_literal=True,
    )
    assert dns.lookups == []
    assert target.host_header == f"{PUBLIC_V4}:8443"
    assert target.origin == f"https://{PUBLIC_V4}:8443"


@pytest.mark.parametrize(
    "url",
    [
        "http://0x5db8d70e/",  # 93.184.215.14 in hex
        "http://1572394766/",  # ... in decimal
        "http://0135.0270.0327.016/",  # ... in octal
        f"http://[::ffff:{PUBLIC_V4}]/",  # mapped: the same destination
        f"http://[64:ff9b::{PUBLIC_V4}]/",  # NAT64 of a public address
        "http://[2002:5db8:d70e::1]/",  # 6to4 of a public address
    ],
)
async def test_public_addresses_in_other_spellings_are_allowed(url: str) -> None:
    target = await resolve_callback(url, resolver=ScriptedDNS(by_name={}))
    assert target.path == "/"
    assert target.port == 80


async def test_public_ipv6_literal_is_allowed() -> None:
    target = await resolve_callback(
        f"https://[{PUBLIC_V6.upper()}]/h", resolver=ScriptedDNS(by_name={})
    )
    assert target.host == PUBLIC_V6
    assert target.host_header == f"[{PUBLIC_V6}]"
    assert target.pinned_url(target.addresses[0]) == f"https://[{PUBLIC_V6}]:443/h"


async def test_hostname_resolving_to_public_addresses_is_allowed() -> None:
    dns = ScriptedDNS(by_name=DNS.by_name)
    target = await resolve_callback("HTTPS://Hooks.Example.COM./cb?id=7", resolver=dns)
    assert dns.lookups == [("hooks.example.com", 443)]
    assert target.scheme == "https"
    assert target.host == "hooks.example.com"
    assert target.host_header == "hooks.example.com"
    assert target.path == "/cb?id=7"
    assert target.addresses == (
        ipaddress.IPv4Address(PUBLIC_V4),
        ipaddress.IPv6Address(PUBLIC_V6),
    )
    assert not target.ip_literal
    assert target.pinned_url(target.addresses[0]) == f"https://{PUBLIC_V4}:443/cb?id=7"
    with pytest.raises(ValueError, match="not one of the checked"):
        target.pinned_url(ipaddress.IPv4Address("10.0.0.1"))


async def test_international_and_underscore_hostnames() -> None:
    dns = ScriptedDNS(by_name=DNS.by_name)
    target = await resolve_callback("https://Bücher.example/", resolver=dns)
    assert target.host == "xn--bcher-kva.example"
    await resolve_callback("https://under_score.example.com/", resolver=dns)
    assert dns.lookups == [("xn--bcher-kva.example", 443), ("under_score.example.com", 443)]


async def test_empty_path_becomes_slash_and_query_is_kept() -> None:
    target = await resolve_callback(f"http://{PUBLIC_V4}?a=b", resolver=ScriptedDNS(by_name={}))
    assert target.path == "/?a=b"


async def test_loopback_is_allowed_only_when_the_operator_allows_it() -> None:
    allowed = parse_allowed_networks(["127.0.0.0/8", "::1/128"])
    target = await resolve_callback("http://127.0.0.1:8000/hook", allowed=allowed, resolver=DNS)
    assert target.addresses == (ipaddress.IPv4Address("127.0.0.1"),)
    target = await resolve_callback("http://localhost:8000/", allowed=allowed, resolver=DNS)
    assert len(target.addresses) == 2
    await resolve_callback("http://[::ffff:127.0.0.1]/", allowed=allowed, resolver=DNS)
    with pytest.raises(UnsafeCallbackURL, match="private"):
        await resolve_callback("http://10.0.0.1/", allowed=allowed, resolver=DNS)
    with pytest.raises(UnsafeCallbackURL, match="loopback"):
        await resolve_callback("http://127.0.0.1:8000/hook", allowed=(), resolver=DNS)


async def test_a_narrow_allowance_does_not_open_its_neighbours() -> None:
    allowed: tuple[IPNetwork, ...] = parse_allowed_networks(["10.1.2.3/32"])
    await resolve_callback("https://internal.example.com/", allowed=allowed, resolver=DNS)
    with pytest.raises(UnsafeCallbackURL):
        await resolve_callback("http://10.1.2.4/", allowed=allowed, resolver=DNS)


async def test_unresolvable_host_is_transient() -> None:
    with pytest.raises(CallbackResolutionError, match=r"nowhere\.example") as caught:
        await resolve_callback("https://nowhere.example/", resolver=DNS)
    assert isinstance(caught.value, TransientError)


async def test_empty_answer_is_transient() -> None:
    with pytest.raises(CallbackResolutionError, match="no addresses"):
        await resolve_callback(
            "https://x.example/", resolver=ScriptedDNS(by_name={"x.example": []})
        )


async def test_garbage_answer_is_refused() -> None:
    with pytest.raises(UnsafeCallbackURL, match="non-address"):
        await resolve_callback(
            "https://x.example/", resolver=ScriptedDNS(by_name={"x.example": ["nope"]})
        )


async def test_system_resolver_resolves_localhost_and_the_guard_refuses_it() -> None:
    answers = await system_resolver("localhost", 80)
    assert answers
    assert all(ipaddress.ip_address(a).is_loopback for a in answers)
    with pytest.raises(UnsafeCallbackURL, match="loopback"):
        await resolve_callback("http://localhost:1/")


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("127.0.0.1", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("127.0.1", "127.0.0.1"),
        ("2130706433", "127.0.0.1"),
        ("0x7f.1", "127.0.0.1"),
        ("0x7f.0x0.0x0.0x1", "127.0.0.1"),
        ("0177.1", "127.0.0.1"),
        ("0x", "0.0.0.0"),
        ("1.2.3.4.", "1.2.3.4"),
        ("example.com", None),
        ("0x7f.example", None),
        ("1.2.3.example", None),
    ],
)
def test_parse_ipv4_host(host: str, expected: str | None) -> None:
    result = parse_ipv4_host(host)
    assert (str(result) if result is not None else None) == expected


@pytest.mark.parametrize("address", ["8.8.8.8", PUBLIC_V4, PUBLIC_V6, "2a00:1450::1"])
def test_global_addresses_have_no_refusal_reason(address: str) -> None:
    assert refusal_reason(ipaddress.ip_address(address)) is None


def test_parse_allowed_networks_accepts_hosts_and_v6() -> None:
    assert parse_allowed_networks([" 10.0.0.1/8 ", "::1"]) == (
        ipaddress.IPv4Network("10.0.0.0/8"),
        ipaddress.IPv6Network("::1/128"),
    )

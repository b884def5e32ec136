"""SSRF guard for callback URLs: parse, resolve once, refuse anything not globally routable.

A client-supplied ``callback_url`` makes the worker send a POST wherever the
client says. Without a guard that is a server-side request forgery primitive:
``http://169.254.169.254/`` (cloud metadata), ``http://127.0.0.1:6379/``
(our own Redis), a hostname whose DNS answer points inside the network.

:func:`resolve_callback` turns a URL into a :class:`ResolvedTarget`: the
normalised scheme, host and port, the request path, and the IP addresses the
host resolved to, *every one* of which was checked. Delivery then connects to
one of those checked addresses and never resolves the name again, so a DNS
answer that changes between the check and the connection (DNS rebinding)
cannot redirect the request.

Hosts are parsed the way browsers (WHATWG URL) and curl do, because that is how
attackers write them: percent-decoding, UTS #46 mapping (upper case, full-width
digits, IDNA), IPv4 in decimal (``2130706433``), octal (``0177.0.0.1``), hex
(``0x7f.1``) and short forms (``127.1``), bracketed IPv6 with an optional zone
id, a trailing dot, and ``user@host`` user info (the host is after the last
``@``). Backslashes, whitespace and control characters are refused outright
rather than guessed at, since parsers disagree about them.

An address is refused if it is private, loopback, link-local (including
``169.254.169.254``), carrier-grade NAT, multicast, reserved, unspecified,
``0.0.0.0/8``, broadcast, benchmarking, documentation, IETF-reserved, IPv6
unique-local, site-local, outside ``2000::/3``, or an IPv6 form carrying an
IPv4 address (mapped, compatible, NAT64, 6to4, Teredo) whose embedded IPv4
address would be refused. Operators may allow specific networks
(``Settings.webhook_allowed_cidrs``, see :func:`parse_allowed_networks`);
nothing is allowed by default.

Errors::

    UnsafeCallbackURL (InvalidRequest, permanent)   the URL is refused; retrying cannot help
    CallbackResolutionError (TransientError)        DNS did not answer usefully; retry later
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import re
import socket
import urllib.parse
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network
from typing import Literal

import idna

from riskdrift.errors import (
    CallbackResolutionError,
    UnsafeCallbackURL,
)

IPAddress = IPv4Address | IPv6Address
IPNetwork = IPv4Network | IPv6Network
Resolver = Callable[[str, int], Awaitable[Sequence[str]]]
"""``async (host, port) -> [address text, ...]``; the default is :func:`system_resolver`."""

DEFAULT_PORTS: dict[str, int] = {"http": 80, "https": 443}
MAX_URL_LENGTH = 2048


@dataclass(frozen=True, slots=True)
class ResolvedTarget:
    """A callback URL after parsing and checking: where exactly a delivery may connect.

    ``host`` is the normalised host: a lower-case A-label hostname without a
    trailing dot, or the canonical text of an IP literal. ``path`` is the
    request target (path and query, never empty, no fragment). ``addresses``
    are the checked IP addresses, in resolver order, without duplicates.
    """

    url: str
    scheme: Literal["http", "https"]
    host: str
    port: int
    path: str
    addresses: tuple[IPAddress, ...]
    ip_literal: bool = False

    @property
    def host_header(self) -> str:
        """The ``Host`` header value: the host, bracketed if IPv6, with a non-default port."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == DEFAULT_PORTS[self.scheme] else f"{host}:{self.port}"

    @property
    def origin(self) -> str:
        """``scheme://host[:port]``: safe to log (no user info, path or query)."""
        return f"{self.scheme}://{self.host_header}"

    def pinned_url(self, address: IPAddress) -> str:
        """The URL to request so the connection goes to ``address`` (one of ``addresses``)."""
        if address not in self.addresses:
            raise ValueError(f"{address} is not one of the checked addresses of {self.origin}")
        text = address.compressed.replace("%", "%25")  # RFC 6874 zone id in a URL
        host = f"[{text}]" if address.version == 6 else text
        return f"{self.scheme}://{host}:{self.port}{self.path}"


@dataclass(frozen=True, slots=True)
class _ParsedURL:
    scheme: Literal["http", "https"]
    host: str
    port: int
    path: str
    literal: IPAddress | None
    has_userinfo: bool


# --- allowed networks ---------------------------------------------------------------------


def parse_allowed_networks(cidrs: Iterable[str]) -> tuple[IPNetwork, ...]:
    """Parse ``Settings.webhook_allowed_cidrs`` (e.g. ``["10.1.2.0/24", "::1/128"]``).

    Called for every submission and delivery with the same few settings, so the
    parsed tuple is kept (a malformed entry raises every time)."""
    return _parse_networks(tuple(cidrs))


@functools.lru_cache(maxsize=16)
def _parse_networks(cidrs: tuple[str, ...]) -> tuple[IPNetwork, ...]:
    return tuple(ipaddress.ip_network(cidr.strip(), strict=False) for cidr in cidrs)


# --- address policy -----------------------------------------------------------------------

_V4_REFUSED: tuple[tuple[IPv4Network, str], ...] = tuple(
    (IPv4Network(net), why)
    for net, why in (
        ("0.0.0.0/8", "'this network' (0.0.0.0/8)"),
        ("10.0.0.0/8", "private"),
        ("100.64.0.0/10", "carrier-grade NAT (100.64.0.0/10)"),
        ("127.0.0.0/8", "loopback"),
        ("169.254.0.0/16", "link-local (incl. cloud metadata 169.254.169.254)"),
        ("172.16.0.0/12", "private"),
        ("192.0.0.0/24", "IETF protocol assignments (192.0.0.0/24)"),
        ("192.0.2.0/24", "documentation (TEST-NET-1)"),
        ("192.88.99.0/24", "6to4 relay anycast"),
        ("192.168.0.0/16", "private"),
        ("198.18.0.0/15", "benchmarking (198.18.0.0/15)"),
        ("198.51.100.0/24", "documentation (TEST-NET-2)"),
        ("203.0.113.0/24", "documentation (TEST-NET-3)"),
        ("224.0.0.0/4", "multicast"),
        ("255.255.255.255/32", "broadcast"),
        ("240.0.0.0/4", "reserved (240.0.0.0/4)"),
    )
)

_V6_REFUSED: tuple[tuple[IPv6Network, str], ...] = tuple(
    (IPv6Network(net), why)
    for net, why in (
        ("::/128", "unspecified"),
        ("::1/128", "loopback"),
        ("100::/64", "discard-only (100::/64)"),
        ("2001::/23", "IETF protocol assignments (2001::/23)"),
        ("2001:db8::/32", "documentation (2001:db8::/32)"),
        ("3fff::/20", "documentation (3fff::/20)"),
        ("5f00::/16", "SRv6 SIDs (5f00::/16)"),
        ("fc00::/7", "unique local (fc00::/7)"),
        ("fe80::/10", "link-local (fe80::/10)"),
        ("fec0::/10", "site-local (fec0::/10)"),
        ("ff00::/8", "multicast"),
    )
)

_GLOBAL_UNICAST = IPv6Network("2000::/3")
_IPV4_COMPATIBLE = IPv6Network("::/96")
_NAT64_WELL_KNOWN = IPv6Network("64:ff9b::/96")
_NAT64_LOCAL = IPv6Network("64:ff9b:1::/48")
_TEREDO = IPv6Network("2001::/32")


def _embedded_v4(address: IPv6Address, *, offset_bits: int) -> IPv4Address:
    return IPv4Address((int(address) >> offset_bits) & 0xFFFFFFFF)


def _v4_reason(address: IPv4Address) -> str | None:
    for network, why in _V4_REFUSED:
        if address in network:
            return why
    if not address.is_global:
        return "not globally routable"
    return None


def _v6_reason(address: IPv6Address) -> str | None:
    if address.scope_id:
        bare = IPv6Address(address.compressed.split("%", 1)[0])
        return _v6_reason(bare) or "an IPv6 address with a zone id"
    if address.ipv4_mapped is not None:
        inner = _v4_reason(address.ipv4_mapped)
        return f"IPv4-mapped {address.ipv4_mapped}: {inner}" if inner else None
    if address in _NAT64_WELL_KNOWN:
        embedded = _embedded_v4(address, offset_bits=0)
        inner = _v4_reason(embedded)
        return f"NAT64 for {embedded}: {inner}" if inner else None
    if address.sixtofour is not None:
        inner = _v4_reason(address.sixtofour)
        return f"6to4 for {address.sixtofour}: {inner}" if inner else None
    if address in _TEREDO and address.teredo is not None:
        server, client = address.teredo
        for role, embedded in (("client", client), ("server", server)):
            inner = _v4_reason(embedded)
            if inner:
                return f"Teredo with {role} {embedded}: {inner}"
        return "Teredo (2001::/32), a deprecated tunnel"
    for network, why in _V6_REFUSED:
        if address in network:
            return why
    if address in _IPV4_COMPATIBLE:
        embedded = _embedded_v4(address, offset_bits=0)
        inner = _v4_reason(embedded)
        detail = f"{embedded}: {inner}" if inner else str(embedded)
        return f"IPv4-compatible (deprecated) for {detail}"
    if address in _NAT64_LOCAL:
        return "local-use NAT64 (64:ff9b:1::/48)"
    if address not in _GLOBAL_UNICAST:
        return "reserved (outside global unicast 2000::/3)"
    if not address.is_global:
        return "not globally routable"
    return None


def _is_allowed(address: IPAddress, allowed: Sequence[IPNetwork]) -> bool:
    candidates: list[IPAddress] = [address]
    if isinstance(address, IPv6Address):
        if address.scope_id:
            # Compare the bare address: an allow-listed fe80::/10 covers every zone.
            candidates = [IPv6Address(address.compressed.split("%", 1)[0])]
        if address.ipv4_mapped is not None:
            # ::ffff:a.b.c.d is the same destination as a.b.c.d.
            candidates.append(address.ipv4_mapped)
    return any(
        candidate.version == network.version and candidate in network
        for candidate in candidates
        for network in allowed
    )


def refusal_reason(address: IPAddress, allowed: Sequence[IPNetwork] = ()) -> str | None:
    """Why the service must not connect to ``address``, or ``None`` if it may.

    ``allowed`` networks override every refusal (operator's explicit choice).
    """
    if _is_allowed(address, allowed):
        return None
    if isinstance(address, IPv4Address):
        return _v4_reason(address)
    return _v6_reason(address)


# --- URL parsing --------------------------------------------------------------------------

_FORBIDDEN_URL_CHARS = re.compile(r"[\x00-\x20\x7f\\]")
_HOSTNAME_LABEL = re.compile(r"^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$")
_PORT = re.compile(r"^[0-9]{1,5}$")


def _refuse(url: str, message: str) -> UnsafeCallbackURL:
    return UnsafeCallbackURL(f"callback_url refused: {message}", url=url)


def _ipv4_number(part: str) -> int | None:
    """One part of a WHATWG IPv4 host: decimal, ``0x`` hex or leading-``0`` octal."""
    if part[:2] in ("0x", "0X"):
        digits, base = part[2:], 16
        if not digits:
            return 0
    elif len(part) > 1 and part[0] == "0":
        digits, base = part[1:], 8
    else:
        digits, base = part, 10
    allowed = "0123456789abcdefABCDEF"[: 10 if base == 10 else (8 if base == 8 else 22)]
    if not digits or any(ch not in allowed for ch in digits):
        return None
    return int(digits, base)


def parse_ipv4_host(host: str) -> IPv4Address | None:
    """Parse ``host`` as a WHATWG IPv4 host (``127.1``, ``0x7f.0.0.1``, ``2130706433``).

    Returns ``None`` when ``host`` is a domain name (its last label is not a
    number). Raises ``ValueError`` when it ends in a number but is not a valid
    IPv4 address, as browsers do (``1.2.3.4.5``, ``0x7g.1``, ``256.256.256.256``).
    """
    parts = host.split(".")
    if len(parts) > 1 and parts[-1] == "":
        parts.pop()
    last = parts[-1]
    ends_in_number = last != "" and (
        (last.isascii() and last.isdigit()) or _ipv4_number(last) is not None
    )
    if not ends_in_number:
        return None
    if len(parts) > 4:
        raise ValueError(f"{host!r} has more than four IPv4 parts")
    numbers = [_ipv4_number(part) if part else None for part in parts]
    if any(number is None for number in numbers):
        raise ValueError(f"{host!r} is not a valid IPv4 address")
    values = [n for n in numbers if n is not None]
    if any(n > 255 for n in values[:-1]) or values[-1] >= 256 ** (5 - len(values)):
        raise ValueError(f"{host!r} is out of the IPv4 range")
    total = values[-1]
    for i, n in enumerate(values[:-1]):
        total += n << (8 * (3 - i))
    return IPv4Address(total)


def _parse_ipv6_host(url: str, inside: str) -> IPv6Address:
    text = inside
    if "%" in text:
        address_text, zone = text.split("%", 1)
        # RFC 6874 writes the zone separator as "%25"; accept a bare "%" as curl does.
        zone = zone[2:] if zone.startswith("25") and len(zone) > 2 else zone
        zone = urllib.parse.unquote(zone)
        if not zone or not zone.isprintable() or "%" in zone:
            raise _refuse(url, "malformed IPv6 zone id")
        text = f"{address_text}%{zone}"
    try:
        return IPv6Address(text)
    except ValueError:
        raise _refuse(url, f"[{inside}] is not a valid IPv6 address") from None


def _normalise_hostname(url: str, raw: str) -> str | IPv4Address:
    try:
        host = urllib.parse.unquote(raw, errors="strict") if "%" in raw else raw
    except UnicodeDecodeError:
        raise _refuse(url, "the host is not valid percent-encoded UTF-8") from None
    if not host:
        raise _refuse(url, "the URL has no host")
    if _FORBIDDEN_URL_CHARS.search(host) or any(ch in host for ch in "%/?#@[]:<>^|"):
        raise _refuse(url, "the host contains characters that are not allowed")
    if host.isascii():
        host = host.lower()
    else:
        try:
            host = idna.encode(host, uts46=True, transitional=False).decode("ascii")
        except idna.IDNAError as exc:
            raise _refuse(
                url, f"the host is not a valid international domain name ({exc})"
            ) from None
    try:
        literal = parse_ipv4_host(host)
    except ValueError as exc:
        raise _refuse(url, str(exc)) from None
    if literal is not None:
        return literal
    host = host.removesuffix(".")
    labels = host.split(".")
    if len(host) > 253 or not all(_HOSTNAME_LABEL.match(label) for label in labels):
        raise _refuse(url, f"{host!r} is not a valid hostname")
    return host


def _parse_url(url: str) -> _ParsedURL:
    if len(url) > MAX_URL_LENGTH:
        raise _refuse(url[:100] + "…", f"longer than {MAX_URL_LENGTH} characters")
    if _FORBIDDEN_URL_CHARS.search(url):
        raise _refuse(url, "whitespace, control characters and backslashes are not allowed")
    scheme, sep, rest = url.partition(":")
    scheme = scheme.lower()
    if not sep or scheme not in DEFAULT_PORTS:
        raise _refuse(url, "only http and https callback URLs are allowed")
    if not rest.startswith("//"):
        raise _refuse(url, "expected an absolute URL (scheme://host/...)")
    rest = rest[2:]
    end = min((i for i in (rest.find(c) for c in "/?#") if i >= 0), default=len(rest))
    authority, remainder = rest[:end], rest[end:]
    _userinfo, at, hostport = authority.rpartition("@")
    has_userinfo = bool(at)

    literal: IPAddress | None
    if hostport.startswith("["):
        close = hostport.find("]")
        if close < 0:
            raise _refuse(url, "unterminated [IPv6] host")
        literal = _parse_ipv6_host(url, hostport[1:close])
        host = literal.compressed.split("%", 1)[0]
        after = hostport[close + 1 :]
        if after and not after.startswith(":"):
            raise _refuse(url, "unexpected characters after the [IPv6] host")
        port_text = after[1:]
    else:
        if hostport.count(":") > 1:
            raise _refuse(url, "an IPv6 host must be written in [brackets]")
        raw_host, _, port_text = hostport.partition(":")
        normalised = _normalise_hostname(url, raw_host)
        if isinstance(normalised, IPv4Address):
            literal, host = normalised, normalised.compressed
        else:
            literal, host = None, normalised

    if port_text:
        if not _PORT.match(port_text) or not 0 < int(port_text) < 65536:
            raise _refuse(url, f"invalid port {port_text!r}")
        port = int(port_text)
    else:
        port = DEFAULT_PORTS[scheme]

    path = remainder.split("#", 1)[0]
    if not path.startswith("/"):
        path = "/" + path
    return _ParsedURL(
        scheme="https" if scheme == "https" else "http",
        host=host,
        port=port,
        path=path,
        literal=literal,
        has_userinfo=has_userinfo,
    )


# --- resolution ---------------------------------------------------------------------------


async def system_resolver(host: str, port: int) -> list[str]:
    """Resolve with the system resolver (``getaddrinfo``) in the loop's executor."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    answers: list[str] = []
    for family, _type, _proto, _canon, sockaddr in infos:
        if family not in (socket.AF_INET, socket.AF_INET6):
            continue
        text = str(sockaddr[0])
        if family == socket.AF_INET6 and len(sockaddr) >= 4 and sockaddr[3] and "%" not in text:
            text = f"{text}%{sockaddr[3]}"
        answers.append(text)
    return answers


def _check_all(
    url: str, host: str, addresses: Sequence[IPAddress], allowed: Sequence[IPNetwork]
) -> None:
    for address in addresses:
        reason = refusal_reason(address, allowed)
        if reason is not None:
            shown = host if host == address.compressed else f"{host} resolves to {address}, which"
            raise _refuse(url, f"{shown} is {reason}")


async def resolve_callback(
    url: str,
    *,
    allowed: Sequence[IPNetwork] = (),
    resolver: Resolver = system_resolver,
) -> ResolvedTarget:
    """Parse ``url``, resolve its host once and check every address.

    Raises :class:`UnsafeCallbackURL` (permanent) if the URL is malformed, not
    http(s), carries user info, or any address is refused (see
    :func:`refusal_reason`; ``allowed`` networks are exempt), and
    :class:`CallbackResolutionError` (transient) if the name does not resolve.
    IP literals are checked without calling ``resolver``.
    """
    parsed = _parse_url(url)
    if parsed.literal is not None:
        _check_all(url, parsed.literal.compressed, [parsed.literal], allowed)
    if parsed.has_userinfo:
        raise _refuse(url, "credentials (user info before '@') are not allowed in callback URLs")

    if parsed.literal is not None:
        addresses: tuple[IPAddress, ...] = (parsed.literal,)
    else:
        try:
            answers = await resolver(parsed.host, parsed.port)
        except (socket.gaierror, OSError, UnicodeError) as exc:
            raise CallbackResolutionError(
                f"could not resolve callback host {parsed.host!r}: {exc}"
            ) from exc
        found: list[IPAddress] = []
        for answer in answers:
            try:
                address = ipaddress.ip_address(answer)
            except ValueError:
                raise _refuse(url, f"resolver returned a non-address {answer!r}") from None
            if address not in found:
                found.append(address)
        if not found:
            raise CallbackResolutionError(f"callback host {parsed.host!r} has no addresses")
        _check_all(url, parsed.host, found, allowed)
        addresses = tuple(found)

    return ResolvedTarget(
        url=url,
        scheme=parsed.scheme,
        host=parsed.host,
        port=parsed.port,
        path=parsed.path,
        addresses=addresses,
        ip_literal=parsed.literal is not None,
    )

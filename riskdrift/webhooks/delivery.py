"""One webhook delivery attempt over httpx, pinned to the address the SSRF guard checked.

IP pinning with TLS still verified against the hostname
--------------------------------------------------------
:func:`resolve_callback` resolved the host once and checked every address.
If httpx were handed ``https://hooks.example.com/…`` it would resolve the name
again when connecting, and a DNS answer that changed in between (DNS
rebinding: public at check time, ``127.0.0.1`` at connect time) would defeat
the check. So the request goes to the checked address itself,
``https://93.184.215.14:443/…`` (:meth:`ResolvedTarget.pinned_url`), and the
hostname travels separately:

* ``Host: hooks.example.com`` header (httpx only adds its own ``Host`` when the
  request has none), so virtual hosting works;
* the ``sni_hostname`` request extension, which httpcore passes as
  ``server_hostname`` to the TLS handshake (``httpcore/_async/connection.py``).
  That one value is both the SNI sent and the name ``ssl`` verifies the
  certificate against (``check_hostname``), so TLS is verified for
  ``hooks.example.com``, not for the IP.

httpcore pools connections by origin, here the *IP*. A kept-alive connection
verified for one hostname must never carry a request for another hostname on
the same IP, so :class:`DeliveryClient` keeps one connection pool (an httpx
transport) per destination: scheme, hostname and port. Within it connections
are keyed by the pinned IP, so a changed DNS answer gets a connection of its
own, to the newly checked address. Connections are kept alive between
deliveries (a TLS handshake per webhook costs the receiver and us more than the
request), for at most :data:`KEEPALIVE_EXPIRY` seconds idle, under the idle
timeouts of common servers. A request that meets a connection the receiver has
just closed (``RemoteProtocolError`` before any answer) is sent once more on a
new connection; receivers deduplicate by ``webhook-id`` anyway. The client
ignores proxy environment variables: an HTTP proxy would tunnel to the IP and
verify TLS against it, and would be an unchecked hop.

What an answer means
--------------------
========================  =========  =======  =====================================
outcome                   delivered  retry    why
========================  =========  =======  =====================================
2xx                       yes        no       done
410 Gone                  no         no       the receiver says the endpoint is gone
3xx                       no         yes      redirects are not followed (DESIGN.md);
                                              the receiver may fix its URL
429, 5xx                  no         yes      ``Retry-After`` honoured
other 4xx                 no         yes      usually a receiver misconfiguration
                                              (wrong secret → 401, deploy → 404) that
                                              its owner fixes within the day-long
                                              schedule; dropping it would lose data
timeout, connection/TLS   no         yes      transient network trouble
unsafe URL (``deliver``)  no         no       permanent: the URL is refused
DNS failure (``deliver``) no         yes      transient
========================  =========  =======  =====================================
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ssl
import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Self

import httpx
import structlog

from riskdrift.errors import CallbackResolutionError, UnsafeCallbackURL
from riskdrift.queue.retrying import parse_retry_after
from riskdrift.webhooks.signing import SecretInput, webhook_headers
from riskdrift.webhooks.ssrf import (
    IPNetwork,
    ResolvedTarget,
    Resolver,
    resolve_callback,
    system_resolver,
)

log = structlog.get_logger(__name__)

USER_AGENT = "riskdrift-webhooks/1.0"
# Idle seconds a webhook connection is kept: below the keep-alive timeouts of common
# servers (Node 5 s, nginx 75 s, Go and uvicorn 5 s and more) so the client drops it first.
KEEPALIVE_EXPIRY = 4.0
# Destinations with a pool of their own; the least recently used is closed beyond this.
MAX_DESTINATIONS = 128
# An answer's body is read (and dropped) up to this size to keep its connection.
MAX_DRAINED_BODY = 64 * 1024


@dataclass(frozen=True, slots=True)
class DeliveryOutcome:
    """What one attempt achieved; the worker records it and schedules the next.

    Exactly one of ``status_code`` (an HTTP answer arrived) and ``error`` (it
    did not, or it was not a 2xx) describes the failure; a delivered outcome
    has a status code and no error. ``retry_after`` is the receiver's
    ``Retry-After`` in seconds, if it sent one (pass it to ``next_delay``).
    ``address`` is the IP the request was sent to, if it got that far.
    """

    delivered: bool
    retry: bool
    duration_ms: float
    status_code: int | None = None
    error: str | None = None
    retry_after: float | None = None
    address: str | None = None


Destination = tuple[str, str, int]  # scheme, normalised host, port


class DeliveryClient:
    """The process's webhook connections: one httpx transport per destination.

    Create it with :func:`create_delivery_client` in the worker's ``on_startup``
    and close it on shutdown (it is an async context manager). No redirects are
    followed and no proxies are used (see the module docstring).
    """

    def __init__(
        self,
        *,
        verify: ssl.SSLContext | bool = True,
        max_destinations: int = MAX_DESTINATIONS,
        keepalive_expiry: float = KEEPALIVE_EXPIRY,
    ) -> None:
        # One SSL context for every destination: building one loads the CA bundle (~50 ms).
        self._verify = (
            verify
            if isinstance(verify, ssl.SSLContext)
            else httpx.create_ssl_context(verify, trust_env=False)
        )
        self._limits = httpx.Limits(keepalive_expiry=keepalive_expiry)
        self._max = max_destinations
        self._transports: OrderedDict[Destination, httpx.AsyncHTTPTransport] = OrderedDict()
        self._closing: set[asyncio.Task[None]] = set()

    def transport(self, target: ResolvedTarget) -> httpx.AsyncHTTPTransport:
        """The connection pool for ``target``'s destination (created on first use)."""
        key = (target.scheme, target.host, target.port)
        transport = self._transports.get(key)
        if transport is not None:
            self._transports.move_to_end(key)
            return transport
        transport = httpx.AsyncHTTPTransport(
            verify=self._verify, limits=self._limits, trust_env=False
        )
        self._transports[key] = transport
        while len(self._transports) > self._max:
            # The least recently used destination: a request of its still in flight (only
            # with more than max_destinations others since it started) fails and is retried.
            _, evicted = self._transports.popitem(last=False)
            task = asyncio.get_running_loop().create_task(evicted.aclose())
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)
        return transport

    @property
    def destinations(self) -> int:
        """How many destinations have a connection pool now."""
        return len(self._transports)

    async def aclose(self) -> None:
        transports = list(self._transports.values())
        self._transports.clear()
        await asyncio.gather(
            *(t.aclose() for t in transports), *self._closing, return_exceptions=True
        )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


def create_delivery_client(*, verify: ssl.SSLContext | bool = True) -> DeliveryClient:
    """The process's webhook client. ``verify`` is for tests with a private CA;
    production keeps the default (certifi) verification."""
    return DeliveryClient(verify=verify)


def _elapsed_ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)


def _describe(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}"


def _classify(response: httpx.Response, started: float, address: str) -> DeliveryOutcome:
    status = response.status_code
    duration_ms = _elapsed_ms(started)
    if 200 <= status < 300:
        return DeliveryOutcome(
            delivered=True,
            retry=False,
            status_code=status,
            duration_ms=duration_ms,
            address=address,
        )
    retry_after = parse_retry_after(
        response.headers.get("retry-after"), now=dt.datetime.now(dt.UTC)
    )
    if status == 410:
        error = "410 Gone: the receiver retired this endpoint; not retrying"
        retry = False
    elif 300 <= status < 400:
        error = f"{status} redirect not followed: callback URLs must answer directly"
        retry = True
    else:
        error = f"{status} {response.reason_phrase}".strip()
        retry = True
    return DeliveryOutcome(
        delivered=False,
        retry=retry,
        status_code=status,
        error=error,
        retry_after=retry_after,
        duration_ms=duration_ms,
        address=address,
    )


async def attempt_delivery(
    client: DeliveryClient,
    target: ResolvedTarget,
    body: bytes,
    headers: Mapping[str, str],
    *,
    timeout: float,  # noqa: ASYNC109 - a timeout is an outcome to record, not an exception
) -> DeliveryOutcome:
    """POST ``body`` with ``headers`` to ``target``, connecting only to its checked addresses.

    ``headers`` are the signed webhook headers (:func:`webhook_headers`).
    Addresses are tried in order while connecting fails; the whole attempt,
    all addresses included, is bounded by ``timeout`` seconds. Never raises
    for network or HTTP failures: they come back as a :class:`DeliveryOutcome`.
    """
    started = time.perf_counter()
    request_headers = {
        **{k: v for k, v in headers.items() if k.lower() not in ("host", "connection")},
        "host": target.host_header,
        "user-agent": USER_AGENT,
    }
    extensions: dict[str, object] = {"timeout": httpx.Timeout(timeout).as_dict()}
    if target.scheme == "https" and not target.ip_literal:
        extensions["sni_hostname"] = target.host
    transport = client.transport(target)

    outcome: DeliveryOutcome | None = None
    last_error = "no address to connect to"
    address_text: str | None = None
    try:
        async with asyncio.timeout(timeout):
            for address in target.addresses:
                address_text = address.compressed
                url = target.pinned_url(address)
                try:
                    response = await _post(transport, url, body, request_headers, extensions)
                except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                    # Try the next checked address (e.g. IPv6 unreachable, IPv4 fine).
                    last_error = _describe(exc)
                    continue
                try:
                    outcome = _classify(response, started, address_text)
                    await _drain(response)
                finally:
                    await response.aclose()
                break
    except TimeoutError:
        last_error = f"timed out after {timeout:g}s"
    except httpx.TimeoutException as exc:
        last_error = f"timed out: {_describe(exc)}"
    except httpx.TransportError as exc:
        last_error = _describe(exc)

    if outcome is None:
        outcome = DeliveryOutcome(
            delivered=False,
            retry=True,
            error=last_error,
            duration_ms=_elapsed_ms(started),
            address=address_text,
        )
    _log_outcome(target, headers, outcome)
    return outcome


async def _post(
    transport: httpx.AsyncHTTPTransport,
    url: str,
    body: bytes,
    headers: Mapping[str, str],
    extensions: dict[str, object],
) -> httpx.Response:
    """Send one POST straight through ``transport`` (no client layer: no cookies,
    redirects or auth to skip), once more on a new connection if a kept-alive one
    turns out to be closed (or reset) by the receiver before it answered."""
    for retry in (True, False):
        request = httpx.Request("POST", url, content=body, headers=headers, extensions=extensions)
        try:
            return await transport.handle_async_request(request)
        except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError):
            if not retry:
                raise
    raise AssertionError("unreachable")


async def _drain(response: httpx.Response) -> None:
    """Read (and drop) a short answer so its connection can carry the next webhook; a
    long one is cut off and its connection closed by ``aclose``."""
    read = 0
    async for chunk in response.aiter_raw():
        read += len(chunk)
        if read > MAX_DRAINED_BODY:
            return


def _log_outcome(
    target: ResolvedTarget, headers: Mapping[str, str], outcome: DeliveryOutcome
) -> None:
    # The origin only: paths and queries of callback URLs often carry tokens.
    fields = {
        "webhook_id": next((v for k, v in headers.items() if k.lower() == "webhook-id"), None),
        "origin": target.origin,
        "address": outcome.address,
        "status_code": outcome.status_code,
        "duration_ms": outcome.duration_ms,
        "retry": outcome.retry,
        "retry_after": outcome.retry_after,
    }
    if outcome.delivered:
        log.info("webhook_delivered", **fields)
    else:
        log.warning("webhook_delivery_failed", error=outcome.error, **fields)


async def deliver(
    client: DeliveryClient,
    url: str,
    body: bytes,
    *,
    msg_id: str,
    secrets: Sequence[SecretInput],
    allowed: Sequence[IPNetwork] = (),
    timeout: float,  # noqa: ASYNC109 - a timeout is an outcome to record, not an exception
    resolver: Resolver = system_resolver,
) -> DeliveryOutcome:
    """One full attempt: check and resolve ``url``, sign now, send to a checked address.

    This is what a ``deliver_webhook`` task calls once per run. The DNS answer
    is fetched here, once, and used for the connection; the signature is made
    just before sending so ``webhook-timestamp`` is the attempt time. A refused
    URL ends the delivery (``retry=False``); a DNS failure is retried. Signing
    errors (a bad configured secret) propagate: they are configuration errors,
    not delivery outcomes.
    """
    started = time.perf_counter()
    try:
        async with asyncio.timeout(timeout):
            target = await resolve_callback(url, allowed=allowed, resolver=resolver)
    except UnsafeCallbackURL as exc:
        log.warning("webhook_callback_refused", webhook_id=msg_id, error=str(exc))
        return DeliveryOutcome(
            delivered=False, retry=False, error=str(exc), duration_ms=_elapsed_ms(started)
        )
    except (CallbackResolutionError, TimeoutError) as exc:
        error = str(exc) if isinstance(exc, CallbackResolutionError) else "DNS lookup timed out"
        log.warning("webhook_callback_unresolved", webhook_id=msg_id, error=error)
        return DeliveryOutcome(
            delivered=False, retry=True, error=error, duration_ms=_elapsed_ms(started)
        )

    headers = webhook_headers(secrets, msg_id, int(time.time()), body)
    remaining = max(0.001, timeout - (time.perf_counter() - started))
    return await attempt_delivery(client, target, body, headers, timeout=remaining)

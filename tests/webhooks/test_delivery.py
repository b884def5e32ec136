"""Delivery attempts against a real receiver (uvicorn on 127.0.0.1), pinned to checked IPs."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import itertools
import json
import re
import socket
import struct
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest
import structlog.testing

from riskdrift.errors import UnsafeCallbackURL
from riskdrift.webhooks.delivery import (
    DeliveryClient,
    DeliveryOutcome,
    attempt_delivery,
    create_delivery_client,
    deliver,
)
from riskdrift.webhooks.signing import generate_secret, webhook_headers, webhook_id
from riskdrift.webhooks.ssrf import ResolvedTarget, parse_allowed_networks, resolve_callback
from tests.doubles import ScriptedDNS
from tests.doubles.receiver import (
    Receiver,
    client_context,
    make_certificates,
    serve_receiver,
)

SECRET = generate_secret()
LOOPBACK = parse_allowed_networks(["127.0.0.0/8"])
HOSTNAME = "hooks.riskdrift.test"  # not in any real DNS: only our resolver knows it
BODY = json.dumps({"type": "job.completed", "data": {"ticker": "AAPL"}}).encode()
MSG_ID = webhook_id(uuid.UUID(int=1), "job.completed")


@pytest.fixture(scope="module")
async def receiver() -> AsyncIterator[Receiver]:
    async with serve_receiver(SECRET) as running:
        yield running


@pytest.fixture(scope="module")
async def client() -> AsyncIterator[DeliveryClient]:
    async with create_delivery_client() as delivery_client:
        yield delivery_client


def signed() -> dict[str, str]:
    return webhook_headers([SECRET], MSG_ID, int(time.time()), BODY)


async def target_for(url: str, dns: ScriptedDNS | None = None) -> ResolvedTarget:
    return await resolve_callback(url, allowed=LOOPBACK, resolver=dns or ScriptedDNS(["127.0.0.1"]))


async def attempt(
    client: DeliveryClient, receiver: Receiver, script: str, *, budget: float = 5
) -> DeliveryOutcome:
    target = await target_for(receiver.url(script, host=HOSTNAME))
    return await attempt_delivery(client, target, BODY, signed(), timeout=budget)


async def test_2xx_is_delivered_with_a_verifiable_signature_and_the_hostname(
    client: DeliveryClient, receiver: Receiver
) -> None:
    before = len(receiver.received)
    outcome = await attempt(client, receiver, "ok")
    assert outcome.delivered
    assert not outcome.retry
    assert outcome.status_code == 200
    assert outcome.error is None
    assert outcome.address == "127.0.0.1"
    assert outcome.duration_ms > 0
    [got] = receiver.received[before:]
    assert got.verified
    assert got.body == BODY
    assert got.headers["host"] == f"{HOSTNAME}:{receiver.port}"
    assert got.headers["webhook-id"] == MSG_ID
    assert got.headers["content-type"] == "application/json"
    assert got.headers["user-agent"].startswith("riskdrift-webhooks/")


@pytest.mark.parametrize(
    ("script", "status", "retry", "retry_after"),
    [
        ("error", 500, True, None),
        ("gone", 410, False, None),
        ("busy", 429, True, 7.0),
        ("redirect", 302, True, None),
        ("bad", 400, True, None),
    ],
)
async def test_non_2xx_answers(
    client: DeliveryClient,
    receiver: Receiver,
    script: str,
    status: int,
    retry: bool,
    retry_after: float | None,
) -> None:
    before = len(receiver.received)
    outcome = await attempt(client, receiver, script)
    assert not outcome.delivered
    assert outcome.status_code == status
    assert outcome.retry is retry
    assert outcome.retry_after == retry_after
    assert outcome.error
    # exactly one request: a redirect is not followed
    assert [r.script for r in receiver.received[before:]] == [script]


async def test_retry_after_as_an_http_date(client: DeliveryClient, receiver: Receiver) -> None:
    outcome = await attempt(client, receiver, "unavailable")
    assert outcome.status_code == 503
    assert outcome.retry
    assert outcome.retry_after is not None
    assert 100 <= outcome.retry_after <= 121


async def test_a_slow_receiver_times_out_and_is_retried(
    client: DeliveryClient, receiver: Receiver
) -> None:
    outcome = await attempt(client, receiver, "slow", budget=0.3)
    assert not outcome.delivered
    assert outcome.retry
    assert outcome.status_code is None
    assert outcome.error is not None
    assert "timed out" in outcome.error
    assert 250 <= outcome.duration_ms < 3000


async def test_connection_refused_is_retried(client: DeliveryClient) -> None:
    target = await target_for("http://127.0.0.1:1/hook")
    outcome = await attempt_delivery(client, target, BODY, signed(), timeout=5)
    assert not outcome.delivered
    assert outcome.retry
    assert outcome.error is not None
    assert "ConnectError" in outcome.error


async def test_the_next_checked_address_is_tried_when_one_refuses(
    client: DeliveryClient, receiver: Receiver
) -> None:
    # Nothing listens on 127.0.0.2 (the receiver is bound to 127.0.0.1 only).
    dns = ScriptedDNS(["127.0.0.2", "127.0.0.1"])
    target = await target_for(receiver.url("ok", host=HOSTNAME), dns)
    outcome = await attempt_delivery(client, target, BODY, signed(), timeout=5)
    assert outcome.delivered
    assert outcome.address == "127.0.0.1"


async def test_deliver_resolves_exactly_once_and_connects_to_the_checked_address(
    client: DeliveryClient, receiver: Receiver
) -> None:
    dns = ScriptedDNS(["127.0.0.1"])
    before = len(receiver.received)
    outcome = await deliver(
        client,
        receiver.url("ok", host=HOSTNAME),
        BODY,
        msg_id=MSG_ID,
        secrets=[SECRET, generate_secret()],
        allowed=LOOPBACK,
        timeout=5,
        resolver=dns,
    )
    assert outcome.delivered
    # One lookup, ours: httpx never resolved HOSTNAME (no real DNS knows it).
    assert dns.lookups == [(HOSTNAME, receiver.port)]
    [got] = receiver.received[before:]
    assert got.verified
    assert abs(int(got.headers["webhook-timestamp"]) - time.time()) < 60


async def test_a_rebinding_answer_after_the_check_cannot_redirect_the_connection(
    client: DeliveryClient, receiver: Receiver
) -> None:
    # First answer passes the check (loopback is allowed here, standing in for a
    # public address); every later answer is the cloud metadata address.
    dns = ScriptedDNS(["127.0.0.1"], ["169.254.169.254"])
    target = await target_for(receiver.url("ok", host=HOSTNAME), dns)
    outcome = await attempt_delivery(client, target, BODY, signed(), timeout=5)
    assert outcome.delivered
    assert outcome.address == "127.0.0.1"
    assert len(dns.lookups) == 1  # the attempt did not look the name up again


async def test_a_rebinding_answer_is_refused_at_delivery(
    client: DeliveryClient, receiver: Receiver
) -> None:
    # Checked at submission (public), rebound to a private address by delivery time.
    dns = ScriptedDNS(["127.0.0.1"], ["10.0.0.7"])
    url = receiver.url("ok", host=HOSTNAME)
    await resolve_callback(url, allowed=LOOPBACK, resolver=dns)
    before = len(receiver.received)
    outcome = await deliver(
        client,
        url,
        BODY,
        msg_id=MSG_ID,
        secrets=[SECRET],
        allowed=LOOPBACK,
        timeout=5,
        resolver=dns,
    )
    assert not outcome.delivered
    assert not outcome.retry  # permanent: the URL now points somewhere unsafe
    assert outcome.error is not None
    assert "10.0.0.7, which is private" in outcome.error
    assert len(dns.lookups) == 2
    assert receiver.received[before:] == []


async def test_deliver_refuses_loopback_unless_allowed(
    client: DeliveryClient, receiver: Receiver
) -> None:
    before = len(receiver.received)
    outcome = await deliver(
        client, receiver.url("ok"), BODY, msg_id=MSG_ID, secrets=[SECRET], timeout=5
    )
    assert not outcome.retry
    assert outcome.error is not None
    assert "loopback" in outcome.error
    assert receiver.received[before:] == []


async def test_deliver_retries_a_dns_failure(client: DeliveryClient) -> None:
    async def broken(host: str, port: int) -> Sequence[str]:
        raise OSError("resolver down")

    outcome = await deliver(
        client,
        "https://hooks.example.com/",
        BODY,
        msg_id=MSG_ID,
        secrets=[SECRET],
        timeout=5,
        resolver=broken,
    )
    assert outcome.retry
    assert not outcome.delivered
    assert outcome.error is not None
    assert "could not resolve" in outcome.error


async def test_unsafe_url_error_type_is_permanent() -> None:
    with pytest.raises(UnsafeCallbackURL):
        await resolve_callback("http://127.0.0.1/")


# --- TLS: connect to the IP, verify the certificate against the hostname -----------------


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    return make_certificates(tmp_path_factory.mktemp("tls"), HOSTNAME)


@pytest.fixture(scope="module")
async def tls_receiver(certificates: tuple[Path, Path, Path]) -> AsyncIterator[Receiver]:
    _, cert, key = certificates
    async with serve_receiver(SECRET, certfile=cert, keyfile=key) as running:
        yield running


@pytest.fixture(scope="module")
async def tls_client(
    certificates: tuple[Path, Path, Path],
) -> AsyncIterator[DeliveryClient]:
    ca, _, _ = certificates
    async with create_delivery_client(verify=client_context(ca)) as delivery_client:
        yield delivery_client


async def test_tls_is_verified_against_the_hostname_while_connecting_to_the_ip(
    tls_client: DeliveryClient, tls_receiver: Receiver
) -> None:
    url = tls_receiver.url("ok", host=HOSTNAME, scheme="https")
    dns = ScriptedDNS(["127.0.0.1"])
    outcome = await deliver(
        tls_client,
        url,
        BODY,
        msg_id=MSG_ID,
        secrets=[SECRET],
        allowed=LOOPBACK,
        timeout=5,
        resolver=dns,
    )
    assert outcome.delivered, outcome.error
    assert len(dns.lookups) == 1
    assert tls_receiver.received[-1].headers["host"] == f"{HOSTNAME}:{tls_receiver.port}"


@pytest.mark.parametrize("host", ["other.riskdrift.test", "127.0.0.1"])
async def test_tls_to_a_name_the_certificate_does_not_cover_fails(
    tls_client: DeliveryClient, tls_receiver: Receiver, host: str
) -> None:
    before = len(tls_receiver.received)
    target = await target_for(tls_receiver.url("ok", host=host, scheme="https"))
    outcome = await attempt_delivery(tls_client, target, BODY, signed(), timeout=5)
    assert not outcome.delivered
    assert outcome.retry
    assert outcome.error is not None
    assert "CERTIFICATE_VERIFY_FAILED" in outcome.error
    assert tls_receiver.received[before:] == []


async def test_a_verified_connection_never_carries_a_request_for_another_name(
    tls_client: DeliveryClient, tls_receiver: Receiver
) -> None:
    good = await target_for(tls_receiver.url("ok", host=HOSTNAME, scheme="https"))
    assert (await attempt_delivery(tls_client, good, BODY, signed(), timeout=5)).delivered
    # Same IP and port, a name the certificate does not cover: the kept-alive connection
    # verified for HOSTNAME is not reused for it (one pool per destination), so the
    # handshake for this name is made, and fails.
    before = len(tls_receiver.received)
    other = await target_for(tls_receiver.url("ok", host="127.0.0.1", scheme="https"))
    outcome = await attempt_delivery(tls_client, other, BODY, signed(), timeout=5)
    assert not outcome.delivered
    assert outcome.error is not None
    assert "CERTIFICATE_VERIFY_FAILED" in outcome.error
    assert tls_receiver.received[before:] == []


async def test_a_destination_keeps_its_connection_between_deliveries(
    client: DeliveryClient, receiver: Receiver
) -> None:
    before = len(receiver.received)
    for _ in range(3):
        assert (await attempt(client, receiver, "ok")).delivered
    assert len({r.peer for r in receiver.received[before:]}) == 1


async def test_two_hostnames_on_one_address_never_share_a_connection(
    client: DeliveryClient, receiver: Receiver
) -> None:
    before = len(receiver.received)
    for host in (HOSTNAME, "other.riskdrift.test", HOSTNAME, "other.riskdrift.test"):
        target = await target_for(receiver.url("ok", host=host))
        assert (await attempt_delivery(client, target, BODY, signed(), timeout=5)).delivered
    peers: dict[str, set[str]] = {}
    for got in receiver.received[before:]:
        peers.setdefault(got.headers["host"].split(":")[0], set()).add(got.peer)
    assert len(peers[HOSTNAME]) == 1
    assert len(peers["other.riskdrift.test"]) == 1
    assert peers[HOSTNAME].isdisjoint(peers["other.riskdrift.test"])


async def test_the_least_recently_used_destination_is_closed_beyond_the_limit(
    receiver: Receiver,
) -> None:
    hosts = ["a.riskdrift.test", "b.riskdrift.test", "c.riskdrift.test"]
    async with DeliveryClient(max_destinations=2) as small:
        before = len(receiver.received)
        for host in [*hosts, hosts[0]]:
            target = await target_for(receiver.url("ok", host=host))
            assert (await attempt_delivery(small, target, BODY, signed(), timeout=5)).delivered
        assert small.destinations == 2
    first, *_, again = receiver.received[before:]
    assert first.headers["host"] == again.headers["host"]
    assert first.peer != again.peer  # a's pool was closed when c came; a new connection


class ClosingReceiver:
    """Raw HTTP/1.1: answers 204 to ``answered`` requests per connection, then reads the
    next request and closes without answering (a keep-alive timeout racing a request)."""

    def __init__(self, answered: int, *, reset: bool = False) -> None:
        self.answered = answered
        self.reset = reset  # close with an RST (SO_LINGER 0) instead of a FIN
        self.connections = 0
        self.requests = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            for n in itertools.count():
                head = await reader.readuntil(b"\r\n\r\n")
                length = re.search(rb"content-length: *(\d+)", head, re.IGNORECASE)
                await reader.readexactly(int(length.group(1)) if length else 0)
                self.requests += 1
                if n >= self.answered:
                    if self.reset:
                        linger = struct.pack("ii", 1, 0)
                        writer.get_extra_info("socket").setsockopt(
                            socket.SOL_SOCKET, socket.SO_LINGER, linger
                        )
                    return
                writer.write(b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n")
                await writer.drain()
        except asyncio.IncompleteReadError:
            pass
        finally:
            writer.close()


@contextlib.asynccontextmanager
async def closing_receiver(
    answered: int, *, reset: bool = False
) -> AsyncIterator[tuple[ClosingReceiver, int]]:
    raw = ClosingReceiver(answered, reset=reset)
    server = await asyncio.start_server(raw.handle, "127.0.0.1", 0)
    try:
        yield raw, server.sockets[0].getsockname()[1]
    finally:
        server.close()


@pytest.mark.parametrize("reset", [False, True], ids=["closed", "reset"])
async def test_a_kept_connection_closed_by_the_receiver_is_replaced_once(reset: bool) -> None:
    async with closing_receiver(answered=1, reset=reset) as (raw, port), DeliveryClient() as client:
        target = await target_for(f"http://{HOSTNAME}:{port}/hook")
        first = await attempt_delivery(client, target, BODY, signed(), timeout=5)
        # The kept connection is closed under the second request; it goes again, anew.
        second = await attempt_delivery(client, target, BODY, signed(), timeout=5)
    assert first.delivered
    assert second.delivered, second.error
    assert (raw.connections, raw.requests) == (2, 3)


@pytest.mark.parametrize(("reset", "error"), [(False, "RemoteProtocolError"), (True, "ReadError")])
async def test_a_receiver_that_never_answers_gets_two_tries_and_a_retry(
    reset: bool, error: str
) -> None:
    async with closing_receiver(answered=0, reset=reset) as (raw, port), DeliveryClient() as client:
        target = await target_for(f"http://{HOSTNAME}:{port}/hook")
        outcome = await attempt_delivery(client, target, BODY, signed(), timeout=5)
    assert not outcome.delivered
    assert outcome.retry
    assert outcome.error is not None
    assert error in outcome.error
    assert (raw.connections, raw.requests) == (2, 2)


def test_pinned_url_uses_the_address_and_keeps_path_and_query() -> None:
    target = ResolvedTarget(
        url="https://hooks.example.com:8443/cb?token=x",
        scheme="https",
        host="hooks.example.com",
        port=8443,
        path="/cb?token=x",
        addresses=(ipaddress.ip_address("2606:2800:21f:cb07:6820:80da:af6b:8b2c"),),
    )
    assert target.pinned_url(target.addresses[0]) == (
        "https://[2606:2800:21f:cb07:6820:80da:af6b:8b2c]:8443/cb?token=x"
    )
    assert target.host_header == "hooks.example.com:8443"
    assert target.origin == "https://hooks.example.com:8443"


async def test_logs_carry_the_origin_but_no_secret_signature_or_path(
    client: DeliveryClient, receiver: Receiver
) -> None:
    url = receiver.url("ok", host=HOSTNAME) + "?token=s3cr3t"
    with structlog.testing.capture_logs() as logs:
        outcome = await deliver(
            client,
            url,
            BODY,
            msg_id=MSG_ID,
            secrets=[SECRET],
            allowed=LOOPBACK,
            timeout=5,
            resolver=ScriptedDNS(["127.0.0.1"]),
        )
    assert outcome.delivered
    [event] = logs
    assert event["event"] == "webhook_delivered"
    assert event["origin"] == f"http://{HOSTNAME}:{receiver.port}"
    assert event["webhook_id"] == MSG_ID
    text = repr(logs)
    assert SECRET.removeprefix("whsec_") not in text
    assert "s3cr3t" not in text
    assert "/hook/" not in text
    assert "v1," not in text

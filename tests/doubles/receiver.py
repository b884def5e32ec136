"""A real webhook receiver for tests: Starlette on uvicorn, in-process, on 127.0.0.1.

It verifies every request with the reference ``standardwebhooks`` library and
answers according to the last path segment (the "script"):

``ok`` 200 · ``error`` 500 · ``gone`` 410 · ``busy`` 429 + ``Retry-After: 7`` ·
``unavailable`` 503 + an HTTP-date ``Retry-After`` · ``redirect`` 302 to ``ok`` ·
``bad`` 400 · ``slow`` waits until released (for timeouts).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import email.utils
import socket
import ssl
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import uvicorn
from standardwebhooks.webhooks import Webhook, WebhookVerificationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route


@dataclass
class Received:
    script: str
    headers: dict[str, str]
    body: bytes
    verified: bool
    peer: str = ""  # the client's address:port: which connection carried the request


@dataclass
class Receiver:
    secret: str
    host: str = "127.0.0.1"
    port: int = 0
    received: list[Received] = field(default_factory=list)
    release: asyncio.Event = field(default_factory=asyncio.Event)

    def url(self, script: str, *, host: str | None = None, scheme: str = "http") -> str:
        return f"{scheme}://{host or self.host}:{self.port}/hook/{script}"

    async def handle(self, request: Request) -> Response:
        script = request.path_params["script"]
        body = await request.body()
        headers = dict(request.headers)
        try:
            Webhook(self.secret).verify(body, headers)
            verified = True
        except WebhookVerificationError:
            verified = False
        peer = f"{request.client.host}:{request.client.port}" if request.client else ""
        self.received.append(Received(script, headers, body, verified, peer))
        if not verified:
            return JSONResponse({"error": "bad signature"}, status_code=401)
        if script == "ok":
            return JSONResponse({"ok": True})
        if script == "error":
            return Response(status_code=500)
        if script == "gone":
            return Response(status_code=410)
        if script == "busy":
            return Response(status_code=429, headers={"retry-after": "7"})
        if script == "unavailable":
            when = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=120)
            return Response(
                status_code=503, headers={"retry-after": email.utils.format_datetime(when, True)}
            )
        if script == "redirect":
            return Response(status_code=302, headers={"location": "/hook/ok"})
        if script == "slow":
            await self.release.wait()
            return Response(status_code=200)
        return Response(status_code=400)


@contextlib.asynccontextmanager
async def serve_receiver(
    secret: str, *, certfile: Path | None = None, keyfile: Path | None = None
) -> AsyncIterator[Receiver]:
    """Run a :class:`Receiver` until the block exits; waits for start-up with a deadline."""
    receiver = Receiver(secret=secret)
    app = Starlette(routes=[Route("/hook/{script}", receiver.handle, methods=["POST"])])
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    receiver.port = sock.getsockname()[1]
    config = uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,
        lifespan="off",
        ws="none",
        ssl_certfile=str(certfile) if certfile else None,
        ssl_keyfile=str(keyfile) if keyfile else None,
        timeout_graceful_shutdown=2,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        async with asyncio.timeout(10):
            while not server.started:
                if task.done():
                    task.result()  # surface a start-up failure
                await asyncio.sleep(0.005)
        yield receiver
    finally:
        receiver.release.set()
        server.should_exit = True
        async with asyncio.timeout(10):
            await task
        sock.close()


def make_certificates(directory: Path, hostname: str) -> tuple[Path, Path, Path]:
    """A throw-away CA and a server certificate for ``hostname`` (via the openssl CLI)."""
    ca_key, ca_pem = directory / "ca.key", directory / "ca.pem"
    key, csr, pem, ext = (directory / n for n in ("leaf.key", "leaf.csr", "leaf.pem", "ext.cnf"))
    ext.write_text(
        f"subjectAltName=DNS:{hostname}\n"
        "basicConstraints=critical,CA:FALSE\n"
        "keyUsage=critical,digitalSignature,keyEncipherment\n"
        "extendedKeyUsage=serverAuth\n"
        "subjectKeyIdentifier=hash\n"
        "authorityKeyIdentifier=keyid\n"
    )
    run = [
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", ca_key,
         "-out", ca_pem, "-days", "2", "-subj", "/CN=riskdrift test CA",
         "-addext", "basicConstraints=critical,CA:TRUE",
         "-addext", "keyUsage=critical,keyCertSign,cRLSign"],
        ["openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr,
         "-subj", f"/CN={hostname}"],
        ["openssl", "x509", "-req", "-in", csr, "-CA", ca_pem, "-CAkey", ca_key,
         "-CAcreateserial", "-out", pem, "-days", "2", "-extfile", ext],
    ]  # fmt: skip
    for command in run:
        subprocess.run([str(part) for part in command], check=True, capture_output=True)
    return ca_pem, pem, key


def client_context(ca_pem: Path) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(ca_pem))

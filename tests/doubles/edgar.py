"""A fake SEC EDGAR: EDGAR-shaped JSON fixtures and real 10-K documents over HTTP.

Paths mirror EDGAR's two hosts under two prefixes of one server:
``/www`` stands for https://www.sec.gov and ``/data`` for https://data.sec.gov.
Every request is recorded (path, arrival time, User-Agent) so tests can count
downloads and measure request spacing; ``fail`` queues canned error answers
for a path, ``break_path`` makes a path fail forever, ``hang`` makes it
never answer (until the server stops) and ``encode`` serves a path's body
compressed with the given stacked Content-Encodings (or replaces it, for bombs).
Files of a filing other than the primary document (``<accession>-index.htm``, an
EX-13) are served from ``fixtures/archive/<cik>/<accession folder>/``.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

FIXTURES = Path(__file__).resolve().parent.parent / "sources" / "fixtures"
ARCHIVE = FIXTURES / "archive"  # <cik>/<accession folder>/<file>: synthetic filing files


@dataclass(frozen=True)
class Seen:
    path: str
    at: float  # time.monotonic() on arrival
    user_agent: str | None


def stub_document(form: str, fiscal_year: int | None) -> bytes:
    """A minimal cover page for a filing the shared corpus does not hold: inline-XBRL
    tagged, or (``fiscal_year`` None) plain HTML as filed before inline XBRL."""
    if fiscal_year is None:
        return f"<html><body><p>FORM {form}</p><p>ANNUAL REPORT</p></body></html>".encode()
    return (
        '<html xmlns:ix="http://www.xbrl.org/2013/inlineXBRL"><body>'
        '<div style="display:none"><ix:header><ix:hidden>'
        f'<ix:nonNumeric name="dei:DocumentType" contextRef="c-1">{form}</ix:nonNumeric>'
        '<ix:nonNumeric name="dei:DocumentFiscalYearFocus" contextRef="c-1">'
        f"{fiscal_year}</ix:nonNumeric>"
        "</ix:hidden></ix:header></div>"
        f"<p>FORM {form} (test stub for fiscal {fiscal_year})</p></body></html>"
    ).encode()


@dataclass
class FakeEdgar:
    """The fake's state; ``app()`` is the ASGI application."""

    corpus: Path
    seen: list[Seen] = field(default_factory=list)
    faults: dict[str, list[tuple[int, dict[str, str]]]] = field(default_factory=dict)
    broken: dict[str, int] = field(default_factory=dict)
    hanging: set[str] = field(default_factory=set)
    encoded: dict[str, tuple[list[str], bytes | None]] = field(default_factory=dict)
    release: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        self.documents: dict[str, dict[str, Any]] = json.loads(
            (FIXTURES / "documents.json").read_text()
        )
        # (cik, accession folder, primary document) → accession, from the submissions fixtures
        self.archive: dict[tuple[int, str, str], str] = {}
        for path in FIXTURES.glob("CIK*.json"):
            data = json.loads(path.read_text())
            table = data["filings"]["recent"] if "filings" in data else data
            cik = int(path.name[3:13])
            for accession, doc in zip(
                table["accessionNumber"], table["primaryDocument"], strict=True
            ):
                self.archive[(cik, accession.replace("-", ""), doc)] = accession

    # --- test controls ------------------------------------------------------------------

    def fail(self, path: str, status: int, headers: dict[str, str] | None = None) -> None:
        """Answer the next request for ``path`` with ``status`` (queue several by calling again)."""
        self.faults.setdefault(path, []).append((status, headers or {}))

    def break_path(self, path: str, status: int = 503) -> None:
        self.broken[path] = status

    def hang(self, path: str) -> None:
        self.hanging.add(path)

    def encode(self, path: str, encodings: list[str], raw: bytes | None = None) -> None:
        """Serve ``path`` with ``Content-Encoding: <encodings>``: its body compressed in
        that order, or ``raw`` as given (already encoded, e.g. a decompression bomb)."""
        self.encoded[path] = (encodings, raw)

    def count(self, path: str) -> int:
        return sum(1 for s in self.seen if s.path == path)

    def paths(self) -> list[str]:
        return [s.path for s in self.seen]

    # --- the application ----------------------------------------------------------------

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/{path:path}", self._dispatch)])

    async def _dispatch(self, request: Request) -> Response:
        path = request.url.path
        self.seen.append(Seen(path, time.monotonic(), request.headers.get("user-agent")))
        if path in self.hanging:
            await self.release.wait()
            return Response(status_code=504)
        if self.faults.get(path):
            status, headers = self.faults[path].pop(0)
            return Response(f"error {status}", status_code=status, headers=headers)
        if path in self.broken:
            return Response("unavailable", status_code=self.broken[path])
        if path in self.encoded:
            encodings, given = self.encoded[path]
            body = bytes(self._serve(path).body) if given is None else given
            if given is None:
                for coding in encodings:
                    body = gzip.compress(body) if coding == "gzip" else zlib.compress(body)
            return Response(body, headers={"content-encoding": ", ".join(encodings)})
        return self._serve(path)

    def _serve(self, path: str) -> Response:
        if path == "/www/ping":
            return Response("pong")
        if path == "/www/files/company_tickers.json":
            return Response(
                (FIXTURES / "company_tickers.json").read_bytes(), media_type="application/json"
            )
        if path.startswith("/data/submissions/"):
            name = path.removeprefix("/data/submissions/")
            file = FIXTURES / name
            if "/" in name or not name.startswith("CIK") or not file.is_file():
                return JSONResponse({"message": "Not Found"}, status_code=404)
            return Response(file.read_bytes(), media_type="application/json")
        if path.startswith("/www/Archives/edgar/data/"):
            parts = path.removeprefix("/www/Archives/edgar/data/").split("/")
            if len(parts) == 3 and parts[0].isdigit():
                accession = self.archive.get((int(parts[0]), parts[1], parts[2]))
                spec = self.documents.get(accession or "")
                if spec and "corpus" in spec:
                    return Response(
                        (self.corpus / str(spec["corpus"])).read_bytes(), media_type="text/html"
                    )
                if spec and isinstance(spec.get("stub"), dict):
                    stub = spec["stub"]
                    return Response(
                        stub_document(str(stub["form"]), stub["fiscal_year"]),
                        media_type="text/html",
                    )
                # Any other file of a filing (its -index.htm, an EX-13) kept as a fixture.
                file = ARCHIVE.joinpath(*parts)
                if all(p and not p.startswith(".") for p in parts) and file.is_file():
                    return Response(file.read_bytes(), media_type="text/html")
        return Response("Not Found", status_code=404)

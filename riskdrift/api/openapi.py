"""The OpenAPI 3.1 document, generated from the same pydantic models the routes use."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from riskdrift import __version__
from riskdrift.api.routes_batches import (
    Batch,
    BatchAccepted,
    BatchPage,
    BatchRequest,
    BatchResults,
)
from riskdrift.api.routes_history import History
from riskdrift.api.routes_ranking import Ranking
from riskdrift.api.routes_watchlists import (
    Watchlist,
    WatchlistPage,
    WatchlistPatch,
    WatchlistRequest,
)
from riskdrift.models import (
    FIRST_FISCAL_YEAR,
    AnalysisResult,
    AnalyzeRequest,
    Job,
    JobAccepted,
    JobPage,
    Problem,
    RiskSearchResults,
    WebhookDelivery,
    WebhookDeliveryList,
    latest_fiscal_year,
)

REF = "#/components/schemas/{model}"
MODELS: list[type[BaseModel]] = [
    AnalyzeRequest,
    Job,
    JobAccepted,
    JobPage,
    AnalysisResult,
    Problem,
    WebhookDelivery,
    WebhookDeliveryList,
    RiskSearchResults,
    BatchRequest,
    BatchAccepted,
    Batch,
    BatchPage,
    BatchResults,
    History,
    WatchlistRequest,
    WatchlistPatch,
    Watchlist,
    WatchlistPage,
    Ranking,
]


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": REF.format(model=model.__name__)}


def _json(model: type[BaseModel], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ref(model)}}}


RETRY_AFTER_HEADER = {
    "Retry-After": {
        "description": "seconds to wait before trying again",
        "schema": {"type": "integer", "minimum": 0},
    }
}


def _problems(*codes: int) -> dict[str, Any]:
    """Problem responses; a 429 or 503 also names its ``Retry-After`` header."""
    responses: dict[str, Any] = {}
    for code in codes:
        response: dict[str, Any] = {
            "description": "problem details (RFC 9457)",
            "content": {"application/problem+json": {"schema": _ref(Problem)}},
        }
        if code in (429, 503):
            response["headers"] = RETRY_AFTER_HEADER
        if code == 429:
            response["description"] = (
                "problem details (RFC 9457): over the submission rate limit "
                "(`rate-limited`) or the tenant's queued-jobs cap (`queue-full`)"
            )
        responses[str(code)] = response
    return responses


# One Server-Sent Event as a client parses it; `data` is the JSON of a JobEvent
# (or of the Job view, for `resync`).
SSE_EVENT: dict[str, Any] = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "event": {"type": "string"},
        "data": {"type": "string"},
        "retry": {"type": "integer"},
    },
}

JOB_ID = {
    "name": "job_id",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "format": "uuid"},
}


BATCH_ID = {
    "name": "batch_id",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "format": "uuid"},
}


def _batch_paths() -> dict[str, Any]:
    """``/batches…`` and ``/companies/{ticker}/history`` (issue 15)."""
    return {
        "/batches": {
            "post": {
                "summary": "Submit a batch: tickers × one pair of years, or one ticker's history",
                "description": (
                    "Either {tickers (1-1000, no duplicates), years: [current, previous]} or "
                    "{ticker, from_year, to_year} (one job per consecutive pair). The batch "
                    "and all its jobs are created atomically; each job is an ordinary job "
                    "(in /jobs, streamable, cancellable). Every job counts against the "
                    "tenant's queued-jobs cap and the submission rate limit. With "
                    "callback_url, a signed `batch.completed` webhook is sent when the "
                    "last job ends."
                ),
                "parameters": [
                    {
                        "name": "Idempotency-Key",
                        "in": "header",
                        "required": False,
                        "schema": {"type": "string", "minLength": 1, "maxLength": 255},
                    }
                ],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _ref(BatchRequest)}},
                },
                "responses": {
                    "202": _json(BatchAccepted, "queued"),
                    "200": _json(BatchAccepted, "replay of an Idempotency-Key"),
                    **_problems(400, 413, 415, 422, 429, 503),
                },
            },
            "get": {
                "summary": "List batches, newest first",
                "parameters": [
                    {
                        "name": "cursor",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "string"},
                    },
                    {
                        "name": "limit",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "integer", "minimum": 1, "maximum": 200},
                    },
                ],
                "responses": {"200": _json(BatchPage, "a page"), **_problems(400, 422)},
            },
        },
        "/batches/{batch_id}": {
            "get": {
                "summary": "A batch: counts by state, progress, failures with reasons",
                "parameters": [BATCH_ID],
                "responses": {"200": _json(Batch, "the batch"), **_problems(404)},
            }
        },
        "/batches/{batch_id}/cancel": {
            "post": {
                "summary": "Cancel every job of the batch not started yet",
                "parameters": [BATCH_ID],
                "responses": {"200": _json(Batch, "the batch after the cancel"), **_problems(404)},
            }
        },
        "/batches/{batch_id}/stream": {
            "get": {
                "summary": "Aggregate events (Server-Sent Events): one per job state change",
                "description": "`batch_progress` frames carry the job, its new state and the "
                "batch's counts; the stream ends with `batch_completed`. "
                "Last-Event-ID resumes exactly; after the end, 204.",
                "parameters": [
                    BATCH_ID,
                    {
                        "name": "Last-Event-ID",
                        "in": "header",
                        "required": False,
                        "schema": {"type": "string"},
                    },
                ],
                "responses": {
                    "200": {
                        "description": "event stream",
                        "content": {"text/event-stream": {"schema": SSE_EVENT}},
                    },
                    "204": {"description": "the batch's stream already ended"},
                    **_problems(400, 404),
                },
            }
        },
        "/batches/{batch_id}/results.json": {
            "get": {
                "summary": "One row per pair: counts new/removed/modified, cosine similarity, "
                "top drift category, error if failed",
                "parameters": [BATCH_ID],
                "responses": {"200": _json(BatchResults, "the rows"), **_problems(404)},
            }
        },
        "/batches/{batch_id}/results.csv": {
            "get": {
                "summary": "The same rows as CSV",
                "parameters": [BATCH_ID],
                "responses": {
                    "200": {
                        "description": "CSV with a header line",
                        "content": {"text/csv": {"schema": {"type": "string"}}},
                    },
                    **_problems(404),
                },
            }
        },
        "/companies/{ticker}/history": {
            "get": {
                "summary": "A company's Item 1A year by year, from its consecutive-pair analyses",
                "parameters": _HISTORY_PARAMETERS,
                "responses": {"200": _json(History, "the series"), **_problems(422)},
            }
        },
        "/companies/{ticker}/history.svg": {
            "get": {
                "summary": "The same history as an SVG line chart",
                "parameters": _HISTORY_PARAMETERS,
                "responses": {
                    "200": {
                        "description": "the chart",
                        "content": {"image/svg+xml": {"schema": {"type": "string"}}},
                    },
                    **_problems(422),
                },
            }
        },
    }


WATCHLIST_ID = {
    "name": "watchlist_id",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "format": "uuid"},
}


_RANKING_PARAMETERS = [
    {
        "name": "by",
        "in": "query",
        "schema": {"type": "string", "enum": ["change", "min_edit", "jaccard", "cosine"]},
        "description": "the measure ranked by: change = 1 - mean(min_edit, jaccard, cosine) "
        "(default), or 1 - one of the similarities",
    },
    {
        "name": "format",
        "in": "query",
        "schema": {"type": "string", "enum": ["json", "csv", "html"]},
    },
]
_RANKING_RESPONSES = {
    "200": {
        "description": "the completed pairs, most changed first, with percentiles",
        "content": {
            "application/json": {"schema": _ref(Ranking)},
            "text/csv": {"schema": {"type": "string"}},
            "text/html": {"schema": {"type": "string"}},
        },
    },
    **_problems(400, 404, 422),
}


def _watchlist_paths() -> dict[str, Any]:
    """``/watchlists…`` and the rankings (issue 24)."""
    return {
        "/batches/{batch_id}/ranking": {
            "get": {
                "summary": "The batch's completed pairs ranked by how much Item 1A changed",
                "description": "Lazy Prices similarities to the prior year (min-edit, Jaccard, "
                "cosine), each pair's percentile within the batch, counts of new/removed/"
                "modified risks and of material changes. ?format=csv gives the same rows.",
                "parameters": [BATCH_ID, *_RANKING_PARAMETERS],
                "responses": _RANKING_RESPONSES,
            }
        },
        "/stream/watchlists/{watchlist_id}": {
            "get": {
                "summary": "The watchlist's new analyses as Server-Sent Events",
                "description": "One `filing_analysed` frame per analysis a new filing started, "
                "when it ends (completed or failed): the `filing.analysed` webhook's data. "
                "Last-Event-ID resumes exactly; where entries are gone, a `resync` frame "
                "carries the watchlist. The stream does not end.",
                "parameters": [
                    WATCHLIST_ID,
                    {
                        "name": "Last-Event-ID",
                        "in": "header",
                        "required": False,
                        "schema": {"type": "string"},
                    },
                ],
                "responses": {
                    "200": {
                        "description": "event stream",
                        "content": {"text/event-stream": {"schema": SSE_EVENT}},
                    },
                    **_problems(400, 404),
                },
            }
        },
        "/watchlists/{watchlist_id}/ranking": {
            "get": {
                "summary": "The analyses a watchlist started for one fiscal year, ranked",
                "parameters": [
                    WATCHLIST_ID,
                    {
                        "name": "year",
                        "in": "query",
                        "required": True,
                        "schema": {"type": "integer"},
                    },
                    *_RANKING_PARAMETERS,
                ],
                "responses": _RANKING_RESPONSES,
            }
        },
        "/watchlists": {
            "post": {
                "summary": "Watch companies: every new 10-K they file is analysed",
                "description": (
                    "The scheduler polls each company's filings every RISKDRIFT_WATCH_INTERVAL "
                    "seconds. Its first poll records what the company has filed so far (the "
                    "baseline, not analysed); a filing seen after that starts the analysis of "
                    "its fiscal year against the previous one, once, as an ordinary job with "
                    "trigger `watch` and this watchlist's id. A ticker the filing source does "
                    "not know shows status `unknown_ticker` after its first poll. 422 for "
                    "duplicates, bad forms, or more companies (over all the tenant's "
                    "watchlists) or watchlists than the tenant's caps; 409 for a name taken."
                ),
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _ref(WatchlistRequest)}},
                },
                "responses": {
                    "201": _json(Watchlist, "created"),
                    **_problems(400, 409, 413, 415, 422),
                },
            },
            "get": {
                "summary": "List watchlists, newest first",
                "parameters": [
                    {"name": "cursor", "in": "query", "schema": {"type": "string"}},
                    {
                        "name": "limit",
                        "in": "query",
                        "schema": {"type": "integer", "minimum": 1, "maximum": 200},
                    },
                ],
                "responses": {"200": _json(WatchlistPage, "a page"), **_problems(400, 422)},
            },
        },
        "/watchlists/{watchlist_id}": {
            "get": {
                "summary": "A watchlist: its companies, their last filing seen and last analysis",
                "parameters": [WATCHLIST_ID],
                "responses": {"200": _json(Watchlist, "the watchlist"), **_problems(404)},
            },
            "patch": {
                "summary": "Rename, change forms or callback, replace/add/remove companies",
                "parameters": [WATCHLIST_ID],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _ref(WatchlistPatch)}},
                },
                "responses": {
                    "200": _json(Watchlist, "the watchlist after the change"),
                    **_problems(400, 404, 409, 415, 422),
                },
            },
            "delete": {
                "summary": "Stop watching: the watchlist goes, the jobs it started stay",
                "parameters": [WATCHLIST_ID],
                "responses": {"204": {"description": "deleted"}, **_problems(404)},
            },
        },
    }


# Operations that need no key; they override the document's default security.
PUBLIC_OPERATIONS = ("/healthz", "/readyz")


_HISTORY_PARAMETERS = [
    {"name": "ticker", "in": "path", "required": True, "schema": {"type": "string"}},
    {"name": "from", "in": "query", "required": True, "schema": {"type": "integer"}},
    {"name": "to", "in": "query", "required": True, "schema": {"type": "integer"}},
]
"""The history routes' parameters (the JSON series and its SVG chart)."""


def build_openapi() -> dict[str, Any]:
    """The whole document; served at ``/openapi.json`` (and read by ``/docs``)."""
    document = _document()
    for path, operations in document["paths"].items():
        for operation in operations.values():
            if path in PUBLIC_OPERATIONS:
                operation["security"] = []
            else:  # a missing, wrong or revoked key
                operation["responses"].update(_problems(401))
    return document


def _document() -> dict[str, Any]:
    _, defs = models_json_schema([(m, "validation") for m in MODELS], ref_template=REF)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "riskdrift",
            "version": __version__,
            "description": "Jobs that analyse 10-K risk-factor drift between fiscal years.",
        },
        "paths": {
            "/analyze": {
                "post": {
                    "summary": "Submit an analysis job",
                    "description": (
                        "With a callback_url the finished job is announced by a signed "
                        "Standard Webhooks POST (job.completed or job.failed). The URL is "
                        "refused with 422 if it resolves to a private, loopback, link-local "
                        "or otherwise non-global address (unless the operator allows it), if "
                        "its host does not resolve, or if the server has no webhook secret. "
                        'callback_payload "thin" leaves the result out of job.completed.'
                    ),
                    "parameters": [
                        {
                            "name": "Idempotency-Key",
                            "in": "header",
                            "required": False,
                            "schema": {"type": "string", "minLength": 1, "maxLength": 255},
                        }
                    ],
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": _ref(AnalyzeRequest)}},
                    },
                    "responses": {
                        "202": _json(JobAccepted, "queued"),
                        "200": _json(JobAccepted, "replay of an Idempotency-Key"),
                        **_problems(400, 413, 415, 422, 429, 503),
                    },
                }
            },
            "/jobs": {
                "get": {
                    "summary": "List jobs, newest first",
                    "parameters": [
                        {
                            "name": "status",
                            "in": "query",
                            "schema": {
                                "type": "string",
                                "enum": [
                                    "queued",
                                    "processing",
                                    "completed",
                                    "failed",
                                    "cancelled",
                                ],
                            },
                        },
                        {"name": "ticker", "in": "query", "schema": {"type": "string"}},
                        {"name": "cursor", "in": "query", "schema": {"type": "string"}},
                        {
                            "name": "limit",
                            "in": "query",
                            "schema": {"type": "integer", "minimum": 1, "maximum": 200},
                        },
                    ],
                    "responses": {"200": _json(JobPage, "a page of jobs"), **_problems(400, 422)},
                }
            },
            "/jobs/{job_id}": {
                "get": {
                    "summary": "Job status",
                    "parameters": [JOB_ID],
                    "responses": {"200": _json(Job, "the job"), **_problems(404)},
                }
            },
            "/jobs/{job_id}/result": {
                "get": {
                    "summary": "Analysis result",
                    "description": (
                        "The whole result by default: what the report needs, including every "
                        "risk's text for both years and its sentence changes. `fields` keeps "
                        "only the named fields, `exclude` leaves them out; names are top-level "
                        "fields or `risks.<field>`, and `exclude=texts` drops the large "
                        "per-risk texts (`risks.text_current`, `risks.text_previous`, "
                        "`risks.changes`). An unknown name is a 400."
                    ),
                    "parameters": [
                        JOB_ID,
                        {
                            "name": "fields",
                            "in": "query",
                            "schema": {"type": "string"},
                            "example": "ticker,years,similarity,summary,risks.title_current",
                        },
                        {
                            "name": "exclude",
                            "in": "query",
                            "schema": {"type": "string"},
                            "example": "texts",
                        },
                    ],
                    "responses": {
                        "200": _json(AnalysisResult, "the result"),
                        **_problems(400, 404, 409),
                    },
                }
            },
            "/jobs/{job_id}/report": {
                "get": {
                    "summary": "The result as a self-contained HTML report",
                    "description": (
                        "Summary, extraction warnings, heatmap (inline SVG), themes, every "
                        "modified risk as a redline and new/removed risks in full; no "
                        "external assets. 409 while the job has no result."
                    ),
                    "parameters": [JOB_ID],
                    "responses": {
                        "200": {
                            "description": "the report page",
                            "content": {"text/html": {"schema": {"type": "string"}}},
                        },
                        **_problems(404, 409),
                    },
                }
            },
            "/jobs/{job_id}/retry": {
                "post": {
                    "summary": "Submit a failed or cancelled job's request again, as a new job",
                    "description": (
                        "The new job is an ordinary one (same ticker, years and callback); "
                        "the tenant's rate limit and queued-jobs cap apply. 409 unless the "
                        "job is failed or cancelled."
                    ),
                    "parameters": [JOB_ID],
                    "responses": {
                        "202": _json(JobAccepted, "queued"),
                        **_problems(404, 409, 422, 429, 503),
                    },
                }
            },
            "/jobs/{job_id}/cancel": {
                "post": {
                    "summary": "Cancel a queued or running job",
                    "parameters": [JOB_ID],
                    "responses": {"200": _json(Job, "cancelled"), **_problems(404, 409)},
                }
            },
            "/jobs/{job_id}/deliveries": {
                "get": {
                    "summary": "The job's webhook deliveries, each with every attempt",
                    "parameters": [JOB_ID],
                    "responses": {
                        "200": _json(WebhookDeliveryList, "deliveries and attempts"),
                        **_problems(404),
                    },
                }
            },
            "/jobs/{job_id}/deliveries/redeliver": {
                "post": {
                    "summary": "Send the finished job's webhook again",
                    "description": (
                        "Same webhook-id and body as before, a new attempt series with the "
                        "full retry schedule. 409 if the job is unfinished or cancelled, has "
                        "no callback_url, or webhooks are not configured on this server."
                    ),
                    "parameters": [JOB_ID],
                    "responses": {
                        "202": _json(WebhookDelivery, "redelivery queued"),
                        **_problems(404, 409),
                    },
                }
            },
            "/risks/search": {
                "get": {
                    "summary": "Semantic search over the risk factors of your analyses",
                    "description": (
                        "Ranks the stored risk factors of filings your own jobs analysed by "
                        "cosine similarity to q, embedded with the server's embedding model. "
                        "503 if the embedder cannot load. See docs/EMBEDDINGS.md."
                    ),
                    "parameters": [
                        {
                            "name": "q",
                            "in": "query",
                            "required": True,
                            "schema": {"type": "string", "minLength": 1, "maxLength": 1000},
                        },
                        {"name": "ticker", "in": "query", "schema": {"type": "string"}},
                        {
                            "name": "year",
                            "in": "query",
                            "schema": {
                                "type": "integer",
                                "minimum": FIRST_FISCAL_YEAR,
                                "maximum": latest_fiscal_year(),
                            },
                        },
                        {
                            "name": "limit",
                            "in": "query",
                            "schema": {
                                "type": "integer",
                                "minimum": 1,
                                "maximum": 100,
                                "default": 10,
                            },
                        },
                    ],
                    "responses": {
                        "200": _json(RiskSearchResults, "matching risks, best first"),
                        **_problems(400, 422, 503),
                    },
                }
            },
            "/stream/{job_id}": {
                "get": {
                    "summary": "Progress events (Server-Sent Events)",
                    "description": "Frames carry id (the stream entry id), event and data "
                    "(JSON). Last-Event-ID resumes exactly; a trimmed or expired history "
                    "gives a `resync` event with the Job view. See docs/SSE.md.",
                    "parameters": [
                        JOB_ID,
                        {
                            "name": "Last-Event-ID",
                            "in": "header",
                            "required": False,
                            "schema": {"type": "string", "pattern": "^([0-9]+-[0-9]+)?$"},
                        },
                        {
                            "name": "last_event_id",
                            "in": "query",
                            "required": False,
                            "description": "Last-Event-ID for clients that cannot set headers; "
                            "empty means from the start",
                            "schema": {"type": "string", "pattern": "^([0-9]+-[0-9]+)?$"},
                        },
                    ],
                    "responses": {
                        "200": {
                            "description": "event stream",
                            "content": {"text/event-stream": {"schema": SSE_EVENT}},
                        },
                        "204": {"description": "the job's stream already ended"},
                        **_problems(400, 404, 503),
                    },
                }
            },
            "/healthz": {
                "get": {"summary": "Liveness", "responses": {"200": {"description": "alive"}}}
            },
            "/readyz": {
                "get": {
                    "summary": "Readiness (Redis, Postgres, migrations)",
                    "responses": {
                        "200": {"description": "ready"},
                        "503": {"description": "not ready"},
                    },
                }
            },
            **_batch_paths(),
            **_watchlist_paths(),
        },
        "components": {
            "schemas": defs["$defs"],
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "An API key from `riskdrift keys create NAME --tenant T`. "
                    "GET requests may pass it as `?key=` instead (for EventSource).",
                }
            },
        },
        # Every operation needs a key but the public ones (see PUBLIC_OPERATIONS).
        "security": [{"bearerAuth": []}],
    }

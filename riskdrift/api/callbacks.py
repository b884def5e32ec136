"""Where a submitted ``callback_url`` may point: checked before anything is stored.

The one check of a callback at submission, for jobs (``POST /analyze``), batches and
watchlists alike; its shape (absolute http(s)) is :data:`riskdrift.models.CallbackURL`.
"""

from __future__ import annotations

import asyncio

from pydantic import AnyUrl

from riskdrift.config import Settings
from riskdrift.errors import CallbackResolutionError, InvalidCallbackURL, UnsafeCallbackURL
from riskdrift.webhooks import parse_allowed_networks, resolve_callback


async def check_callback(callback_url: AnyUrl | str | None, settings: Settings) -> None:
    """Refuse a callback the worker could not or must not deliver to, before storing anything.

    The worker checks again at every attempt (DNS answers change); this check
    gives the client a clear 422 now instead of a ``refused`` delivery later.
    """
    if callback_url is None:
        return

    def refuse(message: str, type_: str) -> InvalidCallbackURL:
        return InvalidCallbackURL(
            message, errors=[{"field": "callback_url", "message": message, "type": type_}]
        )

    if not settings.webhook_secrets:
        raise refuse("webhooks are not configured on this server", "webhooks_not_configured")
    try:
        async with asyncio.timeout(min(settings.webhook_timeout, 5.0)):
            await resolve_callback(
                str(callback_url),
                allowed=parse_allowed_networks(settings.webhook_allowed_cidrs),
            )
    except UnsafeCallbackURL as exc:
        raise refuse(str(exc), "unsafe_callback_url") from None
    except (CallbackResolutionError, TimeoutError):
        raise refuse("callback_url host does not resolve", "callback_url_unresolved") from None

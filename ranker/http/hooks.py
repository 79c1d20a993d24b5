"""Posting to services outside Ranker (CDN purge APIs, alert webhooks): one attempt, and
whether another may succeed. Redirects are not followed: a hook's address is configured,
and a redirect could carry its credentials elsewhere."""

from __future__ import annotations

import aiohttp


class HookError(Exception):
    """An attempt failed; `retry` says whether another may succeed. The message names no
    address or credential."""

    def __init__(self, message: str, retry: bool) -> None:
        super().__init__(message)
        self.retry = retry


async def post(
    session: aiohttp.ClientSession, url: str, body: bytes, headers: dict[str, str], timeout: float
) -> int:
    """POST `body`; the status of a 2xx answer, or HookError (retry after no answer, a 5xx,
    408 or 429; not after another answer)."""
    try:
        async with session.post(
            url,
            data=body,
            headers=headers,
            timeout=aiohttp.ClientTimeout(total=timeout),
            allow_redirects=False,
        ) as response:
            await response.read()
    except (aiohttp.ClientError, TimeoutError) as e:
        raise HookError(f"no answer ({type(e).__name__})", retry=True) from None
    if response.status < 300:
        return response.status
    retry = response.status >= 500 or response.status in (408, 429)
    raise HookError(f"answered {response.status}", retry=retry)

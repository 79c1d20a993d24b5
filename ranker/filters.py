"""Which beacons are not a reader's view: bots, prefetches and clients sending too fast.

Pure and per process: the collector asks these on every beacon, passing the time in.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Mapping
from functools import lru_cache

# crawler-user-agents, not crawlerdetect: a larger list, released more often, with sample
# user agents for every pattern, and no browser-token stripping to pay for before a match.
from crawleruseragents import CRAWLER_USER_AGENTS_DATA  # type: ignore[import-untyped]

from ranker.patterns import PatternSet

MIN_UA = 10  # shorter than any browser's; longer than "curl/8"
MAX_UA = 512  # browsers and in-app browsers stay under ~400 characters

# Patterns as Python regular expressions, searched case-sensitively like the list's own.
_MORE_PATTERNS = (
    # Automation the list does not name.
    r"Electron\/",  # Electron's default, also Nightmare's and Cypress's
    r"Nightmare",
    r"SlimerJS",
    r"HtmlUnit",
    r"jsdom\/",
    # Link-preview fetchers the list does not name.
    r"Google-PageRenderer",
    r"Bluesky Cardyb",
    # What a self-declared bot shows even before any list knows it: a "name-bot/1.0"
    # product, a contact URL or e-mail address. No browser sends either.
    r"[Bb]ot\/",
    r"[Cc]rawler\/",
    r"[Ss]pider\/",
    r"[Ss]craper\/",
    r":\/\/",
    r"mailto:",
    r"@[\w-]+\.[A-Za-z]",
)
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")
_LETTER_RE = re.compile(r"[A-Za-z]")
_BOT_PATTERNS = PatternSet([p["pattern"] for p in CRAWLER_USER_AGENTS_DATA] + [*_MORE_PATTERNS])


def is_bot(user_agent: str) -> bool:
    """True for crawlers, link-preview fetchers, headless browsers, HTTP libraries and user
    agents no browser sends (empty, absurdly short or long, control characters, no letters,
    no "(platform)")."""
    if len(user_agent) > MAX_UA:  # checked first so the cache never holds a long string
        return True
    return _is_bot(user_agent)


@lru_cache(maxsize=4096)  # real traffic repeats a few thousand user agents
def _is_bot(user_agent: str) -> bool:
    return (
        len(user_agent.strip()) < MIN_UA
        or _CONTROL_RE.search(user_agent) is not None
        or _LETTER_RE.search(user_agent) is None
        or "(" not in user_agent  # every browser names its platform in parentheses
        or _BOT_PATTERNS.search(user_agent)  # after the control characters: see PatternSet
    )


# Chrome sends "Sec-Purpose: prefetch" and, when prerendering, "prefetch;prerender"; older
# Chrome "Purpose: prefetch", Safari "X-Purpose: preview", Firefox "X-moz: prefetch".
_PREFETCH_HEADERS = ("Sec-Purpose", "Purpose", "X-Purpose", "X-Moz")
_PREFETCH_RE = re.compile(r"prefetch|prerender|preview", re.IGNORECASE)


def is_prefetch(headers: Mapping[str, str]) -> bool:
    """True if the browser fetched this speculatively: nobody has seen the page yet.

    `headers` must look names up case-insensitively, as aiohttp's request.headers does.
    """
    for name in _PREFETCH_HEADERS:
        value = headers.get(name)
        if value and _PREFETCH_RE.search(value):
            return True
    return False


class RateLimiter:
    """A token bucket per client: `burst` beacons at once, then `rate` a second.

    State lives in this process: behind N collector processes a client gets up to N times
    the limit. At most `max_clients` buckets are kept; past that the least recently seen
    client is forgotten and, if it comes back, starts with a full bucket again. That only
    loosens the limit, and only for clients idle for less than `burst / rate` seconds while
    `max_clients` others were seen: size it above the clients seen in that time.
    """

    def __init__(self, rate: float, burst: int, max_clients: int) -> None:
        if rate <= 0 or burst < 1 or max_clients < 1:
            raise ValueError("rate must be positive, burst and max_clients at least 1")
        self.rate = rate
        self.burst = burst
        self.max_clients = max_clients
        # client -> (tokens, when last refilled), least recently seen first. An OrderedDict:
        # finding a plain dict's first key after many deletions walks past all of them.
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._buckets)

    def allow(self, client: str, now: float) -> bool:
        """Take a token from `client`'s bucket if it has one."""
        buckets = self._buckets
        bucket = buckets.get(client)
        if bucket is None:
            tokens, last = float(self.burst), now
        else:
            tokens, last = bucket
            buckets.move_to_end(client)
            if now > last:  # a clock that steps back refills nothing
                tokens = min(float(self.burst), tokens + (now - last) * self.rate)
                last = now
        allowed = tokens >= 1.0
        if allowed:
            tokens -= 1.0
        buckets[client] = (tokens, last)
        if len(buckets) > self.max_clients:
            buckets.popitem(last=False)
        return allowed

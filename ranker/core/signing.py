"""Signed view tokens: a publisher's pages may count ids missing from the catalog.

Standard library only, so a CMS can copy this file, or call it, to sign ids in templates.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

# What sign() makes: canonical expiry digits, a dot, 22 base64url characters (128 bits).
_TOKEN_RE = re.compile(r"(0|[1-9][0-9]{0,19})\.[A-Za-z0-9_-]{22}")


def _mac(secret: str, site: str, item_id: str, expires: int) -> str:
    message = f"{site}\n{item_id}\n{expires}".encode("utf-8", "surrogatepass")
    digest = hmac.new(secret.encode("utf-8", "surrogatepass"), message, hashlib.sha256)
    return base64.urlsafe_b64encode(digest.digest()[:16]).decode("ascii").rstrip("=")


def sign(secret: str, site: str, item_id: str, expires: int) -> str:
    """A URL-safe token letting `item_id` be counted on `site` until unix time `expires`.

    `secret` is the site's signing key in Ranker's configuration. The token may sit in a
    page for as long as it is cached; one expiring well after the article's cache lifetime
    (days, say) is fine, as it only lets that one id be counted on that one site.

    >>> sign("s3cret", "news", "story-42", 1767225600)
    '1767225600.nsWfbZWZgMEdEx8ncDeOZA'

    In a Jinja template, with `sign` and the key passed in: {{ sign(key, "news",
    story.id, now + 7 * 86400) }}, placed where the page's beacon reads its token.
    """
    if not secret:
        raise ValueError("secret: must not be empty")
    if "\n" in site or "\n" in item_id:
        raise ValueError("site and item_id must not contain a newline")
    if isinstance(expires, bool) or not isinstance(expires, int) or expires < 0:
        raise ValueError("expires: unix seconds, a non-negative integer")
    return f"{expires}.{_mac(secret, site, item_id, expires)}"


def verify(secret: str, site: str, item_id: str, token: str, now: float) -> bool:
    """True if `token` is sign(secret, site, item_id, expires) and `now` < expires.

    False for anything else (a token for another id or site, expired, malformed, of any
    length or alphabet); it never raises on strings. The comparison takes the same time
    whichever character differs.
    """
    if not secret or "\n" in site or "\n" in item_id:
        return False
    match = _TOKEN_RE.fullmatch(token) if len(token) <= 64 else None
    if match is None:
        return False
    expires = int(match.group(1))
    if not now < expires:  # also refuses a NaN clock
        return False
    return hmac.compare_digest(token, f"{expires}.{_mac(secret, site, item_id, expires)}")

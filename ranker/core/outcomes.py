"""What becomes of a beacon: counted, held by a filter, or refused. Each reason is a
`StrEnum`, so a member is also the string stored in Redis, shown in the API and the
dashboard, and used as a metrics label."""

from __future__ import annotations

from enum import StrEnum
from typing import Final


class Held(StrEnum):
    """Why a view of a known story was held: answered 202, kept per story by reason, and
    releasable by an editor. In the order the filters run."""

    BOT = "bot"
    PREFETCH = "prefetch"
    INCONSISTENT = "inconsistent"
    DATACENTER = "datacenter"
    DUPLICATE = "duplicate"
    ADDRESS_LIMIT = "address_limit"
    CONCENTRATED = "concentrated"


class Denied(StrEnum):
    """Why admission refused a beacon outright (a 4xx, named as the member)."""

    RATE_LIMITED = "rate_limited"
    BAD_ID = "bad_id"
    UNKNOWN_ITEM = "unknown_item"  # neither catalogued nor signed
    BAD_TOKEN = "bad_token"


class Refusal(StrEnum):
    """What a refused beacon is tallied under, per site."""

    UNSIGNED = "unsigned"  # an id neither catalogued nor signed, or a bad token
    RATE_LIMITED = "rate_limited"
    MALFORMED = "malformed"  # no JSON, no site, a bad id, too large, ...
    OVERLOADED = "overloaded"  # the buffer was full while Redis was away


# Admission's verdict on a beacon: None when counted.
Outcome = Held | Denied | None
# Why a beacon was not counted, as tallied.
Reason = Held | Refusal

HELD: Final = tuple(Held)
REASONS: Final[tuple[Reason, ...]] = (*Held, *Refusal)
# What an editor's release puts back into the counts unless the call names reasons: the
# views held for where they came from, not for what sent them.
RELEASED_BY_DEFAULT: Final = (Held.CONCENTRATED, Held.ADDRESS_LIMIT, Held.DATACENTER)

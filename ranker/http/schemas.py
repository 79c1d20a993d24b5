"""The HTTP interface's shapes, declared once: the beacon, the query parameters and the
answers, with their limits. Handlers read their limits from here; /openapi.json is
generated from these models (the catalog entry's are in ranker.core.validate, with its rule)."""

from __future__ import annotations

import typing
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any, Final, Literal

import msgspec
from msgspec import UNSET, Meta, Struct, UnsetType

from ranker.core import trends
from ranker.core.config import SITE_RE, Settings
from ranker.core.outcomes import HELD, REASONS
from ranker.core.validate import DATE_PATTERN, ID_RE, NUMBER_RE, SECTION_RE, UNIX_RANGE, pattern
from ranker.core.windows import BUCKET_SECONDS, WINDOWS, Resolution
from ranker.http.errors import ApiError

MAX_N: Final = 100  # the longest list a reader or an editor may ask for
MAX_SERIES_IDS: Final = 100
MAX_EXCLUDE: Final = 20  # stories one list request may leave out
MAX_AGE_PATTERN: Final = r"^[0-9]{1,9}(\.[0-9]{1,6})?(ms|s|m|h|d)?$"  # a list's max_age
MAX_IMPORT_ERRORS: Final = 100  # refused import lines reported, at most

_DEFAULTS: Final = Settings()
_RETENTION: Final = {
    "minute": _DEFAULTS.minute_retention,
    "hour": _DEFAULTS.hour_retention,
    "day": _DEFAULTS.day_retention,
}

# -- names and values ---------------------------------------------------------------------
# Patterns that only ranker.core.validate's functions apply (with fullmatch, and after admission's
# earlier filters for a beacon) are extra_json_schema: described, never enforced by msgspec.

SiteName = Annotated[
    str,
    Meta(
        description="a site configured as `[sites.NAME]`",
        examples=["demo"],
        extra_json_schema={"pattern": pattern(SITE_RE)},
    ),
]
StoryId = Annotated[
    str,
    Meta(
        description="a story id",
        examples=["tram-line-approved"],
        extra_json_schema={"pattern": pattern(ID_RE)},
    ),
]
Count = Annotated[int, Meta(ge=0)]
Timestamp = Annotated[datetime, Meta(tz=True)]  # in UTC, as ISO-8601
Rank = Annotated[int, Meta(ge=1)]
Window = Annotated[str, Meta(extra_json_schema={"enum": list(WINDOWS)})]
HeldReason = Annotated[str, Meta(extra_json_schema={"enum": [str(r) for r in HELD]})]
# Views held, by reason: a reason appears once it holds a view.
HeldCounts = Annotated[
    dict[str, Annotated[int, Meta(ge=1)]],
    Meta(extra_json_schema={"propertyNames": {"enum": [str(r) for r in HELD]}}),
]
NotCountedReason = Annotated[str, Meta(extra_json_schema={"enum": [str(r) for r in REASONS]})]
# Beacons not counted, by reason.
ByReason = Annotated[
    dict[str, Count],
    Meta(extra_json_schema={"propertyNames": {"enum": [str(r) for r in REASONS]}}),
]
Step = Annotated[int, Meta(extra_json_schema={"enum": list(BUCKET_SECONDS.values())})]
Section = Annotated[
    str,
    Meta(
        description="only this section's stories; empty or absent: the whole site",
        examples=["sport"],
        extra_json_schema={"pattern": pattern(SECTION_RE, optional=True), "not": {"const": "all"}},
    ),
]

# -- requests -----------------------------------------------------------------------------


class Path(Struct):
    """The parameters a route's path may hold, by name."""

    site: SiteName
    id: StoryId


class Beacon(Struct):
    """A view: `POST /v1/hit`'s body, and `GET /v1/hit.gif`'s query. Other fields are
    ignored; a non-string `token` is as none."""

    site: SiteName
    id: Annotated[
        str,
        Meta(
            description="a catalogued story, or one the `token` vouches for",
            examples=["tram-line-approved"],
            extra_json_schema={"pattern": pattern(ID_RE)},
        ),
    ]
    token: Annotated[
        Any,
        Meta(
            description=(
                "for an id missing from the catalog: `EXPIRES.MAC` from `ranker.core.signing.sign` "
                "with the site's `secret`; ignored for catalogued ids"
            ),
            examples=["1767225600.nsWfbZWZgMEdEx8ncDeOZA"],
        ),
    ] = None


BEACON: Final = msgspec.json.Decoder(Beacon)


class RecircEvent(Struct):
    """An impression or a click of a Most viewed box: `POST /v1/recirc`'s body."""

    site: SiteName
    event: Annotated[
        str,
        Meta(
            description="`impression`: half the box seen for a second; `click`: a story in it",
            extra_json_schema={"enum": ["impression", "click"]},
        ),
    ]
    placement: Annotated[
        str,
        Meta(
            description="where the box is, e.g. `article-sidebar`",
            extra_json_schema={"pattern": "^[a-z0-9][a-z0-9_-]{0,31}$"},
        ),
    ] = "default"
    page: Annotated[
        str, Meta(description="the page's own story", extra_json_schema={"pattern": pattern(ID_RE)})
    ] = ""
    id: Annotated[
        str,
        Meta(description="for a click: the story", extra_json_schema={"pattern": pattern(ID_RE)}),
    ] = ""
    position: Annotated[int, Meta(ge=1, le=MAX_N, description="for a click: its place")] = 1


RELEASE_RULE: Final = "reasons: a non-empty list of " + ", ".join(HELD)


class Release(Struct, forbid_unknown_fields=True):
    """Which held views to release; without a body, the default reasons."""

    reasons: Annotated[list[HeldReason], Meta(min_length=1)] | UnsetType = UNSET

    def __post_init__(self) -> None:
        if self.reasons is not UNSET and not set(self.reasons) <= set(HELD):
            raise ValueError(RELEASE_RULE)


MAX_PIN_DAYS: Final = 90  # how far ahead a pin may last
PIN_RULE: Final = (
    'expected {"until": ISO-8601 or unix seconds, within '
    f'{MAX_PIN_DAYS} days, "position"?: 1-{MAX_N}, "section"?, "windows"?: '
    "[...]}"
)


class PinWrite(Struct, forbid_unknown_fields=True, kw_only=True):
    """where and until when a story is pinned"""

    position: Annotated[int, Meta(ge=1, le=MAX_N, description="1 is the top")] = 1
    until: Annotated[
        Annotated[str, Meta(extra_json_schema={"pattern": DATE_PATTERN})]
        | Annotated[float, Meta(extra_json_schema=UNIX_RANGE)],
        Meta(
            description=(
                f"when the pin ends: ISO-8601 (without zone: UTC) or unix seconds, in the "
                f"future and within {MAX_PIN_DAYS} days"
            ),
            examples=["2026-12-02T18:00:00Z"],
        ),
    ]
    section: Annotated[
        Section | None, Meta(description="the section's lists; empty or absent: the site's")
    ] = None
    windows: Annotated[
        list[Window],
        Meta(min_length=1, description="the windows' lists it is pinned in; default: all"),
    ] = msgspec.field(default_factory=lambda: list(WINDOWS))


class PinView(Struct):
    id: str
    title: str
    url: str
    position: Rank
    until: Timestamp
    section: str | None
    windows: list[Window]


class Pins(Struct):
    pins: Annotated[list[PinView], Meta(description="by section (the site's first), then position")]


class Conditional(Struct, rename={"if_none_match": "If-None-Match"}):
    if_none_match: (
        Annotated[
            str,
            Meta(description="an `ETag` from an earlier answer (or `*`): `304` if it still holds"),
        ]
        | UnsetType
    ) = UNSET


class TopQuery(Struct, rename={"amp_source_origin": "__amp_source_origin"}):
    n: Annotated[int, Meta(ge=1, le=MAX_N, description="how many stories")] = 10
    window: Annotated[
        Window, Meta(description="`hot`: time-decayed; `1h` … `30d`: exact counts; `all`: all-time")
    ] = "hot"
    section: Section | UnsetType = UNSET
    author: (
        Annotated[
            str,
            Meta(
                max_length=200,
                description=(
                    "only stories naming this author (`Jane Doe` or `jane-doe`: case and "
                    "punctuation do not matter)"
                ),
            ),
        ]
        | UnsetType
    ) = UNSET
    tag: (
        Annotated[
            str,
            Meta(max_length=200, description="only stories with this tag (as `author`)"),
        ]
        | UnsetType
    ) = UNSET
    exclude: Annotated[
        list[Annotated[str, Meta(extra_json_schema={"pattern": pattern(ID_RE)})]],
        Meta(
            min_length=1,
            max_length=MAX_EXCLUDE,
            description=(
                "comma-separated story ids to leave out (the page's own story): left out "
                "before the cut, so the list still has n stories when n qualify"
            ),
            extra={"style": "form", "explode": False},
        ),
    ] = msgspec.field(default_factory=list)
    max_age: (
        Annotated[
            str,
            Meta(
                pattern=MAX_AGE_PATTERN,
                description=(
                    "only stories published within this long (`48h`, `90m`, `7d`), left out "
                    "before the cut; stories without `published_at` are left out too. `0`: any "
                    "age. Default: the site's `max_age`, else any age"
                ),
            ),
        ]
        | UnsetType
    ) = UNSET
    backfill: Annotated[
        bool,
        Meta(
            description=(
                "when fewer than n stories qualify, fill the list up with the latest "
                "published ones, marked `backfill` (`false`: never)"
            )
        ),
    ] = True
    amp_source_origin: (
        Annotated[
            str,
            Meta(
                description=(
                    "added by amp-list: the AMP page's origin, one of the site's `origins` "
                    "(`/top` only); named back in `AMP-Access-Control-Allow-Source-Origin`"
                ),
                examples=["https://news.example"],
            ),
        ]
        | UnsetType
    ) = UNSET


class AuthorsQuery(Struct):
    n: Annotated[int, Meta(ge=1, le=MAX_N, description="how many authors")] = 10
    window: Annotated[Window, Meta(description="as the top list's")] = "24h"
    section: Section | UnsetType = UNSET


class RecircQuery(Struct):
    window: Annotated[str, Meta(extra_json_schema={"enum": ["1h", "24h", "7d", "30d"]})] = "24h"
    placement: (
        Annotated[str, Meta(extra_json_schema={"pattern": "^[a-z0-9][a-z0-9_-]{0,31}$"})]
        | UnsetType
    ) = UNSET


class RisingQuery(Struct):
    n: Annotated[int, Meta(ge=1, le=MAX_N)] = 10
    section: Section | UnsetType = UNSET


class HeldQuery(Struct):
    n: Annotated[int, Meta(ge=1, le=MAX_N)] = 20


class AlertsQuery(Struct):
    n: Annotated[int, Meta(ge=1, le=MAX_N, description="the most recent alerts shown")] = 20


class BeaconsQuery(Struct):
    days: Annotated[
        int,
        Meta(
            ge=1,
            description=(
                "how many days, ending today: at most `retention.day` in days "
                f"({int(_RETENTION['day'] // BUCKET_SECONDS['day'])} by default)"
            ),
        ),
    ] = 7


_KEPT: Final = ", ".join(
    f"{int(_RETENTION[res] // size)} for `{res}`" for res, size in BUCKET_SECONDS.items()
)


class BucketsQuery(Struct):
    res: Annotated[Resolution, Meta(description="bucket size")] = "minute"
    n: Annotated[
        int,
        Meta(
            ge=1,
            description=(
                "how many buckets, ending with the current one (default 60, or all that are "
                "kept if fewer): at most the resolution's retention in buckets (with the "
                f"default retention: {_KEPT})"
            ),
        ),
    ] = 60


class SeriesQuery(BucketsQuery, kw_only=True):
    ids: Annotated[
        list[Annotated[str, Meta(extra_json_schema={"pattern": pattern(ID_RE)})]],
        Meta(
            min_length=1,
            max_length=MAX_SERIES_IDS,
            description="comma-separated story ids",
            extra={"style": "form", "explode": False},
        ),
    ]


class PageQuery(Struct):
    cursor: Annotated[
        int,
        Meta(
            ge=0,
            description="`0` or the `cursor` of the previous page",
            # As `le`, msgspec takes no bound past int64.
            extra_json_schema={"maximum": 2**64 - 1},
        ),
    ] = 0
    count: Annotated[int, Meta(ge=1, le=10_000, description="about how many ids a page holds")] = (
        1000
    )
    hidden: (
        Annotated[
            str,
            Meta(
                description="`true`: the hidden stories instead (any other value: ids)",
                examples=["true"],
            ),
        ]
        | UnsetType
    ) = UNSET


class DashboardQuery(Struct):
    site: (
        Annotated[str, Meta(description="the site to show; unknown: the first configured one")]
        | UnsetType
    ) = UNSET


@dataclass(frozen=True, slots=True)
class IntParam:
    """An integer query parameter as a model declares it: its default and range."""

    name: str
    default: int
    low: int
    high: int | None

    def read(
        self,
        query: typing.Mapping[str, str],
        *,
        high: int | None = None,
        default: int | None = None,
        error: tuple[str, str] | None = None,
    ) -> int:
        """The parameter in `query`, checked against the declared range (or `high`, a limit
        of the configuration), or ApiError 400: `bad_<name>`, or `error`'s code and message."""
        raw = query.get(self.name)
        if raw is None:
            return self.default if default is None else default
        high = high or self.high or 0  # a model without a limit has its handler give one
        if not NUMBER_RE.fullmatch(raw) or not self.low <= int(raw) <= high:
            name = self.name
            code, message = error or (
                f"bad_{name}",
                f"{name}: an integer from {self.low} to {high}",
            )
            raise ApiError(400, code, message)
        return int(raw)


def int_param(model: type[Struct], name: str) -> IntParam:
    """The integer parameter `name` of `model`, with what its Meta declares."""
    info = msgspec.inspect.type_info(model)
    assert isinstance(info, msgspec.inspect.StructType)
    field = next(f for f in info.fields if f.name == name)
    kind, extra = field.type, {}
    if isinstance(field.type, msgspec.inspect.Metadata):
        kind, extra = field.type.type, field.type.extra_json_schema or {}
    assert isinstance(kind, msgspec.inspect.IntType) and isinstance(field.default, int)
    high = kind.le if kind.le is not None else extra.get("maximum")
    return IntParam(field.encode_name, field.default, kind.ge or 0, high)


# -- answers ------------------------------------------------------------------------------


class Error(Struct, forbid_unknown_fields=True):
    error: Annotated[str, Meta(description="a stable code")]
    message: Annotated[str, Meta(description="what was wrong, for people")]


class NotCounted(Struct, forbid_unknown_fields=True):
    counted: Literal[False]
    reason: HeldReason


class BeaconDay(Struct):
    day: date
    counted: Count
    not_counted: ByReason
    total: Count
    released: Annotated[Count, Meta(description="held views released into the counts that day")]


class BeaconDays(Struct):
    site: str
    timezone: Annotated[str, Meta(description="the site's time zone, whose days these are")]
    reasons: list[NotCountedReason]
    days: Annotated[list[BeaconDay], Meta(description="newest day first")]


class Item(Struct, forbid_unknown_fields=True):
    """a stored catalog entry; unset text fields are empty strings"""

    id: str
    title: str
    url: str
    section: str
    summary: str
    image: str
    published_at: str
    authors: list[str]
    tags: list[str]
    hidden: bool


# Each window's rank: a field per window, named as the window (not always an identifier).
Ranks = msgspec.defstruct(
    "Ranks",
    [(f"w{w}", Rank | None) for w in WINDOWS],
    rename=lambda name: name[1:],
    forbid_unknown_fields=True,
)
Ranks.__doc__ = f"rank among visible stories; null past {MAX_N}"


class ItemDetail(Item, forbid_unknown_fields=True):
    """a stored catalog entry with its views"""

    views_total: Count
    ranks: Ranks  # type: ignore[valid-type]
    held: Annotated[HeldCounts, Meta(description="views held and not released")]


class TopItem(Struct):
    rank: Rank
    id: str
    title: str
    url: str
    section: str | None
    summary: str | None
    image: str | None
    published_at: str | None
    authors: list[str]
    views: Annotated[
        float, Meta(description="decayed views (a float) for `hot`, exact views otherwise")
    ]
    backfill: Annotated[
        bool,
        Meta(
            description=(
                "not ranked by views: one of the latest published stories, filling the list "
                "up because fewer stories qualified"
            )
        ),
    ]
    pinned: Annotated[
        bool, Meta(description="placed at this rank by an editor (`PUT …/pins/{id}`)")
    ]


class TopList(Struct, kw_only=True):
    site: str
    window: Window
    section: str | None
    author: Annotated[str, Meta(description="the author's slug, if asked for")] | UnsetType = UNSET
    tag: Annotated[str, Meta(description="the tag's slug, if asked for")] | UnsetType = UNSET
    n: Annotated[int, Meta(ge=1, le=MAX_N)]
    computed_at: Timestamp
    items: Annotated[list[TopItem], Meta(max_length=MAX_N)]


class Sections(Struct):
    sections: list[str]


# A rising story as ranker.core.trends computes it, with its rank.
RisingItem = msgspec.defstruct(
    "RisingItem",
    [("rank", Rank), *typing.get_type_hints(trends.Rising).items()],
)


class RisingHistory(Struct):
    """whether the site has been counted long enough for the baseline: until then a
    story's ratio compares it with time nobody counted"""

    ready: bool
    since: Annotated[Timestamp | None, Meta(description="when the site began counting")]
    ready_at: Annotated[Timestamp | None, Meta(description="when the baseline is whole")]


class Rising(Struct):
    site: str
    section: str | None
    computed_at: Timestamp
    short_window: Annotated[str, Meta(examples=[f"{trends.SHORT_MINUTES}m"])]
    baseline_window: Annotated[str, Meta(examples=[f"{trends.BASELINE_MINUTES // 60}h"])]
    min_views: Rank
    min_networks: Rank
    timezone: Annotated[str, Meta(description="the site's IANA time zone", examples=["UTC"])]
    history: RisingHistory
    items: Annotated[list[RisingItem], Meta(max_length=MAX_N)]  # type: ignore[valid-type]


class TopStory(Struct):
    id: str
    title: str
    url: str


class AuthorRank(Struct):
    rank: Rank
    author: Annotated[str, Meta(description="the slug: `?author=` lists the author's stories")]
    name: str
    views: Annotated[float, Meta(description="the author's stories' views, as the top list's")]
    stories: Annotated[int, Meta(ge=1, description="the author's stories with views")]
    top_story: Annotated[TopStory, Meta(description="the author's most viewed story")]


class Authors(Struct):
    site: str
    window: Window
    section: str | None
    computed_at: Timestamp
    stories: Annotated[Count, Meta(description="stories with views looked at")]
    complete: Annotated[
        bool,
        Meta(
            description=(
                "false when the window had more stories with views than one answer reads "
                "(the most viewed are read first)"
            )
        ),
    ]
    items: Annotated[list[AuthorRank], Meta(max_length=MAX_N)]


class PurgeHookStatus(Struct):
    hook: Annotated[str, Meta(description="its kind and target, e.g. `fastly:SERVICE_ID`")]
    sent: Count
    failed: Annotated[Count, Meta(description="purges given up after every retry")]
    retried: Annotated[Count, Meta(description="attempts that failed and were tried again")]
    last_error: str | None
    last_error_at: Timestamp | None


class Purges(Struct):
    hooks: list[PurgeHookStatus]


class AlertHookInfo(Struct):
    name: Annotated[str, Meta(description="the hook's name; never its address")]
    format: Literal["slack", "json"]
    kinds: list[Literal["rising", "held", "dropping", "digest"]]
    digest_at: Annotated[str, Meta(description="the digest's local time, HH:MM")]
    digest_window: str
    section: Annotated[
        str | None, Meta(description="the section whose stories it is told of; null: all")
    ]


class AlertRecord(Struct):
    hook: str
    kind: Literal["rising", "held", "dropping", "digest", "test"]
    key: Annotated[str, Meta(description="what it is about: one key, one message per hook")]
    title: str
    state: Literal["pending", "sent", "failed"]
    attempts: Count
    created: Timestamp
    sent_at: Timestamp | None
    next_at: Annotated[Timestamp | None, Meta(description="the next attempt, when pending")]
    last_error: str | None


class Alerts(Struct):
    timezone: str
    hooks: list[AlertHookInfo]
    pending: Annotated[Count, Meta(description="alerts not delivered yet")]
    recent: Annotated[list[AlertRecord], Meta(max_length=MAX_N)]


class FeedItemCounts(Struct):
    seen: Annotated[Count, Meta(description="items in the documents last read")]
    added: Count
    updated: Count
    unchanged: Annotated[Count, Meta(description="entries stored as they are: not written")]
    deleted: Annotated[Count, Meta(description="stories an editor deleted: left out")]
    errors: Annotated[Count, Meta(description="items that make no valid entry: skipped")]


class FeedTotals(Struct):
    added: Count
    updated: Count
    errors: Count


class FeedItemError(Struct):
    item: Annotated[str, Meta(description="the item's link or guid (a sitemap's address)")]
    reason: str


class FeedStatus(Struct):
    name: Annotated[str, Meta(description="`name` in the feed's configuration")]
    url: Annotated[str, Meta(description="its address, without credentials or query")]
    every: Annotated[int, Meta(ge=30, description="seconds between polls")]
    kind: Literal["rss", "atom", "sitemap", "sitemap index"] | None
    outcome: Annotated[
        Literal["changed", "unchanged", "not_modified", "failed"] | None,
        Meta(description="of the last poll; null before the first"),
    ]
    last_attempt: Timestamp | None
    last_success: Timestamp | None
    last_read: Annotated[
        Timestamp | None, Meta(description="when a document was last read anew (not a 304)")
    ]
    next_due: Timestamp | None
    failures: Annotated[Count, Meta(description="polls failed since the last that worked")]
    last_error: Annotated[str | None, Meta(description="why the last failed poll failed")]
    last_error_at: Timestamp | None
    items: Annotated[FeedItemCounts, Meta(description="of the documents last read anew")]
    totals: Annotated[FeedTotals, Meta(description="since the feed was first polled")]
    item_errors: Annotated[
        list[FeedItemError], Meta(max_length=20, description="why items were skipped, last read")
    ]


class Feeds(Struct):
    feeds: list[FeedStatus]


class FeedSyncResult(Struct):
    added: list[str]
    updated: list[str]
    unchanged: Annotated[list[str], Meta(description="stored as they are: not written")]
    deleted: Annotated[list[str], Meta(description="stories an editor deleted: not written")]
    errors: Annotated[
        list[LineError],
        Meta(
            max_length=MAX_IMPORT_ERRORS,
            description=f"the first {MAX_IMPORT_ERRORS} refused lines",
        ),
    ]


class RecircPosition(Struct):
    position: Rank
    clicks: Count
    ctr: Annotated[float | None, Meta(description="clicks per impression of the box")]


class RecircStory(Struct):
    id: str
    title: str
    url: str
    clicks: Count


class RecircPlacement(Struct):
    placement: str
    impressions: Count
    clicks: Count
    ctr: Annotated[float | None, Meta(description="clicks per impression; null without any")]
    positions: list[RecircPosition]
    stories: Annotated[list[RecircStory], Meta(description="most clicked first, at most 20")]


class Recirculation(Struct):
    site: str
    window: Window
    placements: list[RecircPlacement]


class Flag(Struct):
    network: str
    share: float
    at: Timestamp


class HeldItem(Struct):
    id: str
    title: str
    url: str
    section: str
    held: HeldCounts
    flag: Annotated[Flag | None, Meta(description="set while views are held as concentrated")]


class Held(Struct):
    site: str
    reasons: list[HeldReason]
    release_default: list[HeldReason]
    items: list[HeldItem]


class Released(Struct, forbid_unknown_fields=True):
    id: str
    released: HeldCounts
    views: Count


class Series(Struct):
    res: Resolution
    step: Annotated[Step, Meta(description="bucket size; a day of the site may be 23 or 25 h")]
    start: Annotated[int, Meta(description="unix start of the oldest bucket")]
    starts: Annotated[list[int], Meta(description="unix start of each bucket, oldest first")]
    timezone: Annotated[str, Meta(description="the site's time zone, whose days these are")]
    series: Annotated[
        dict[str, list[Count]], Meta(description="views per bucket for each id, oldest first")
    ]


class ItemSeries(Struct):
    id: str
    res: Resolution
    step: Step
    start: int
    timezone: Annotated[str, Meta(description="the site's time zone, whose days these are")]
    points: Annotated[
        list[Annotated[list[Count], Meta(min_length=2, max_length=2)]],
        Meta(description="[unix bucket start, views], oldest first"),
    ]


class ItemPage(Struct, forbid_unknown_fields=True):
    ids: list[str]
    cursor: Annotated[
        str | None, Meta(description="pass as `cursor` for the next page; null after the last")
    ]


class HiddenItem(Struct):
    id: str
    title: str
    url: str
    section: str | None


class HiddenItems(Struct, forbid_unknown_fields=True):
    items: list[HiddenItem]


class LineError(Struct):
    line: Rank
    error: str


class ImportResult(Struct):
    imported: Count
    created: Count
    errors: Annotated[
        list[LineError],
        Meta(
            max_length=MAX_IMPORT_ERRORS,
            description=f"the first {MAX_IMPORT_ERRORS} refused lines",
        ),
    ]


class Health(Struct):
    status: Literal["ok", "degraded"]
    pid: Annotated[int, Meta(description="the process that answered")]
    accepted_views: Count
    not_counted: ByReason
    pending_views: Count
    flushed_views: Count
    dropped_views: Count
    dev: Annotated[bool, Meta(description="`ranker serve --dev`: filters relaxed for one machine")]


class Ready(Struct):
    status: Literal["ready", "not_ready"]
    redis: Annotated[str, Meta(description="`ok`, or why not")]
    redis_ping_ms: float
    flush_lag_s: Annotated[float, Meta(description="seconds since everything accepted was written")]
    max_flush_lag_s: float

"""Local calendar days: a site's day buckets follow its newsroom's clock, and its time zone."""

from __future__ import annotations

import tomllib
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ranker.core.config import ConfigError, Site, load_settings, settings_from_mapping
from ranker.core.windows import (
    BUCKET_SECONDS,
    bucket_start,
    day_start,
    day_starts,
    local_date,
    next_day_start,
    window_buckets,
)

HOUR = 3600

# Whole-hour DST, clocks jumping over midnight (Santiago, Havana, Beirut), offsets that are
# not whole hours (Kathmandu, Kolkata, Chatham, St John's), a 30-minute DST (Lord Howe), a
# two-hour DST (Troll), +14 (Kiritimati), a clock turned back across midnight (St John's
# until 2010) and a skipped day (Apia, 2011-12-30).
ZONES = (
    "UTC",
    "Europe/Berlin",
    "America/New_York",
    "Asia/Kathmandu",
    "Asia/Kolkata",
    "Australia/Lord_Howe",
    "America/Santiago",
    "America/Havana",
    "Asia/Beirut",
    "Pacific/Chatham",
    "Pacific/Kiritimati",
    "America/St_Johns",
    "Antarctica/Troll",
    "Pacific/Apia",
)
FIRST = int(datetime(2000, 1, 1, tzinfo=UTC).timestamp())
LAST = int(datetime(2037, 12, 31, tzinfo=UTC).timestamp())


def at(zone: str, wall: str) -> float:
    """Unix time of a wall-clock time ("2026-03-29T12:00") in `zone`."""
    return datetime.fromisoformat(wall).replace(tzinfo=ZoneInfo(zone)).timestamp()


def wall(t: float, zone: str) -> str:
    return datetime.fromtimestamp(t, ZoneInfo(zone)).isoformat()


def hours(start: int, zone: str) -> float:
    return (next_day_start(start, ZoneInfo(zone)) - start) / HOUR


def transitions(zone: str) -> list[int]:
    """The instants its UTC offset changes between FIRST and LAST (weekly scan, bisected)."""
    tz = ZoneInfo(zone)

    def offset(t: int) -> timedelta | None:
        return datetime.fromtimestamp(t, tz).utcoffset()

    found = []
    week = 7 * 86400
    for t in range(FIRST, LAST, week):
        if offset(t) != offset(t + week):
            lo, hi = t, t + week
            while hi - lo > 1:
                mid = (lo + hi) // 2
                lo, hi = (mid, hi) if offset(mid) == offset(t) else (lo, mid)
            found.append(hi)
    return found


TRANSITIONS = {zone: transitions(zone) for zone in ZONES}


@st.composite
def zone_and_time(draw: st.DrawFn) -> tuple[str, float]:
    """A zone and a time in 2000-2037: anywhere, or within two days of a clock change."""
    zone = draw(st.sampled_from(ZONES))
    near = TRANSITIONS[zone]
    if draw(st.booleans()) and near:
        t = draw(st.sampled_from(near)) + draw(st.integers(-2 * 86400, 2 * 86400))
    else:
        t = draw(st.integers(FIRST, LAST))
    return zone, t + draw(st.sampled_from([0.0, 0.25, 0.999999]))


def test_the_tricky_zones_change_their_clocks() -> None:
    """The property tests below reach the transitions they are about."""
    steady = ("UTC", "Asia/Kolkata", "Asia/Kathmandu", "Pacific/Kiritimati")
    for zone in ZONES:
        assert bool(TRANSITIONS[zone]) == (zone not in steady), zone
    assert len(TRANSITIONS["Europe/Berlin"]) == 2 * 38


# -- explicit days -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("zone", "day", "length", "starts"),
    [
        ("Europe/Berlin", "2026-03-29", 23, "2026-03-29T00:00:00+01:00"),
        ("Europe/Berlin", "2026-10-25", 25, "2026-10-25T00:00:00+02:00"),
        ("Europe/Berlin", "2026-07-01", 24, "2026-07-01T00:00:00+02:00"),
        ("America/New_York", "2026-03-08", 23, "2026-03-08T00:00:00-05:00"),
        ("America/New_York", "2026-11-01", 25, "2026-11-01T00:00:00-04:00"),
        ("Australia/Lord_Howe", "2026-04-05", 24.5, "2026-04-05T00:00:00+11:00"),
        ("Australia/Lord_Howe", "2026-10-04", 23.5, "2026-10-04T00:00:00+10:30"),
        ("Antarctica/Troll", "2026-03-29", 22, "2026-03-29T00:00:00+00:00"),
        ("Antarctica/Troll", "2026-10-25", 26, "2026-10-25T00:00:00+02:00"),
        ("Pacific/Chatham", "2026-04-05", 25, "2026-04-05T00:00:00+13:45"),
        # Midnight never shows on the clock: the day starts when the clocks land at 01:00.
        ("America/Santiago", "2022-09-11", 23, "2022-09-11T01:00:00-03:00"),
        ("America/Havana", "2026-03-08", 23, "2026-03-08T01:00:00-04:00"),
        ("Asia/Beirut", "2026-03-29", 23, "2026-03-29T01:00:00+03:00"),
        # Beirut turns 00:00 back to 23:00: the day before gets the hour, its own midnight stays.
        ("Asia/Beirut", "2026-10-24", 25, "2026-10-24T00:00:00+03:00"),
        ("Asia/Beirut", "2026-10-25", 24, "2026-10-25T00:00:00+02:00"),
    ],
)
def test_a_local_day_starts_at_its_first_instant(
    zone: str, day: str, length: float, starts: str
) -> None:
    tz = ZoneInfo(zone)
    for clock in ("12:00", "23:59:59"):
        t = at(zone, f"{day}T{clock}")
        start = day_start(t, tz)
        assert wall(start, zone) == starts
        assert hours(start, zone) == length
        assert local_date(t, tz) == local_date(start, tz) == day
        assert local_date(start - 1, tz) < day


def test_kathmandu_days_start_at_a_quarter_past_six_utc_the_evening_before() -> None:
    tz = ZoneInfo("Asia/Kathmandu")
    start = day_start(at("Asia/Kathmandu", "2026-05-01T09:00"), tz)
    assert datetime.fromtimestamp(start, UTC) == datetime(2026, 4, 30, 18, 15, tzinfo=UTC)
    assert day_start(start - 0.5, tz) == start - 86400
    assert local_date(start, tz) == "2026-05-01" and local_date(start - 1, tz) == "2026-04-30"


class JumpOverMidnight(tzinfo):
    """UTC until 2026-01-01 23:30, when the clocks jump to 00:30 (+01:00): no zone has done
    that since 1970, but midnight in a gap that does not start at midnight must work too."""

    JUMP = datetime(2026, 1, 1, 23, 30)

    def utcoffset(self, dt: datetime | None) -> timedelta:
        assert dt is not None
        wall = dt.replace(tzinfo=None)
        # In the gap, fold=0 reads the offset before the jump and fold=1 the one after.
        after = wall >= self.JUMP + timedelta(hours=1) or (wall >= self.JUMP and dt.fold == 1)
        return timedelta(hours=1) if after else timedelta(0)

    def dst(self, dt: datetime | None) -> timedelta:
        return timedelta(0)

    def tzname(self, dt: datetime | None) -> str:
        return "JUMP"

    def fromutc(self, dt: datetime) -> datetime:
        after = dt.replace(tzinfo=None) >= self.JUMP
        return dt + (timedelta(hours=1) if after else timedelta(0))


def test_a_day_whose_midnight_is_skipped_starts_when_the_clocks_land() -> None:
    tz = JumpOverMidnight()
    jump = int(datetime(2026, 1, 1, 23, 30, tzinfo=UTC).timestamp())
    assert datetime.fromtimestamp(jump, tz).isoformat() == "2026-01-02T00:30:00+01:00"
    for t in (jump, jump + 600, jump + 20 * HOUR):
        assert day_start(t, tz) == jump
        assert local_date(t, tz) == "2026-01-02"
    first = jump - 23 * HOUR - HOUR // 2  # 2026-01-01 00:00, UTC
    assert day_start(jump - 1, tz) == first and next_day_start(first, tz) == jump
    assert next_day_start(jump, tz) == jump + 23 * HOUR + HOUR // 2  # 2026-01-03 00:00 +01:00
    assert day_starts(jump + HOUR, 2, tz) == [jump, first]


def test_a_skipped_day_is_no_bucket() -> None:
    """Samoa went from 2011-12-29 straight to 2011-12-31."""
    tz = ZoneInfo("Pacific/Apia")
    thirty_first = day_start(at("Pacific/Apia", "2011-12-31T08:00"), tz)
    starts = day_starts(thirty_first, 3, tz)
    assert [local_date(s, tz) for s in starts] == ["2011-12-31", "2011-12-29", "2011-12-28"]
    assert next_day_start(starts[1], tz) == thirty_first
    assert hours(starts[1], "Pacific/Apia") == 24


def test_a_clock_turned_back_across_midnight_stays_in_the_day_begun() -> None:
    """St John's ended DST at 00:01, back to 23:01: the rewound hour reads the day before on
    the clock, but that day has ended; it belongs to the new one."""
    zone, tz = "America/St_Johns", ZoneInfo("America/St_Johns")
    sunday = day_start(at(zone, "2005-10-30T12:00"), tz)
    assert wall(sunday, zone) == "2005-10-30T00:00:00-02:30"
    rewound = sunday + 30 * 60  # the clock reads 23:30 on Saturday again
    assert wall(rewound, zone) == "2005-10-29T23:30:00-03:30"
    assert day_start(rewound, tz) == sunday
    assert local_date(rewound, tz) == "2005-10-30"
    assert hours(sunday, zone) == 25
    assert hours(day_start(sunday - 1, tz), zone) == 24


# -- UTC: the days as they always were -------------------------------------------------------


@given(t=st.floats(min_value=0, max_value=4.0e9, allow_nan=False))
def test_utc_days_are_multiples_of_86400(t: float) -> None:
    for tz in (UTC, ZoneInfo("UTC")):
        start = day_start(t, tz)
        assert start % 86400 == 0
        assert start == bucket_start(t, "day")
        assert next_day_start(start, tz) == start + 86400
        assert local_date(t, tz) == datetime.fromtimestamp(start, UTC).date().isoformat()


@given(now=st.floats(min_value=1.6e9, max_value=2.0e9, allow_nan=False))
def test_window_buckets_are_unchanged_in_utc(now: float) -> None:
    last = bucket_start(now, "day")
    expected = [last - i * 86400 for i in range(30)]
    assert window_buckets("30d", now) == ("day", expected)
    assert window_buckets("30d", now, ZoneInfo("UTC")) == ("day", expected)


@given(now=st.floats(min_value=1.6e9, max_value=2.0e9, allow_nan=False))
def test_only_day_buckets_follow_the_zone(now: float) -> None:
    tz = ZoneInfo("Asia/Kathmandu")
    for window in ("1h", "24h", "7d"):
        assert window_buckets(window, now, tz) == window_buckets(window, now)
    resolution, starts = window_buckets("30d", now, tz)
    assert resolution == "day" and starts == day_starts(now, 30, tz)
    assert starts[0] % BUCKET_SECONDS["hour"] == 15 * 60  # 18:15 UTC


# -- every zone, every day -------------------------------------------------------------------


@settings(max_examples=1000)
@given(case=zone_and_time())
def test_a_time_lies_in_its_local_day(case: tuple[str, float]) -> None:
    zone, t = case
    tz = ZoneInfo(zone)
    start = day_start(t, tz)
    end = next_day_start(start, tz)
    assert start <= t < end
    assert day_start(start, tz) == start and day_start(end - 1, tz) == start
    assert local_date(start, tz) == local_date(t, tz)
    assert local_date(start - 1, tz) < local_date(start, tz) < local_date(end, tz)
    limits = (23.5, 24.5) if zone == "Australia/Lord_Howe" else (22, 26)
    assert limits[0] * HOUR <= end - start <= limits[1] * HOUR
    # The date is the one on the clock, but for the rewound minutes of a clock turned back
    # across midnight: then the clock is behind the offset the day began with.
    on_clock = datetime.fromtimestamp(int(t), tz)
    if local_date(t, tz) != on_clock.date().isoformat():
        began, now = datetime.fromtimestamp(start, tz).utcoffset(), on_clock.utcoffset()
        assert on_clock.date().isoformat() < local_date(t, tz)
        assert began is not None and now is not None and now < began


@settings(max_examples=300)
@given(case=zone_and_time(), n=st.integers(1, 40))
def test_day_starts_are_consecutive_days_ending_now(case: tuple[str, float], n: int) -> None:
    zone, now = case
    tz = ZoneInfo(zone)
    starts = day_starts(now, n, tz)
    assert len(starts) == n
    assert starts[0] == day_start(now, tz) <= now
    for newer, older in zip(starts, starts[1:], strict=False):
        assert older < newer == next_day_start(older, tz)
        assert day_start(newer - 1, tz) == older
    assert len({local_date(s, tz) for s in starts}) == n


def test_no_days_for_zero() -> None:
    assert day_starts(1.8e9, 0, UTC) == []


# -- sites.NAME.timezone -------------------------------------------------------------------


def site_with(timezone: object) -> Site:
    doc = {"sites": {"news": {"token": "t0k3n", "timezone": timezone}}}
    return settings_from_mapping(doc, {}).sites["news"]


def test_a_site_keeps_utc_days_unless_told() -> None:
    site = settings_from_mapping({"sites": {"news": {"token": "t0k3n"}}}, {}).sites["news"]
    assert site.timezone == "UTC" and site.zone == ZoneInfo("UTC")


@pytest.mark.parametrize("name", ["Asia/Kathmandu", "America/St_Johns", "UTC", "Etc/GMT-14"])
def test_a_site_has_the_time_zone_it_names(name: str) -> None:
    site = site_with(name)
    assert site.timezone == name
    assert site.zone is ZoneInfo(name)


def test_the_time_zone_is_read_from_the_file(tmp_path: Path) -> None:
    path = tmp_path / "ranker.toml"
    path.write_text('[sites.news]\ntoken = "t0k3n"\ntimezone = "Asia/Kathmandu"\n', "utf-8")
    site = load_settings(path, environ={}).sites["news"]
    start = day_start(at("Asia/Kathmandu", "2026-05-01T09:00"), site.zone)
    assert datetime.fromtimestamp(start, UTC) == datetime(2026, 4, 30, 18, 15, tzinfo=UTC)


@pytest.mark.parametrize(
    "name",
    [
        "Mars/Base",
        "../../etc/passwd",
        "/etc/passwd",
        "",
        "Europe/",
        "europe/berlin",
        "UTC ",
        "America",  # a folder of the zone data
        "zone.tab",  # a file of it that is no zone
        "localtime",  # the host's zone: a site's day would move with its machine
        "Factory",
        "posixrules",
        "posix/Europe/Berlin",
        "Europe/Berlin\0",
        5,
        1.5,
        True,
        ["UTC"],
    ],
)
def test_a_bad_time_zone_names_its_key(name: object) -> None:
    with pytest.raises(ConfigError, match=r"^sites\.news\.timezone: .*IANA time zone"):
        site_with(name)


def test_a_bad_time_zone_in_a_file_names_its_key() -> None:
    doc = tomllib.loads('[sites.news]\ntoken = "t0k3n"\ntimezone = "Mars/Base"\n')
    with pytest.raises(ConfigError) as info:
        settings_from_mapping(doc, {})
    assert str(info.value) == (
        "sites.news.timezone: unknown time zone 'Mars/Base'; "
        "expected an IANA time zone name like 'Europe/Berlin' or 'UTC'"
    )


def test_a_misspelt_timezone_key_is_named_with_a_suggestion() -> None:
    doc = {"sites": {"news": {"token": "t0k3n", "time_zone": "UTC"}}}
    with pytest.raises(ConfigError, match=r"sites\.news\.time_zone \(did you mean 'timezone'"):
        settings_from_mapping(doc, {})

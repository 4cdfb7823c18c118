"""SLA arithmetic: pure functions over aware datetimes, no database.

A *schedule* says when the clock may run (business hours in a time zone, minus holidays; or
always). *Pauses* are the intervals when the ticket waited on the customer (pending, on hold),
read from the event log. A deadline is the instant at which the running time since the start
reaches the target. Working in local wall-clock time per day and converting each interval to
an aware datetime makes DST changes come out right: a business day is 9:00–18:00 local, however
many UTC hours that is.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

# A deadline further than this in the future is not computed (an empty calendar would loop).
HORIZON_DAYS = 3 * 366

Interval = tuple[datetime, datetime]
Pause = tuple[datetime, datetime | None]  # end None: still paused


@dataclass(frozen=True)
class Schedule:
    """When SLA clocks run. ``hours`` maps weekday (Monday 0) to local (opens, closes) pairs;
    None means around the clock."""

    time_zone: zoneinfo.ZoneInfo = field(default_factory=lambda: zoneinfo.ZoneInfo("UTC"))
    hours: dict[int, tuple[tuple[time, time], ...]] | None = None
    holidays: frozenset[date] = frozenset()

    @classmethod
    def always(cls) -> Schedule:
        return cls()

    @property
    def is_always(self) -> bool:
        return self.hours is None

    def open_intervals(self, start: datetime, end: datetime) -> Iterator[Interval]:
        """The business intervals overlapping [start, end), clipped to it, in order."""
        if self.is_always:
            if start < end:
                yield (start, end)
            return
        day = start.astimezone(self.time_zone).date() - timedelta(days=1)
        last_day = end.astimezone(self.time_zone).date()
        while day <= last_day:
            if day not in self.holidays:
                for opens, closes in self.hours.get(day.weekday(), ()):
                    a = datetime.combine(day, opens, tzinfo=self.time_zone).astimezone(UTC)
                    b = datetime.combine(day, closes, tzinfo=self.time_zone).astimezone(UTC)
                    a, b = max(a, start), min(b, end)
                    if a < b:
                        yield (a, b)
            day += timedelta(days=1)


def _utc(moment: datetime) -> datetime:
    # Arithmetic on datetimes in a zone with DST is wall-clock arithmetic in Python; in UTC it
    # is real elapsed time. Everything below works in UTC.
    return moment.astimezone(UTC)


def _utc_pauses(pauses: Sequence[Pause]) -> list[Pause]:
    return [(_utc(a), _utc(b) if b is not None else None) for a, b in pauses]


def _subtract_pauses(interval: Interval, pauses: Sequence[Pause]) -> list[Interval]:
    pieces = [interval]
    for pause_start, pause_end in pauses:
        pause_end = pause_end or datetime.max.replace(tzinfo=UTC)
        next_pieces = []
        for a, b in pieces:
            if pause_end <= a or pause_start >= b:
                next_pieces.append((a, b))
                continue
            if a < pause_start:
                next_pieces.append((a, pause_start))
            if pause_end < b:
                next_pieces.append((pause_end, b))
        pieces = next_pieces
    return pieces


def running_intervals(
    start: datetime, end: datetime, schedule: Schedule, pauses: Sequence[Pause] = ()
) -> Iterator[Interval]:
    """The intervals of [start, end) when the clock runs: business time minus pauses."""
    pauses = _utc_pauses(pauses)
    for interval in schedule.open_intervals(_utc(start), _utc(end)):
        yield from _subtract_pauses(interval, pauses)


def elapsed(
    start: datetime, end: datetime, schedule: Schedule, pauses: Sequence[Pause] = ()
) -> timedelta:
    """Running time between two instants."""
    if end <= start:
        return timedelta(0)
    return sum((b - a for a, b in running_intervals(start, end, schedule, pauses)), timedelta(0))


def deadline(
    start: datetime, target: timedelta, schedule: Schedule, pauses: Sequence[Pause] = ()
) -> datetime | None:
    """The instant at which ``target`` of running time has passed since ``start``; None while
    the clock is stopped for good (an open pause) or beyond the horizon."""
    start, pauses = _utc(start), _utc_pauses(pauses)
    remaining = target
    horizon = start + timedelta(days=HORIZON_DAYS)
    if any(end is None for _, end in pauses):
        # Still paused: the deadline depends on when the pause ends, so there is none now...
        open_since = min(s for s, end in pauses if end is None)
        used = elapsed(start, open_since, schedule, pauses)
        if used < target:
            return None
        # ...unless the target was already used up before the pause began.
        return deadline(start, target, schedule, [p for p in pauses if p[1] is not None])
    # Walk forward a window at a time, so that 24/7 schedules do not iterate day by day.
    window_start = start
    window = timedelta(days=7)
    while window_start < horizon:
        window_end = window_start + window
        for a, b in running_intervals(window_start, window_end, schedule, pauses):
            if b - a >= remaining:
                return a + remaining
            remaining -= b - a
        window_start = window_end
    return None


def pauses_from_status_changes(
    changes: Iterable[tuple[datetime, str]], paused_statuses: Iterable[str]
) -> list[Pause]:
    """Pause intervals from a ticket's (time, new status) changes in time order."""
    paused = set(paused_statuses)
    pauses: list[Pause] = []
    since: datetime | None = None
    for at, status in changes:
        if status in paused and since is None:
            since = at
        elif status not in paused and since is not None:
            pauses.append((since, at))
            since = None
    if since is not None:
        pauses.append((since, None))
    return pauses


@dataclass(frozen=True)
class Targets:
    first_response: timedelta
    next_response: timedelta | None = None
    resolution: timedelta | None = None
    warn_at_percent: int = 75


@dataclass(frozen=True)
class Clock:
    """One running SLA clock of a ticket."""

    name: str  # first_response | next_response | resolution
    due: datetime
    warn: datetime


@dataclass(frozen=True)
class Deadlines:
    first_response_due: datetime | None = None
    next_response_due: datetime | None = None
    resolution_due: datetime | None = None
    pending: tuple[Clock, ...] = ()

    @property
    def next_due(self) -> datetime | None:
        return min((c.due for c in self.pending), default=None)

    def next_check_after(self, now: datetime) -> datetime | None:
        """The earliest warning or deadline still ahead of ``now``: when to look again."""
        upcoming = [t for c in self.pending for t in (c.warn, c.due) if t > now]
        return min(upcoming, default=None)


def compute_deadlines(
    *,
    targets: Targets,
    schedule: Schedule,
    pauses: Sequence[Pause],
    created_at: datetime,
    first_responded_at: datetime | None,
    awaiting_reply_since: datetime | None,
    resolved_at: datetime | None,
) -> Deadlines:
    """Every deadline of a ticket, and which clocks are still running (pending)."""
    pending: list[Clock] = []
    warn_share = targets.warn_at_percent / 100

    def clock(name: str, start: datetime, target: timedelta, done: datetime | None):
        due = deadline(start, target, schedule, pauses)
        if due is not None and done is None:
            warn = deadline(start, target * warn_share, schedule, pauses) or due
            pending.append(Clock(name, due, warn))
        return due

    first = clock(
        "first_response", created_at, targets.first_response, first_responded_at or resolved_at
    )
    following = None
    if targets.next_response and awaiting_reply_since and first_responded_at:
        following = clock("next_response", awaiting_reply_since, targets.next_response, resolved_at)
    resolution = None
    if targets.resolution:
        resolution = clock("resolution", created_at, targets.resolution, resolved_at)
    return Deadlines(
        first_response_due=first,
        next_response_due=following,
        resolution_due=resolution,
        pending=tuple(pending),
    )

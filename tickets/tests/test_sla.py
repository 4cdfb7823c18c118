"""SLA arithmetic: business hours, holidays, DST, pauses, policy targets."""

import zoneinfo
from datetime import UTC, date, datetime, time, timedelta

import pytest

from tickets import sla

SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
NEW_YORK = zoneinfo.ZoneInfo("America/New_York")
BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")
NINE_TO_SIX = (time(9), time(18))
WEEKDAYS = dict.fromkeys(range(5), (NINE_TO_SIX,))


def local(tz, *args):
    return datetime(*args, tzinfo=tz)


def test_always_schedule_adds_plain_time():
    start = datetime(2026, 3, 1, 10, tzinfo=UTC)
    assert sla.deadline(start, timedelta(hours=2), sla.Schedule.always()) == start + timedelta(
        hours=2
    )
    assert sla.deadline(start, timedelta(seconds=30), sla.Schedule.always()) == start + timedelta(
        seconds=30
    )


def test_business_hours_skip_the_night_and_the_weekend():
    schedule = sla.Schedule(time_zone=SHANGHAI, hours=WEEKDAYS)
    friday_5pm = local(SHANGHAI, 2026, 11, 20, 17)
    # 1 h left on Friday, the other hour on Monday from 9:00.
    assert sla.deadline(friday_5pm, timedelta(hours=2), schedule) == local(
        SHANGHAI, 2026, 11, 23, 10
    )


def test_a_ticket_created_at_night_starts_counting_at_opening():
    schedule = sla.Schedule(time_zone=SHANGHAI, hours=WEEKDAYS)
    tuesday_2am = local(SHANGHAI, 2026, 11, 24, 2)
    assert sla.deadline(tuesday_2am, timedelta(minutes=30), schedule) == local(
        SHANGHAI, 2026, 11, 24, 9, 30
    )


def test_holidays_are_skipped():
    schedule = sla.Schedule(
        time_zone=SHANGHAI, hours=WEEKDAYS,
        holidays=frozenset({date(2026, 10, 1), date(2026, 10, 2)}),
    )  # fmt: skip
    wednesday_5pm = local(SHANGHAI, 2026, 9, 30, 17)  # Oct 1 (Thu) and 2 (Fri) are holidays
    assert sla.deadline(wednesday_5pm, timedelta(hours=3), schedule) == local(
        SHANGHAI, 2026, 10, 5, 11
    )


@pytest.mark.parametrize(
    ("tz", "before_change", "expected_utc_hours"),
    [
        # US spring forward: Sunday 8 March 2026. Friday 17:00 EST + 2 business hours = Monday
        # 10:00 EDT, which is 14:00 UTC (it would be 15:00 UTC in winter time).
        (NEW_YORK, (2026, 3, 6, 17), (2026, 3, 9, 14)),
        # EU fall back: Sunday 25 October 2026. Friday 17:00 CEST + 2 h = Monday 10:00 CET = 9:00 UTC.
        (BERLIN, (2026, 10, 23, 17), (2026, 10, 26, 9)),
    ],
)
def test_business_hours_follow_local_time_across_dst_changes(tz, before_change, expected_utc_hours):
    schedule = sla.Schedule(time_zone=tz, hours=WEEKDAYS)
    due = sla.deadline(local(tz, *before_change), timedelta(hours=2), schedule)
    assert due == datetime(*expected_utc_hours, tzinfo=UTC)


def test_24_7_clock_across_dst_counts_real_hours():
    start = local(BERLIN, 2026, 10, 25, 1)  # the night the clocks go back one hour
    due = sla.deadline(start, timedelta(hours=3), sla.Schedule.always())
    assert due - start == timedelta(hours=3)
    assert due.astimezone(BERLIN).hour == 3  # 02:00-03:00 happened twice


def test_pauses_stop_the_clock():
    start = datetime(2026, 5, 4, 8, tzinfo=UTC)
    pauses = [(start + timedelta(hours=1), start + timedelta(hours=5))]
    due = sla.deadline(start, timedelta(hours=2), sla.Schedule.always(), pauses)
    assert due == start + timedelta(hours=6)


def test_an_open_pause_means_no_deadline_yet_unless_already_missed():
    start = datetime(2026, 5, 4, 8, tzinfo=UTC)
    assert (
        sla.deadline(
            start, timedelta(hours=2), sla.Schedule.always(), [(start + timedelta(hours=1), None)]
        )
        is None
    )
    missed = sla.deadline(
        start, timedelta(hours=2), sla.Schedule.always(), [(start + timedelta(hours=3), None)]
    )
    assert missed == start + timedelta(hours=2)


def test_pauses_inside_business_hours_only_count_their_business_part():
    schedule = sla.Schedule(time_zone=SHANGHAI, hours=WEEKDAYS)
    monday_9 = local(SHANGHAI, 2026, 11, 23, 9)
    pause = (
        local(SHANGHAI, 2026, 11, 23, 17),
        local(SHANGHAI, 2026, 11, 24, 10),
    )  # 1 business hour
    assert sla.elapsed(monday_9, local(SHANGHAI, 2026, 11, 24, 12), schedule, [pause]) == timedelta(
        hours=10
    )


def test_pauses_from_status_changes():
    t = [datetime(2026, 1, 1, h, tzinfo=UTC) for h in range(6)]
    changes = [
        (t[0], "open"),
        (t[1], "pending"),
        (t[2], "on_hold"),
        (t[3], "open"),
        (t[4], "pending"),
    ]
    assert sla.pauses_from_status_changes(changes, {"pending", "on_hold"}) == [
        (t[1], t[3]),
        (t[4], None),
    ]


def test_compute_deadlines_tracks_pending_clocks_and_warnings():
    created = datetime(2026, 6, 1, 8, tzinfo=UTC)
    targets = sla.Targets(
        first_response=timedelta(hours=2), next_response=timedelta(hours=4),
        resolution=timedelta(hours=24), warn_at_percent=75,
    )  # fmt: skip
    fresh = sla.compute_deadlines(
        targets=targets, schedule=sla.Schedule.always(), pauses=[], created_at=created,
        first_responded_at=None, awaiting_reply_since=created, resolved_at=None,
    )  # fmt: skip
    assert fresh.first_response_due == created + timedelta(hours=2)
    assert fresh.next_response_due is None  # applies only after the first response
    assert fresh.next_due == created + timedelta(hours=2)
    assert {c.name: c.warn for c in fresh.pending}["first_response"] == created + timedelta(
        minutes=90
    )
    assert fresh.next_check_after(created) == created + timedelta(minutes=90)

    answered = sla.compute_deadlines(
        targets=targets, schedule=sla.Schedule.always(), pauses=[], created_at=created,
        first_responded_at=created + timedelta(hours=1),
        awaiting_reply_since=created + timedelta(hours=3), resolved_at=None,
    )  # fmt: skip
    assert [c.name for c in answered.pending] == ["next_response", "resolution"]
    assert answered.next_due == created + timedelta(hours=7)

    solved = sla.compute_deadlines(
        targets=targets, schedule=sla.Schedule.always(), pauses=[], created_at=created,
        first_responded_at=created + timedelta(hours=1), awaiting_reply_since=None,
        resolved_at=created + timedelta(hours=5),
    )  # fmt: skip
    assert solved.pending == ()
    assert solved.next_due is None
    assert solved.resolution_due == created + timedelta(hours=24)  # kept for compliance metrics


def test_empty_calendar_gives_no_deadline_instead_of_looping():
    schedule = sla.Schedule(time_zone=SHANGHAI, hours={})
    assert sla.deadline(datetime(2026, 1, 1, tzinfo=UTC), timedelta(hours=1), schedule) is None

"""The jobs' ``now``: naive UTC, whatever a library caller passes."""

import datetime as dt

from interlake.clock import utc_now


def test_an_aware_now_is_converted_to_utc_and_a_naive_one_is_taken_as_utc():
    paris = dt.timezone(dt.timedelta(hours=1))
    assert utc_now(dt.datetime(2026, 12, 7, 11, 30, tzinfo=paris)) == dt.datetime(2026, 12, 7, 10, 30)
    assert utc_now(dt.datetime(2026, 12, 7, 0, 30, tzinfo=dt.timezone(dt.timedelta(hours=-5)))) == dt.datetime(
        2026, 12, 7, 5, 30)
    assert utc_now(dt.datetime(2026, 12, 7, 10, 30)) == dt.datetime(2026, 12, 7, 10, 30)
    before = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    current = utc_now()
    assert current.tzinfo is None and before <= current <= dt.datetime.now(dt.UTC).replace(tzinfo=None)

"""The jobs' clock: every ``now`` is a naive ``datetime`` in UTC, as Spark's ``TIMESTAMP`` values of the tables are
read back in the jobs' sessions (``spark.sql.session.timeZone = UTC``).

A library caller may pass ``now`` to ``ingest``, ``train`` and ``maintain`` (to replay a day, or in a test). A naive
value is taken as UTC; a time-zone-aware one is converted to UTC first, so
``now=datetime.now(ZoneInfo("Europe/Paris"))`` and ``now=datetime.now(UTC)`` are the same instant to the jobs.

Example:
    >>> utc_now(datetime(2026, 12, 7, 12, 0, tzinfo=timezone(timedelta(hours=2))))
    datetime.datetime(2026, 12, 7, 10, 0)
"""

from __future__ import annotations

from datetime import UTC, datetime


def utc_now(now: datetime | None = None) -> datetime:
    """``now`` as a naive UTC ``datetime`` (the current time when None)."""
    if now is None:
        return datetime.now(UTC).replace(tzinfo=None)
    if now.tzinfo is not None and now.utcoffset() is not None:
        return now.astimezone(UTC).replace(tzinfo=None)
    return now.replace(tzinfo=None)

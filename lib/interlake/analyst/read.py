"""Read lakehouse tables without Spark, through delta-rs (``deltalake``): for notebooks and laptops.

Example:
    >>> from interlake import read_table
    >>> read_table("item_similarity").head()            # pandas, from the default config's lakehouse
    >>> read_table("interactions", lakehouse="lakehouse", version=3, as_arrow=True)
    >>> read_table("item_popularity", timestamp="2026-11-30 23:00")  # the table as it was then (UTC)
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from interlake.errors import InterlakeError
from interlake.tables.without_spark import to_arrow


def table_uri(name: str, *, conf: str | None = None, lakehouse: str | None = None) -> str:
    if lakehouse is None:
        from interlake.config import load_config

        lakehouse = load_config(conf).lakehouse
    from interlake.config import resolve_path

    return f"{resolve_path(lakehouse).rstrip('/')}/{name}"


def read_table(name: str, *, conf: str | None = None, lakehouse: str | None = None, version: int | None = None,
               timestamp: str | datetime | date | None = None, columns: list[str] | None = None,
               as_arrow: bool = False):
    """A table as a pandas DataFrame (or a pyarrow Table): its latest version, or as it was at Delta ``version`` or
    at ``timestamp`` (the version current then; a ``datetime``, a ``date`` or ISO text such as ``2026-11-30 23:00``,
    UTC unless it has an offset), as Spark's ``versionAsOf`` / ``timestampAsOf`` read it."""
    from deltalake import DeltaTable
    from deltalake.exceptions import DeltaProtocolError, TableNotFoundError

    if version is not None and timestamp is not None:
        raise InterlakeError("read_table: give version or timestamp, not both")
    uri = table_uri(name, conf=conf, lakehouse=lakehouse)
    if "%" in uri and "://" not in uri.removeprefix("file://"):
        # delta-rs decodes a local path (``my%20lake`` -> ``my lake``) and then finds no log: say so, not "not found"
        raise InterlakeError(f"delta-rs cannot open a table under a local path with '%' (it reads %XX as an escape): "
                             f"{uri}; move the lakehouse to a path without '%', or query it through Spark "
                             "(`interlake sql`)")
    try:
        table = DeltaTable(uri)
        if version is not None or timestamp is not None:
            _time_travel(table, name, version, timestamp)
        arrow = to_arrow(table, uri, columns)  # not table.to_pyarrow_table(): see tables/without_spark.py
    except TableNotFoundError:
        raise InterlakeError(f"no Delta table at {uri}: `interlake tables` lists the tables there") from None
    except FileNotFoundError:
        if version is None and timestamp is None:
            raise
        raise InterlakeError(f"{name}: that version can no longer be read: VACUUM (`interlake maintain`, after "
                             "maintenance.vacuum_retention_hours) removed files it needs; read a later one") from None
    except DeltaProtocolError as exc:  # e.g. deletion vectors, turned on by hand: the jobs write tables without
        fix = (f"; `interlake sql \"ALTER TABLE {name} DROP FEATURE deletionVectors\"` makes it readable again"
               if "deletionVectors" in str(exc) else "")
        raise InterlakeError(f"{name}: delta-rs cannot read this table ({str(exc).rstrip('.')}); query it through "
                             f"Spark (`interlake sql`){fix}") from None
    return arrow if as_arrow else arrow.to_pandas()


def _time_travel(table, name: str, version: int | None, timestamp) -> None:
    """Load ``table`` (opened at its latest version) as of ``version`` or ``timestamp``; a one-line error for a
    version it does not have (delta-rs says "LogSegment end version 3 not the same as the specified end version 99"
    or overflows on a negative one) or a time before its earliest version (delta-rs gives version 0 for it)."""
    from deltalake.exceptions import DeltaError

    latest = table.version()
    if version is not None:
        if isinstance(version, bool) or not isinstance(version, int) or not 0 <= version <= latest:
            raise InterlakeError(f"{name} has versions 0..{latest}; version {version!r} is not one of them")
        what = f"version {version}"
    else:
        when = _utc(timestamp)
        first = min(h["timestamp"] for h in table.history())  # commit times in ms; history() lists what the log has
        if when.timestamp() * 1000 < first:
            created = datetime.fromtimestamp(first / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")
            raise InterlakeError(f"{name} has no version at {when:%Y-%m-%d %H:%M:%S} UTC: its earliest readable "
                                 f"version is from {created} UTC")
        version, what = when, f"the version current at {when:%Y-%m-%d %H:%M:%S} UTC"
    try:
        table.load_as_version(version)
    except DeltaError as exc:  # the log of old versions was cleaned up (delta.logRetentionDuration)
        raise InterlakeError(f"{name}: {what} can no longer be read ({exc}); its log was cleaned up after "
                             "delta.logRetentionDuration") from None


def _utc(value) -> datetime:
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise InterlakeError(f"timestamp {value!r}: expected ISO date and time, e.g. 2026-11-30 23:00 or "
                                 "2026-11-30T23:00:00+01:00 (UTC unless it has an offset)") from None
    elif isinstance(value, date) and not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day)
    elif not isinstance(value, datetime):
        raise InterlakeError(f"timestamp {value!r}: expected a datetime, a date or ISO text")
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

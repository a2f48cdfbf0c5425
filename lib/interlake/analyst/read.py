"""Read lakehouse tables without Spark, through delta-rs (``deltalake``): for notebooks and laptops.

Example:
    >>> from interlake import read_table
    >>> read_table("item_similarity").head()            # pandas, from the default config's lakehouse
    >>> read_table("interactions", lakehouse="lakehouse", version=3, as_arrow=True)
    >>> read_table("item_popularity", timestamp="2026-11-30 23:00")  # the table as it was then (UTC)
    >>> read_table("interactions", columns=["user_id", "item_id"],
    ...            filters=[("event_date", ">=", "2026-11-20"), ("interaction_type", "=", "purchase")])
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from interlake.errors import InterlakeError
from interlake.tables.without_spark import drop_commands, managed_folder, not_plain, to_arrow


def table_uri(name: str, lakehouse: str) -> str:
    from interlake.config import resolve_path

    return f"{resolve_path(lakehouse).rstrip('/')}/{name}"


def read_table(name: str, *, conf: str | None = None, lakehouse: str | None = None, version: int | None = None,
               timestamp: str | datetime | date | None = None, columns: list[str] | str | None = None,
               filters=None, as_arrow: bool = False, database: str | None = None):
    """A table as a pandas DataFrame (or a pyarrow Table): its latest version, or as it was at Delta ``version`` or
    at ``timestamp`` (the version current then; a ``datetime``, a ``date`` or ISO text such as ``2026-11-30 23:00``,
    UTC unless it has an offset), as Spark's ``versionAsOf`` / ``timestampAsOf`` read it.

    ``columns`` keeps only those columns. ``filters`` keeps only matching rows, as pandas' and pyarrow's Parquet
    readers take them: ``(column, op, value)`` tuples that must all hold (op one of ``= == != < <= > >= in not in``),
    or a list of such lists, any of which may hold; or a ``pyarrow.compute`` expression. A value given as text is
    read as the column's type (``"2026-11-20"`` for a date, ISO time for a timestamp, UTC unless it has an offset).
    A filter on a partition column (``event_date``, ``window_date``) skips the other partitions' files unread.

    ``name`` may also be a managed table of ``database`` (the config's, else ``interlake``): a table an analyst made
    with ``CREATE TABLE … AS SELECT`` in ``interlake sql`` or a notebook's session."""
    import pyarrow as pa
    from deltalake import DeltaTable
    from deltalake.exceptions import DeltaProtocolError, TableNotFoundError

    if version is not None and timestamp is not None:
        raise InterlakeError("read_table: give version or timestamp, not both")
    if isinstance(columns, str):
        columns = [columns]
    if lakehouse is None:
        from interlake.config import load_config

        cfg = load_config(conf)
        lakehouse, database = cfg.lakehouse, database or cfg.database
    database = database or "interlake"
    uri = table_uri(name, lakehouse)
    if "%" in uri and "://" not in uri.removeprefix("file://"):
        # delta-rs decodes a local path (``my%20lake`` -> ``my lake``) and then finds no log: say so, not "not found"
        raise InterlakeError(f"delta-rs cannot open a table under a local path with '%' (it reads %XX as an escape): "
                             f"{uri}; move the lakehouse to a path without '%', or query it through Spark "
                             "(`interlake sql`)")
    table = None
    try:
        table, name, uri = _open(DeltaTable, TableNotFoundError, name, lakehouse, uri, database)
        if version is not None or timestamp is not None:
            _time_travel(table, name, version, timestamp)
        if why := not_plain(table):  # column mapping under reader version 2 read as nulls, without an error
            raise DeltaProtocolError(why)
        schema = pa.schema(table.schema().to_arrow())  # delta-rs gives an arro3 schema
        _check_columns(name, schema, columns)
        where = _filter_expression(name, schema, filters)
        try:
            arrow = to_arrow(table, uri, columns, where)  # not to_pyarrow_table() locally: see tables/without_spark.py
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as exc:
            if where is None:
                raise
            raise InterlakeError(f"{name}: filters {where}: {str(exc).splitlines()[0]}") from None
    except TableNotFoundError:
        raise InterlakeError(f"no Delta table {name!r} at {uri}; {_tables_there(lakehouse)}") from None
    except FileNotFoundError:
        if version is None and timestamp is None:
            raise
        raise InterlakeError(f"{name}: that version can no longer be read: VACUUM (`interlake maintain`, after "
                             "maintenance.vacuum_retention_hours) removed files it needs; read a later one") from None
    except DeltaProtocolError as exc:  # e.g. deletion vectors, turned on by hand: the jobs write tables without
        drops = drop_commands(table, name) if table is not None else ""
        fix = f"; {drops} makes it readable again" if drops else ""
        raise InterlakeError(f"{name}: delta-rs cannot read this table ({str(exc).rstrip('.')}); query it through "
                             f"Spark (`interlake sql`){fix}") from None
    return arrow if as_arrow else arrow.to_pandas()


def _open(delta_table, not_found, name: str, lakehouse: str, uri: str, database: str):
    """The table at ``uri``; a name with the database (``interlake.interactions``, or with its catalog
    ``main.interlake.interactions``, as ``interlake sql`` takes them) that is not a table itself is the table after the
    last dot; a name not directly under the lakehouse may be a managed table of its database (an analyst's ``CREATE
    TABLE … AS SELECT``, in ``_warehouse/<database>.db/``). Returns the table, its name and its URI."""
    try:
        return delta_table(uri), name, uri
    except not_found:
        db, dot, short = name.rpartition(".")
        if dot and (not (db and short) or db.count(".") > 1):
            raise
        schema = db.rpartition(".")[2] if dot else database
        for candidate in ([table_uri(short, lakehouse)] if dot else []) + [
                table_uri(f"{managed_folder(schema)}/{short}", lakehouse)]:
            try:
                return delta_table(candidate), short, candidate
            except not_found:
                continue
        raise


def _tables_there(lakehouse: str) -> str:
    import os

    from interlake.config import local_folder
    from interlake.tables.catalog import lakehouse_tables  # imported on this error path only (it imports pyspark)

    local = local_folder(lakehouse)
    if local is None:
        return "`interlake tables` lists the tables there"
    if not os.path.isdir(local):
        return "that lakehouse folder does not exist (lakehouse=... or the config's `lakehouse`)"
    names = lakehouse_tables(local)
    return f"its tables: {', '.join(names)}" if names else "it has no tables yet"


def _check_columns(name: str, schema, columns: list[str] | None) -> None:
    unknown = [c for c in columns or [] if c not in schema.names]
    if unknown:
        raise InterlakeError(f"{name} has no column {', '.join(map(repr, unknown))}; its columns: "
                             f"{', '.join(schema.names)}")


_OPS = ("=", "==", "!=", "<", "<=", ">", ">=", "in", "not in")


def _filter_expression(name: str, schema, filters):
    """``filters`` (pandas/pyarrow style: tuples ANDed, lists of them ORed, or an Expression) as one pyarrow
    Expression, each value in its column's type (pyarrow's ``filters_to_expression`` builds it); None for none."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    if filters is None or isinstance(filters, pc.Expression):
        return filters
    if isinstance(filters, tuple):
        filters = [filters]
    if not isinstance(filters, list) or not filters:
        raise InterlakeError(f"filters={filters!r}: expected (column, op, value) tuples in a list, e.g. "
                             "[('event_date', '>=', '2026-11-20')], or a list of such lists (any of them)")
    groups = filters if all(isinstance(f, list) for f in filters) else [filters]
    typed = [[_typed_term(name, schema, term) for term in group] for group in groups if group]
    return pq.filters_to_expression(typed) if typed else None


def _typed_term(name: str, schema, term) -> tuple:
    """``(column, op, value)`` checked (the column exists, the operator is one) with the value in the column's type."""
    if not isinstance(term, tuple | list) or len(term) != 3:
        raise InterlakeError(f"filter {term!r}: expected a (column, op, value) tuple, e.g. ('event_date', '>=', "
                             "'2026-11-20')")
    column, op, value = term
    _check_columns(name, schema, [column])
    kind = schema.field(column).type
    op = str(op).strip().lower()
    if op not in _OPS:
        raise InterlakeError(f"filter {term!r}: {op!r} is not an operator; use one of {', '.join(_OPS)}")
    if op in ("in", "not in"):
        if isinstance(value, str) or not hasattr(value, "__iter__"):
            raise InterlakeError(f"filter {term!r}: '{op}' takes a list of values")
        return column, op, [_typed(column, kind, v) for v in value]
    return column, op, _typed(column, kind, value)


def _typed(column: str, kind, value):
    """``value`` as a pyarrow scalar of the column's type (text parsed: a date, an ISO time, a number)."""
    import pyarrow as pa

    try:
        if pa.types.is_timestamp(kind) and isinstance(value, str | datetime | date):
            moment = _utc(value)
            return pa.scalar(moment if kind.tz else moment.replace(tzinfo=None), type=kind)
        if pa.types.is_date(kind) and isinstance(value, str):
            return pa.scalar(date.fromisoformat(value.strip()), type=kind)
        return pa.scalar(value).cast(kind)
    except (ValueError, TypeError, pa.ArrowException):
        raise InterlakeError(f"filter on {column}: {value!r} is not {_kind_words(kind)}") from None


def _kind_words(kind) -> str:
    import pyarrow as pa

    if pa.types.is_timestamp(kind):
        return "a time, e.g. 2026-11-20 10:00 or 2026-11-20T10:00:00+01:00 (UTC unless it has an offset)"
    if pa.types.is_date(kind):
        return "a date, e.g. 2026-11-20"
    if pa.types.is_integer(kind):
        return "a whole number"
    if pa.types.is_floating(kind) or pa.types.is_decimal(kind):
        return "a number"
    if pa.types.is_boolean(kind):
        return "true or false"
    return f"a {kind} value"


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

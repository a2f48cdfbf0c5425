"""``interlake sql --engine duckdb``: the same query over a local lakehouse, answered by DuckDB without a JVM.

Every Delta table of the lakehouse is a DuckDB view, by name and as ``<database>.<name>`` (as ``interlake sql``
takes them), over the pyarrow dataset of its current version (delta-rs reads the log, pyarrow the data files, as
``read_table`` does), so DuckDB pushes column choices and filters down (a filter on ``event_date`` opens only those
days' files). Nothing is copied: a query on a big table reads only what it needs. The SQL is DuckDB's dialect.

Example:
    >>> run_sql_duckdb(cfg, "SELECT interaction_type, count(*) FROM interactions GROUP BY 1")
"""

from __future__ import annotations

import json
import os
import uuid
from datetime import UTC, datetime

from interlake.config import Config, local_folder
from interlake.errors import InterlakeError
from interlake.tables.catalog import lakehouse_tables

_NOT_KEPT = {  # DuckDB statement types that would make or change a table
    "CREATE": "what CREATE makes lives in DuckDB's memory and is gone when the command ends",
    **{kind: "the tables are read-only views there" for kind in ("INSERT", "UPDATE", "DELETE", "MERGE_INTO", "DROP",
                                                                  "ALTER")}}


def duckdb_connect(*, conf: str | None = None, lakehouse: str | None = None, database: str = "interlake"):
    """For notebooks: a DuckDB connection in which every table of the lakehouse (``lakehouse``, or the config's:
    ``conf`` or the default one) is a view by name and as ``<database>.<name>``, read without Spark.

        >>> con = duckdb_connect(lakehouse="lakehouse")
        >>> con.sql("SELECT interaction_type, count(*) FROM interactions GROUP BY 1").df()
    """
    from interlake.config import load_config, resolve_path

    if lakehouse is None:
        cfg = load_config(conf)
        lakehouse, database = cfg.lakehouse, cfg.database
    return connect(resolve_path(lakehouse), database)[0]


def connect(lakehouse: str, database: str):
    """An in-memory DuckDB connection (session time zone UTC, as Spark's) with a view per readable table of the
    lakehouse; returns it and ``{name: why it is not there}`` for tables delta-rs cannot read as plain files."""
    try:
        import duckdb
    except ImportError:
        raise InterlakeError("DuckDB is not installed: pip install 'interlake[analyst]' (or query through Spark: "
                             "`interlake sql` without --engine)") from None
    local = local_folder(lakehouse)
    if local is None:
        raise InterlakeError(f"DuckDB reads a lakehouse on this machine's disk only (a folder or a file: URI); "
                             f"{lakehouse} is not: query it through Spark (`interlake sql` without --engine)")
    lakehouse = local
    from deltalake import DeltaTable

    from interlake.tables.without_spark import drop_commands, local_dataset, not_plain

    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    schema = _quote(duck_schema(database))
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
    skipped = {}
    for name, path in lakehouse_tables(lakehouse, database=database).items():
        try:
            table = DeltaTable(path)
        except Exception as exc:  # noqa: BLE001  (e.g. a '%' in a local path, which delta-rs decodes): the others
            skipped[name] = (f"delta-rs cannot open it ({str(exc).splitlines()[0]})"
                             + ("; a '%' in a local path reads as an escape to delta-rs" if "%" in path else "")
                             + ": query it through Spark (`interlake sql` without --engine)")
            continue
        why = not_plain(table)
        if why:
            drops = drop_commands(table, name)
            skipped[name] = (f"delta-rs cannot read it as plain files ({why}): query it through Spark "
                             "(`interlake sql` without --engine)"
                             + (f", or make it plain files once with {drops} (Delta rewrites the files it must)"
                                if drops else ""))
            continue
        con.register(name, local_dataset(table, path))
        con.execute(f"CREATE VIEW {schema}.{_quote(name)} AS SELECT * FROM {_quote(name)}")
    return con, skipped


def run_sql_duckdb(cfg: Config, query: str, *, out: str | None = None, limit: int = 50) -> None:
    """``interlake sql`` through DuckDB: prints the rows as the Spark engine does, or writes ``out`` (.csv or
    .parquet, one file, replaced; CSV as the Spark engine writes it: lists, maps and structs as JSON text, timestamps
    ISO-8601 UTC)."""
    import duckdb

    from interlake.analyst.sql import out_format, print_rows

    kind = out_format(out) if out else None
    con, skipped = connect(cfg.lakehouse, cfg.database)
    try:
        try:
            statements = duckdb.extract_statements(query)
            if len(statements) > 1:
                raise InterlakeError("query failed: `interlake sql` runs one statement at a time: run each on its "
                                     "own")
            kind_of = statements[0].type.name if statements else ""
            if kind_of in _NOT_KEPT:
                # DuckDB's database here is an in-memory one over read-only views: a CREATE TABLE answered "Count 1"
                # and exit 0, and the table was gone when the command ended
                raise InterlakeError(f"--engine duckdb answers queries and keeps nothing: {_NOT_KEPT[kind_of]}; run "
                                     "it without --engine (through Spark), which writes the lakehouse's Delta tables")
            relation = con.sql(query)
            if relation is None:  # a statement without rows (SET, CREATE VIEW ...): nothing to show
                print("(0 rows)")
                return
            columns, types = relation.columns, [str(t) for t in relation.types]
            if out:
                rows = _write(con, relation, columns, types, out, kind)
                print(f"wrote {rows:,} row{'' if rows == 1 else 's'} to {out}")
                return
            rows = relation.limit(limit + 1).fetchall()
        except duckdb.Error as exc:
            raise InterlakeError(f"query failed: {_message(exc, cfg, con, skipped, query)}") from None
    finally:
        con.close()
    print_rows(columns, [[_value(v) for v in r] for r in rows], limit)


def _value(value):
    """A DuckDB value as the Spark engine prints it: a list, map or struct as JSON text, a time naive UTC."""
    if isinstance(value, list | dict):
        return json.dumps(value, separators=(",", ":"), default=_json_default, ensure_ascii=False)
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC).replace(tzinfo=None)
    return value


def _json_default(value):
    if isinstance(value, datetime):
        return _value(value).isoformat(sep=" ")
    return str(value)


# Spark SQL, Delta's among it, that DuckDB's parser refuses ("syntax error at or near ..."): (words, what to know)
_TIME_TRAVEL = ("Delta's time travel; DuckDB reads each table's current version, "
                "`interlake.read_table(name, version=N)` another without Spark")
_SPARK_ONLY = ((("VERSION", "AS", "OF"), _TIME_TRAVEL), (("TIMESTAMP", "AS", "OF"), _TIME_TRAVEL),
               *(((describe, kind), "a Delta command; `interlake tables` prints each table's version and last "
                                    "operation without Spark")
                 for describe in ("DESCRIBE", "DESC") for kind in ("HISTORY", "DETAIL")),
               *(((describe, kind), "DuckDB's `DESCRIBE <table>` lists the columns")
                 for describe in ("DESCRIBE", "DESC") for kind in ("EXTENDED", "FORMATTED")),
               (("SHOW", "TBLPROPERTIES"), ""))


def _spark_only(query: str) -> str:
    """The advice for a statement with Spark SQL that DuckDB does not parse (``VERSION AS OF``, ``DESCRIBE
    HISTORY`` ...), found among its words outside strings and comments; ``""`` when it has none."""
    import duckdb

    tokens = duckdb.tokenize(query)
    ends = [pos for pos, _ in tokens[1:]] + [len(query)]
    words = [query[pos:end].strip().upper() for (pos, kind), end in zip(tokens, ends, strict=True)
             if kind in (duckdb.token_type.keyword, duckdb.token_type.identifier)]
    for spelled, what in _SPARK_ONLY:
        starts = range(len(words) - len(spelled) + 1) if spelled[-1] == "OF" else range(min(1, len(words)))
        if any(tuple(words[i:i + len(spelled)]) == spelled for i in starts):
            return f"`{' '.join(spelled)}` is Spark SQL{f' ({what})' if what else ''}: run it without --engine"
    return ""


def _message(exc: Exception, cfg: Config, con, skipped: dict[str, str], query: str = "") -> str:
    """DuckDB's first line; for a table not found, why it is not there or the tables there are (instead of DuckDB's
    guess, "Did you mean pg_enum?"); for Spark SQL that DuckDB cannot parse, to run it through Spark."""
    first = str(exc).strip().splitlines()[0].rstrip("!.")
    if first.startswith("Parser Error") and (advice := _spark_only(query)):
        return f"{first}: {advice}"
    if "does not exist" not in first or "Catalog Error" not in first:
        return first
    schema = duck_schema(cfg.database)
    for name, why in skipped.items():
        if f" {name} " in f"{first} " or f" {schema}.{name} " in f"{first} ":
            return f"{first}: {name}: {why}"
    names = sorted(r[0] for r in con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = ?", [schema]).fetchall())
    return f"{first}. The tables are {', '.join(f'{schema}.{n}' for n in names)}" if names else (
        f"{first}. The lakehouse {cfg.lakehouse} has no tables yet: run `interlake ingest` first")


def duck_schema(database: str) -> str:
    """The DuckDB schema of the config's ``database``: its schema part (``main.interlake`` -> ``interlake``). DuckDB
    has no catalog by a Unity Catalog's name (and reserves ``main``), so there a table is ``interlake.<name>``."""
    return database.rsplit(".", 1)[-1]


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _write(con, relation, columns: list[str], types: list[str], out: str, kind: str) -> int:
    """``relation`` as ONE file ``out``, replaced: written to a staging name beside it, then moved into place."""
    if "://" in out:
        raise InterlakeError(f"--out {out}: --engine duckdb writes files on this machine's disk only")
    if os.path.isdir(out):
        raise InterlakeError(f"--out {out}: is a folder; give the name of the file to write")
    if kind == "csv":  # lists, maps and structs as JSON text, as the Spark engine writes them
        select = ", ".join(f"to_json({_quote(c)}) AS {_quote(c)}" if _nested(t) else _quote(c)
                           for c, t in zip(columns, types, strict=True))
        options = "FORMAT csv, HEADER, TIMESTAMPFORMAT '%Y-%m-%dT%H:%M:%S.%gZ'"
    else:
        select, options = "*", "FORMAT parquet"
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)  # as Spark's writer makes a missing folder
    staging = f"{out}._staging-{uuid.uuid4().hex[:8]}"
    relation.create_view("_result")
    try:
        [(rows,)] = con.execute(f"COPY (SELECT {select} FROM _result) TO '{_literal(staging)}' ({options})").fetchall()
        os.replace(staging, out)
    finally:
        if os.path.exists(staging):
            os.remove(staging)
    return rows


def _nested(duck_type: str) -> bool:
    return duck_type.endswith("]") or duck_type.startswith(("STRUCT", "MAP", "UNION"))


def _literal(text: str) -> str:
    return text.replace("'", "''")

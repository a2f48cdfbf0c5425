"""Create the Delta tables of ingestion if missing, and keep the vocabulary CHECK in step with config."""

from __future__ import annotations

from delta.tables import DeltaTable
from pyspark.sql import SparkSession

from interlake.schemas import tables as T
from interlake.tables.append_only import JOB_CHANGED, PROPERTY, table_properties
from interlake.tables.catalog import register_table
from interlake.tables.quoting import delta_path, spelled_name, sql_string

# Readers without Spark (delta-rs, DuckDB) must be able to read every table: no deletion vectors or column
# mapping, and none of the reader features delta-rs 1.x refuses (v2 checkpoints, type widening); plain reader/writer
# features otherwise (row tracking, change data feed and in-commit timestamps are writers' features and are kept).
# A cluster's defaults (spark.databricks.delta.properties.defaults.*, deletion vectors on as on Databricks) are
# overridden when a job creates a table; so are IcebergCompat and UniForm defaults, which require column mapping
# (with them on, Delta refused to create the table). A default that adds a feature directly
# (``…defaults.feature.<name>: supported``) cannot be: such a table is read through Spark, and the readers without it
# say which feature.
READABLE_PROPERTIES = {"delta.enableDeletionVectors": "false", "delta.columnMapping.mode": "none",
                       "delta.checkpointPolicy": "classic", "delta.enableTypeWidening": "false",
                       "delta.enableIcebergCompatV1": "false", "delta.enableIcebergCompatV2": "false",
                       "delta.universalFormat.enabledFormats": ""}


def vocabulary_check(vocabulary: tuple[str, ...]) -> str:
    return f"interaction_type IN ({', '.join(sql_string(v) for v in sorted(vocabulary))})"


def _location(path: str) -> str:
    """``file:///lake/t`` as Hadoop spells it, ``file:/lake/t``: Delta's ``createIfNotExists().location()`` compares
    the table's path, qualified by Hadoop, with the location as given, and refused the first run of every job on a
    ``file:///`` lakehouse with ``[DELTA_AMBIGUOUS_PATHS_IN_CREATE_TABLE] CREATE TABLE contains two different
    locations: file:///lake/interactions and file:/lake/interactions``."""
    return "file:/" + path[len("file:///"):] if path.startswith("file:///") else path


def ensure_interactions_table(spark: SparkSession, path: str, vocabulary: tuple[str, ...],
                              database: str | None = None) -> DeltaTable:
    """Create ``interactions`` if missing (all NOT NULL, generated partition column) and make its
    CHECK constraint allow exactly ``vocabulary``.

    Example:
        >>> ensure_interactions_table(spark, "/lake/interactions", ("view", "purchase"))
    """
    about, columns = T.DESCRIPTIONS[T.INTERACTIONS]
    builder = DeltaTable.createIfNotExists(spark).location(_location(path)).comment(about)
    for name, kind in T.INTERACTIONS_COLUMNS:
        builder = builder.addColumn(name, kind, nullable=False,
                                    generatedAlwaysAs=T.INTERACTIONS_GENERATED.get(name), comment=columns[name])
    builder = builder.partitionedBy(*T.INTERACTIONS_PARTITION)
    for key, value in READABLE_PROPERTIES.items():
        builder = builder.property(key, value)
    table = builder.execute()
    check_interactions_columns(path, table.toDF().columns)
    sync_vocabulary_constraint(spark, path, vocabulary)
    if database:
        register_table(spark, database, T.INTERACTIONS, path)
    return table


def check_interactions_columns(path: str, columns: list[str]) -> None:
    """Raise a one-line error when ``interactions`` (at ``path``, with ``columns``) lacks a column of the interaction
    schema, as after an analyst's ``RENAME COLUMN`` (column mapping): every job failed with Delta's or Spark's own
    words (`[DELTA_MERGE_UNRESOLVED_EXPRESSION] Cannot resolve item_id in INSERT clause …`, and "fix or move a file
    it names") before 2026-12-07. A column added by hand is left alone (the jobs insert it as NULL)."""
    from interlake.errors import InterlakeError

    expected = [name for name, _ in T.INTERACTIONS_COLUMNS]
    missing = [name for name in expected if name not in columns]
    if not missing:
        return
    # a renamed column keeps its place (columns added by hand come last): the column in a missing one's place
    renamed = {name: columns[i] for i, name in enumerate(expected)
               if name in missing and i < len(columns) and columns[i] not in expected}
    if len(renamed) == len(missing):
        fix = f"rename {'it' if len(missing) == 1 else 'them'} back: " + ", then ".join(
            f"`interlake sql 'ALTER TABLE {T.INTERACTIONS} RENAME COLUMN {spelled_name(now)} TO {was}'`"
            for was, now in renamed.items())
    else:
        fix = f"rename them back (`interlake sql 'ALTER TABLE {T.INTERACTIONS} RENAME COLUMN <now> TO <was>'`)"
    raise InterlakeError(
        f"{T.INTERACTIONS} at {path} has no column{'s' if len(missing) > 1 else ''} {', '.join(missing)} (its columns: "
        f"{', '.join(columns)}); the jobs read and write the interaction schema: {fix}")


def sync_vocabulary_constraint(spark: SparkSession, path: str, vocabulary: tuple[str, ...]) -> None:
    """Replace the CHECK when the configured vocabulary changed. Growing is always safe; shrinking fails
    (Delta checks existing rows) with a message naming the types still present."""
    wanted = vocabulary_check(vocabulary)
    current = check_constraints(spark, path).get(T.VOCABULARY_CONSTRAINT)
    if current is not None and current.replace(" ", "") == wanted.replace(" ", ""):
        return
    if current is not None:
        spark.sql(f"ALTER TABLE {delta_path(path)} DROP CONSTRAINT {T.VOCABULARY_CONSTRAINT}")
    try:
        spark.sql(f"ALTER TABLE {delta_path(path)} ADD CONSTRAINT {T.VOCABULARY_CONSTRAINT} CHECK ({wanted})")
    except Exception as exc:
        from interlake.errors import ConfigError

        present = [r[0] for r in spark.sql(f"SELECT DISTINCT interaction_type FROM {delta_path(path)}").collect()]
        missing = sorted(set(present) - set(vocabulary))
        if current is not None:
            spark.sql(f"ALTER TABLE {delta_path(path)} ADD CONSTRAINT {T.VOCABULARY_CONSTRAINT} CHECK ({current})")
        raise ConfigError(
            f"interaction_types: the interactions table holds types {', '.join(missing)} that the config no "
            f"longer lists; add them back to interaction_types ({type(exc).__name__})"
        ) from None


def check_constraints(spark: SparkSession, path: str) -> dict[str, str]:
    """The CHECK constraints of the Delta table at ``path`` (it must exist), name -> expression."""
    prefix = "delta.constraints."
    return {key[len(prefix):]: value for key, value in table_properties(spark, path).items() if key.startswith(prefix)}


def own_checks(spark: SparkSession, path: str) -> dict[str, str]:
    """The CHECK constraints added to ``interactions`` by hand (``ALTER TABLE interactions ADD CONSTRAINT sku_ids
    CHECK (item_id LIKE 'sku-%')``), beside the vocabulary's: the rows a run would insert are checked against them
    (``validate.with_table_checks``). The table must exist."""
    return {name: expr for name, expr in check_constraints(spark, path).items() if name != T.VOCABULARY_CONSTRAINT}


def ensure_table(spark: SparkSession, path: str, ddl: str, *, database: str | None = None, name: str | None = None,
                 partition_by: tuple[str, ...] = (), cluster_by: tuple[str, ...] = (),
                 generated: dict[str, tuple[str, str]] | None = None) -> DeltaTable:
    """Create a Delta table from a DDL column list if missing (readable by delta-rs), register it, return it.
    ``generated``: extra columns ``{name: (type, SQL expression)}`` Delta computes on every write. A table of
    ``T.DESCRIPTIONS`` gets its description and column comments."""
    about, comments = T.DESCRIPTIONS.get(name or "", (None, {}))
    builder = DeltaTable.createIfNotExists(spark).location(_location(path))
    if about:
        builder = builder.comment(about)
    for field in spark.createDataFrame([], ddl).schema.fields:
        builder = builder.addColumn(field.name, field.dataType, nullable=field.nullable,
                                    comment=comments.get(field.name))
    for column, (kind, expression) in (generated or {}).items():
        builder = builder.addColumn(column, kind, generatedAlwaysAs=expression, comment=comments.get(column))
    if partition_by:
        builder = builder.partitionedBy(*partition_by)
    for key, value in READABLE_PROPERTIES.items():
        builder = builder.property(key, value)
    if name in JOB_CHANGED:
        builder = builder.property(PROPERTY, "false")
    table = builder.execute()
    if database and name:
        register_table(spark, database, name, path)
    return table

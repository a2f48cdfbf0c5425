"""Row validation, dqx-style: each check is a Column holding a message when the row fails and NULL when it passes;
``reasons`` collects every message that applies, in words a person understands.

Example:
    >>> checked = std_df.transform(with_reasons, vocabulary=("view",), now=datetime.now(timezone.utc))
    >>> valid, quarantine = split_valid_quarantine(checked)
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import StructType

from interlake.config import EPOCH_UNITS, spark_instant
from interlake.ingest.standardize import strip
from interlake.schemas import columns as C

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _missing(col: str, label: str) -> Column:
    return F.when(F.col(col).isNull(), F.lit(f"{label} is missing or empty"))


def _too_long(col: str, label: str, max_len: int) -> Column:
    return F.when(F.length(F.col(col)) > max_len, F.lit(f"{label} is longer than {max_len} characters"))


def check_timestamp(timestamp_format: str) -> Column:
    # the raw text is looked at only when no timestamp came out of it (the rare rows): strip() is not free
    return F.when(F.col(C.EVENT_TS).isNull(),
                  F.when(F.col("timestamp_raw").isNull() | (strip(F.col("timestamp_raw")) == ""),
                         F.lit("timestamp is missing or empty"))
                  .otherwise(F.concat(F.lit("timestamp '"), F.substring(F.col("timestamp_raw"), 1, 64),
                                      F.lit(f"' cannot be parsed as {timestamp_format}"))))


def check_time_range(now: datetime | Column, max_future_seconds: float, min_timestamp: str) -> Column:
    now_col = now if isinstance(now, Column) else F.lit(now).cast("timestamp")
    latest = now_col + F.make_dt_interval(secs=F.lit(float(max_future_seconds)))
    hours = max_future_seconds / 3600
    horizon = "a day" if hours == 24 else f"{hours:g} hours"
    return (F.when(F.col(C.EVENT_TS) > latest,
                   F.concat(F.lit("timestamp "), F.date_format(C.EVENT_TS, "yyyy-MM-dd HH:mm:ss"),
                            F.lit(f" UTC is more than {horizon} in the future")))
            .when(F.col(C.EVENT_TS) < F.lit(spark_instant(min_timestamp, "ingest.min_timestamp")).cast("timestamp"),
                  F.concat(F.lit("timestamp "), F.date_format(C.EVENT_TS, "yyyy-MM-dd HH:mm:ss"),
                           F.lit(f" UTC is before {min_timestamp}"))))


def check_vocabulary(vocabulary: tuple[str, ...]) -> Column:
    return (F.when(F.col(C.INTERACTION_TYPE).isNull(), F.lit("interaction type is missing or empty"))
            .when(~F.col(C.INTERACTION_TYPE).isin(*vocabulary),
                  F.concat(F.lit("interaction type '"), F.substring(F.col("interaction_type_raw"), 1, 64),
                           F.lit(f"' is not in the vocabulary ({', '.join(vocabulary)}) after mapping"))))


ENCODING_REASON = "text is not valid UTF-8 (replacement characters found)"


def encoding_reason(encoding: str = "utf-8") -> str:
    """The reason of a record whose text is not valid in its source's ``encoding`` (a ``SourceConfig.encoding``)."""
    return ENCODING_REASON if encoding in ("utf-8", "utf8", "us-ascii") else \
        ENCODING_REASON.replace("UTF-8", encoding.upper())


def check_encoding(encoding: str = "utf-8") -> Column:
    """Invalid text in the record: bytes that are not UTF-8 (the line readers keep them as they are) or the
    replacement characters a decoding reader (CSV, a file in another ``encoding``) or the JSON parser put in their
    place."""
    return F.when(~F.is_valid_utf8(F.col("raw")) | F.col("raw").contains("\ufffd"), F.lit(encoding_reason(encoding)))


def with_reasons(df: DataFrame, *, vocabulary: tuple[str, ...], now: datetime | Column,
                 timestamp_format: str = "iso8601",
                 max_id_length: int = 512, max_future_seconds: float = 86400.0,
                 min_timestamp: str = "2000-01-01", encoding: str = "utf-8") -> DataFrame:
    """Add ``reasons ARRAY<STRING>``: empty for a valid row. A record that could not be parsed has its parse error
    (and the encoding reason if that applies), not the field checks: its fields are unknown, so they would only add
    noise. ``raw`` comes out as valid UTF-8 (invalid bytes replaced by U+FFFD), so every reader of the quarantine
    can read it."""
    encoding = check_encoding(encoding)

    def not_single(col: str) -> list[Column]:  # a JSON record's id that is an object or a list (the readers say)
        return [F.col(f"{col}_error")] if f"{col}_error" in df.columns else []

    checks = [
        encoding,
        _missing(C.USER_ID, "user_id"), *not_single(C.USER_ID), _too_long(C.USER_ID, "user_id", max_id_length),
        _missing(C.ITEM_ID, "item_id"), *not_single(C.ITEM_ID), _too_long(C.ITEM_ID, "item_id", max_id_length),
        check_vocabulary(vocabulary),
        check_timestamp(timestamp_format),
        check_time_range(now, max_future_seconds, min_timestamp),
    ]
    # Each message as a one-element array or an empty one, concatenated: all of it runs in generated code (a
    # higher-order ``filter`` over ``array(*checks)`` would evaluate every check interpreted, row by row).
    empty = F.array().cast("array<string>")
    field_reasons = F.concat(*[F.when(c.isNotNull(), F.array(c)).otherwise(empty) for c in checks])
    parse_reasons = F.concat(F.when(encoding.isNotNull(), F.array(encoding)).otherwise(empty),
                             F.array(F.col("parse_error")))
    reasons = F.when(F.col("parse_error").isNotNull(), parse_reasons).otherwise(field_reasons)
    return df.withColumn(C.REASONS, reasons).withColumn("raw", F.make_valid_utf8(F.col("raw")))


def with_table_checks(df: DataFrame, checks: Mapping[str, str], table: StructType, now: datetime) -> DataFrame:
    """Add to the ``reasons`` of each row that passed every check the CHECK constraints of ``interactions`` it breaks
    (``checks``: ``own_checks``), as the row would be inserted (``table``: the table's schema; ``ingested_at`` is
    ``now``, a column added by hand NULL). A constraint that is NULL for the row breaks it, as Delta's check does.
    The reason names the constraint and its text (``breaks the CHECK constraint sku_ids of interactions: item_id LIKE
    "sku-%"``).
    Delta refused the whole run otherwise (``DELTA_VIOLATE_CONSTRAINT_WITH_VALUES``) at every run, naming neither the
    file nor the values."""
    if not checks:
        return df
    added = [f for f in table.fields if f.name not in df.columns]
    scoped = df.select("*", *[(F.lit(now) if f.name == C.INGESTED_AT else F.lit(None)).cast(f.dataType).alias(f.name)
                              for f in added])
    empty = F.array().cast("array<string>")
    broken = F.concat(*[F.when(F.coalesce(F.expr(expr), F.lit(False)), empty).otherwise(
        F.array(F.lit(f"breaks the CHECK constraint {name} of interactions: {_unquoted(expr)}")))
        for name, expr in sorted(checks.items())])
    reasons = F.when(F.size(C.REASONS) == 0, broken).otherwise(F.col(C.REASONS))
    return scoped.withColumn(C.REASONS, reasons).drop(*[f.name for f in added])


def _unquoted(expr: str) -> str:
    """A constraint's text with its string literals in double quotes (``item_id LIKE "sku-%"``): a single-quoted
    text in a reason is the value it names (``reason_kind``), and the literal would be taken for one."""
    return expr.replace("'", '"')


# The value a reason names: a quoted raw value ('1796087344000', 'LIKE') or a timestamp it came out as.
_QUOTED, _TIME = r"'[^']*'", r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d"


def reason_kind(reason: Column) -> Column:
    """A reason with its value left out (``timestamp '…' cannot be parsed as epoch_s``): one kind per check, not
    one per bad value, so counting them says what went wrong most often."""
    return F.regexp_replace(F.regexp_replace(reason, _QUOTED, "'…'"), _TIME, "…")


def reason_counts(df: DataFrame) -> DataFrame:
    """``(reason, rows, examples)`` over the rows of a checked DataFrame, most common first: ``reason`` its kind
    (:func:`reason_kind`), ``examples`` the smallest and the largest value the kind's rows name (none for a reason
    without a value). Before 2026-12-02 each value was its own reason: a source whose every timestamp was in the
    wrong unit said "most common reasons: 'timestamp '1796087344000' cannot ...' (1 row)", three times."""
    value = F.regexp_extract("reason", f"{_QUOTED}|{_TIME}", 0)
    return (df.select(F.explode(C.REASONS).alias("reason"))
            .groupBy(reason_kind(F.col("reason")).alias("kind"))
            .agg(F.count(F.lit(1)).alias("rows"), F.min(F.nullif(value, F.lit(""))).alias("lo"),
                 F.max(F.nullif(value, F.lit(""))).alias("hi"))
            .orderBy(F.desc("rows"), "kind")
            .select(F.col("kind").alias("reason"), "rows",
                    F.array_compact(F.array_distinct(F.array("lo", "hi"))).alias("examples")))


def describe_reason(reason: str, rows: int, examples: list[str]) -> str:
    """``'timestamp '…' cannot be parsed as epoch_s' (50 rows, e.g. '1796087344000', '1796087393000')``"""
    e_g = f", e.g. {', '.join(examples)}" if examples else ""
    return f"'{reason}' ({rows:,} row{'s' if rows != 1 else ''}{e_g})"


def epoch_unit_hint(timestamp_format: str, reasons: list[tuple[str, int, list[str]]], setting: str) -> str:
    """For an ``epoch_*`` source whose timestamps were refused: the unit the values' size says they are in, when
    it is another (seconds written as milliseconds are "before 2000-01-01", milliseconds read as seconds do not
    parse). ``reasons`` as :func:`reason_counts` gives them; "" when the values do not say."""
    if timestamp_format not in EPOCH_UNITS:
        return ""
    guesses = set()
    for reason, _, examples in reasons:
        if not reason.startswith("timestamp "):
            continue
        for example in examples:
            text = example.strip("'").strip()
            if re.fullmatch(_TIME, text):  # as read in the configured unit
                seconds = (datetime.fromisoformat(text).replace(tzinfo=UTC) - EPOCH).total_seconds()
                text = str(int(seconds * EPOCH_UNITS[timestamp_format]))
            elif re.search(r"\d{5,}-\d\d-\d\d", example):  # a year past 9999: a unit too small, by far
                return ""
            digits = re.fullmatch(r"[+-]?(\d+)(\.\d*)?", text)
            if not digits:
                return ""
            guesses.add(_unit_of(len(digits.group(1).lstrip("0") or "0")))
    if len(guesses) != 1 or None in guesses or timestamp_format in guesses:
        return ""
    unit = guesses.pop()
    return f"; the values look like {unit}: set {setting}: {unit}"


def vocabulary_hint(source: str, reasons: list[tuple[str, int, list[str]]]) -> str:
    """For a source whose rows were refused for interaction types outside the vocabulary (``reasons`` as
    :func:`reason_counts` gives them): the two settings that take such a value in; "" when no such reason is
    among them."""
    if not any(reason.startswith("interaction type '") for reason, _, _ in reasons):
        return ""
    return (f"; map such values to a type in sources.{source}.interaction_type_map, or add them to "
            "interaction_types")


def _unit_of(digits: int) -> str | None:
    """The epoch unit of a timestamp of the years 2001-2286 with this many digits (10 in seconds, 13 in ms, ...)."""
    return {9 + len(str(per_s)): unit for unit, per_s in EPOCH_UNITS.items()}.get(digits)


def split_valid_quarantine(df: DataFrame) -> tuple[DataFrame, DataFrame]:
    """(rows with no reason, rows with at least one)."""
    ok = F.size(F.col(C.REASONS)) == 0
    return df.where(ok), df.where(~ok)

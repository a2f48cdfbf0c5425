"""Standardize and validate as pure transforms, on inline rows (no files, no tables)."""

import datetime as dt
import hashlib

import pytest
from chispa import assert_df_equality
from interlake.config import SourceConfig
from interlake.ingest.pipeline import new_events
from interlake.ingest.readers import _flatten_schema, queue_records, record_type, variant_path
from interlake.ingest.standardize import event_id, parse_timestamp, standardize
from interlake.ingest.validate import split_valid_quarantine, with_reasons
from pyspark.sql import functions as F

VOCAB = ("view", "add_to_cart", "purchase")
NOW = dt.datetime(2026, 11, 1, 12, 0, 0)
RAW_DDL = ("source STRING, file STRING, raw STRING, parse_error STRING, user_id_raw STRING, item_id_raw STRING, "
           "interaction_type_raw STRING, timestamp_raw STRING")


@pytest.mark.parametrize("fmt, raw, expected", [
    ("epoch_s", "1790000000", dt.datetime(2026, 9, 21, 14, 13, 20)),
    ("epoch_s", " 1790000000.1239 ", dt.datetime(2026, 9, 21, 14, 13, 20, 123000)),  # truncated to ms
    ("epoch_ms", "1790000000123", dt.datetime(2026, 9, 21, 14, 13, 20, 123000)),
    ("epoch_us", "1790000000123456", dt.datetime(2026, 9, 21, 14, 13, 20, 123000)),
    ("epoch_ns", "1790000000123456789", dt.datetime(2026, 9, 21, 14, 13, 20, 123000)),
    ("epoch_ns", "-1000000", dt.datetime(1969, 12, 31, 23, 59, 59, 999000)),
    ("epoch_ns", "999999999999999999999999", None),  # ~ year 33658: NULL, not an ANSI error
    ("iso8601", "2026-09-21T16:13:20.5+02:00", dt.datetime(2026, 9, 21, 14, 13, 20, 500000)),
    ("iso8601", "2026-09-21T14:13:20Z", dt.datetime(2026, 9, 21, 14, 13, 20)),
    ("iso8601", "2026-09-21 14:13:20", dt.datetime(2026, 9, 21, 14, 13, 20)),  # no offset: UTC
    # ISO spellings Spark's parser refuses (quarantined before 2026-12-01): no seconds before a zone, RFC 3339's
    # lower-case t and z, a decimal comma
    ("iso8601", "2026-09-21T14:13Z", dt.datetime(2026, 9, 21, 14, 13)),
    ("iso8601", "2026-09-21T16:13+02:00", dt.datetime(2026, 9, 21, 14, 13)),
    ("iso8601", "2026-09-21 14:13 UTC", dt.datetime(2026, 9, 21, 14, 13)),
    ("iso8601", "2026-09-21 16:13 Europe/Berlin", dt.datetime(2026, 9, 21, 14, 13)),
    ("iso8601", "2026-09-21t14:13:20.5z", dt.datetime(2026, 9, 21, 14, 13, 20, 500000)),
    ("iso8601", "2026-09-21T14:13:20,25Z", dt.datetime(2026, 9, 21, 14, 13, 20, 250000)),
    ("iso8601", "2026-09-21T14:13", dt.datetime(2026, 9, 21, 14, 13)),
    ("iso8601", "2026-09-21T14Z", None),  # an hour alone is not read
    ("dd/MM/yyyy HH:mm", "21/09/2026 14:13", dt.datetime(2026, 9, 21, 14, 13)),
    ("epoch_s", "yesterday", None),
    ("epoch_ms", "99999999999999999999", None),  # would overflow: NULL, not an ANSI error
    ("iso8601", "2026-13-45", None),
    ("epoch_s", None, None),
])
def test_parse_timestamp(spark, fmt, raw, expected):
    got = spark.createDataFrame([(raw,)], "raw STRING").select(parse_timestamp(F.col("raw"), fmt).alias("ts")).first()
    assert got["ts"] == expected


@pytest.mark.parametrize("fmt, raw, expected", [
    ("iso8601", "2026-09-21 10:00:00", dt.datetime(2026, 9, 21, 8)),              # Berlin summer time: +02:00
    ("iso8601", "2026-01-21T10:00", dt.datetime(2026, 1, 21, 9)),                 # winter: +01:00
    ("iso8601", "2026-09-21", dt.datetime(2026, 9, 20, 22)),                      # a date: its midnight there
    ("iso8601", "2026-09-21T10:00:00.5+05:00", dt.datetime(2026, 9, 21, 5, 0, 0, 500000)),  # its own offset wins
    ("iso8601", "2026-09-21T10:00:00Z", dt.datetime(2026, 9, 21, 10)),
    ("iso8601", " 2026-09-21 10:00:00 UTC ", dt.datetime(2026, 9, 21, 10)),
    ("iso8601", "2026-09-21T10:00:00+0200", dt.datetime(2026, 9, 21, 8)),
    ("iso8601", "2026-09-21T10:00+05:00", dt.datetime(2026, 9, 21, 5)),             # its own offset, no seconds
    ("dd/MM/yyyy HH:mm", "21/09/2026 00:30", dt.datetime(2026, 9, 20, 22, 30)),   # the day before in UTC
    ("iso8601", "2026-03-29 02:30:00", dt.datetime(2026, 3, 29, 1, 30)),          # skipped by the clock: 03:30 CEST
    ("iso8601", "2026-10-25 02:30:00", dt.datetime(2026, 10, 25, 0, 30)),         # repeated: the first, CEST
    ("iso8601", "soon", None),
])
def test_parse_timestamp_in_a_source_time_zone(spark, fmt, raw, expected):
    """``sources.<name>.timezone``: a legacy export's local wall-clock times become their instants (UTC)."""
    got = (spark.createDataFrame([(raw,)], "raw STRING")
           .select(parse_timestamp(F.col("raw"), fmt, "Europe/Berlin").alias("ts")).first())
    assert got["ts"] == expected


def test_event_id_is_the_same_for_the_same_four_values_whatever_the_source_format(spark):
    df = spark.createDataFrame([("u1", "i1", "view", "1790000000.123", "epoch_s"),
                                ("u1", "i1", "view", "1790000000123", "epoch_ms"),
                                ("u1", "i1", "view", "2026-09-21T14:13:20.123Z", "iso8601")],
                               "u STRING, i STRING, t STRING, ts STRING, fmt STRING")
    ids = set()
    for fmt in ("epoch_s", "epoch_ms", "iso8601"):
        row = df.where(F.col("fmt") == fmt).select(
            event_id(F.col("u"), F.col("i"), F.col("t"), parse_timestamp(F.col("ts"), fmt)).alias("id")).first()
        ids.add(row["id"])
    assert len(ids) == 1 and len(ids.pop()) == 64


def test_event_ids_of_ids_holding_the_separator_are_not_those_of_other_ids(spark):
    """The four values are joined by U+001F: user ``a␟b`` with item ``c`` and user ``a`` with item ``b␟c`` were one
    text, so one id. They now differ, and an id without the separator keeps the hash it always had."""
    t0_ms = 1_790_000_000_123
    df = spark.createDataFrame([("plain", "u1", "i1"), ("in_user", "a\u001fb", "c"), ("in_item", "a", "b\u001fc"),
                                ("at_ends", "a\u001f", "\u001fc"), ("two_in_item", "a", "\u001f\u001fc")],
                               "case STRING, u STRING, i STRING")
    ids = event_id(F.col("u"), F.col("i"), F.lit("view"), F.timestamp_millis(F.lit(t0_ms)))
    got = {r["case"]: r["id"] for r in df.select("case", ids.alias("id")).collect()}
    assert len(set(got.values())) == 5
    assert got["plain"] == hashlib.sha256(f"u1\u001fi1\u001fview\u001f{t0_ms}".encode()).hexdigest()


def test_standardize_maps_trims_and_keeps_vocabulary_names(spark):
    raw = spark.createDataFrame([
        ("s", "f", "r1", None, "  u1 ", " i1", "5", "1790000000"),
        ("s", "f", "r2", None, "u2", "i2", "View", "1790000000"),  # a vocabulary name needs no map
        ("s", "f", "r3", None, "u3", "i3", "LIKE", "1790000000"),  # unknown stays as spelled
        ("s", "f", "r4", None, "", None, None, None),
        # tabs, line ends, no-break spaces: before 2026-11-30 only spaces were trimmed ("u5\t" stored as another user)
        ("s", "f", "r5", None, "\tu5\r\n", "i5\u00a0", " View\t", "\t1790000000\n"),
        ("s", "f", "r6", None, "u5", "i5", "view", "1790000000"),
        ("s", "f", "r7", None, "\t\u3000", "\u00a0", "\t", None),  # white space only: empty
    ], RAW_DDL)
    got = raw.transform(standardize, type_map={"5": "purchase"}, vocabulary=VOCAB, timestamp_format="epoch_s")
    expected = spark.createDataFrame([
        ("r1", "u1", "i1", "purchase"), ("r2", "u2", "i2", "view"), ("r3", "u3", "i3", "LIKE"),
        ("r4", None, None, None), ("r5", "u5", "i5", "view"), ("r6", "u5", "i5", "view"), ("r7", None, None, None)],
        "raw STRING, user_id STRING, item_id STRING, interaction_type STRING")
    assert_df_equality(got.select("raw", "user_id", "item_id", "interaction_type"), expected,
                       ignore_nullable=True, ignore_row_order=True)
    ids = {r["raw"]: r["event_id"] for r in got.where(F.col("raw").isin("r5", "r6")).collect()}
    assert ids["r5"] == ids["r6"] is not None  # the same event, wherever its values were padded


def _reasons(spark, rows, fmt="epoch_s"):
    raw = spark.createDataFrame(rows, RAW_DDL)
    return (raw.transform(standardize, type_map={}, vocabulary=VOCAB, timestamp_format=fmt)
            .transform(with_reasons, vocabulary=VOCAB, now=NOW, timestamp_format=fmt, max_id_length=512))


def test_every_validation_reason_in_words(spark):
    long_id = "x" * 513
    rows = [
        ("s", "f", "ok", None, "u1", "i1", "view", "1790000000"),
        ("s", "f", "no-user", None, " ", "i1", "view", "1790000000"),
        ("s", "f", "no-item", None, "u1", None, "view", "1790000000"),
        ("s", "f", "long", None, long_id, "i1", "view", "1790000000"),
        ("s", "f", "bad-ts", None, "u1", "i1", "view", "soon"),
        ("s", "f", "no-ts", None, "u1", "i1", "view", None),
        ("s", "f", "future", None, "u1", "i1", "view", str(int(NOW.replace(tzinfo=dt.UTC).timestamp())
                                                           + 2 * 86400)),
        ("s", "f", "old", None, "u1", "i1", "view", "100"),
        ("s", "f", "type", None, "u1", "i1", "like", "1790000000"),
        ("s", "f", "no-type", None, "u1", "i1", "", "1790000000"),
        ("s", "f", "many", None, "", "", "wish", "x"),
        ("s", "f", "bad \ufffd enc", None, "u1", "i1", "view", "1790000000"),
        ("s", "f", "{broken", "line is not valid JSON", None, None, None, None),
        ("s", "f", "{broken \ufffd", "line is not valid JSON", None, None, None, None),
    ]
    got = _reasons(spark, rows).select("raw", "reasons")
    vocab = "view, add_to_cart, purchase"
    expected = spark.createDataFrame([
        ("ok", []),
        ("no-user", ["user_id is missing or empty"]),
        ("no-item", ["item_id is missing or empty"]),
        ("long", ["user_id is longer than 512 characters"]),
        ("bad-ts", ["timestamp 'soon' cannot be parsed as epoch_s"]),
        ("no-ts", ["timestamp is missing or empty"]),
        ("future", ["timestamp 2026-11-03 12:00:00 UTC is more than a day in the future"]),
        ("old", ["timestamp 1970-01-01 00:01:40 UTC is before 2000-01-01"]),
        ("type", [f"interaction type 'like' is not in the vocabulary ({vocab}) after mapping"]),
        ("no-type", ["interaction type is missing or empty"]),
        ("many", ["user_id is missing or empty", "item_id is missing or empty",
                  f"interaction type 'wish' is not in the vocabulary ({vocab}) after mapping",
                  "timestamp 'x' cannot be parsed as epoch_s"]),
        ("bad \ufffd enc", ["text is not valid UTF-8 (replacement characters found)"]),
        ("{broken", ["line is not valid JSON"]),
        ("{broken \ufffd", ["text is not valid UTF-8 (replacement characters found)", "line is not valid JSON"]),
    ], "raw STRING, reasons ARRAY<STRING>")
    assert_df_equality(got, expected, ignore_nullable=True, ignore_row_order=True)


def test_split_valid_quarantine(spark):
    checked = _reasons(spark, [("s", "f", "ok", None, "u1", "i1", "view", "1790000000"),
                               ("s", "f", "bad", None, None, "i1", "view", "1790000000")])
    valid, bad = split_valid_quarantine(checked)
    assert [r.raw for r in valid.collect()] == ["ok"]
    assert [r.raw for r in bad.collect()] == ["bad"]


def test_new_events_one_row_per_event_first_copy_wins_stored_ones_left_out(spark):
    ddl = ("event_id STRING, user_id STRING, item_id STRING, interaction_type STRING, event_ts TIMESTAMP, "
           "event_date DATE, source STRING, file STRING")
    t, d = dt.datetime(2026, 10, 1, 10), dt.date(2026, 10, 1)
    valid = spark.createDataFrame([
        ("e1", "u1", "i1", "view", t, d, "s", "b.csv"), ("e1", "u1", "i1", "view", t, d, "s", "a.csv"),
        ("e1", "u1", "i1", "view", t, d, "s", "b.csv"),  # three copies in two files: a.csv comes first
        ("e2", "u2", "i2", "purchase", t, d, "s", "b.csv"),
        ("e3", "u3", "i3", "view", t, d, "s", "c.csv"),  # already stored
    ], ddl)
    existing = spark.createDataFrame([("e3", d)], "event_id STRING, event_date DATE")
    got = new_events(valid, existing, [("s", "a.csv"), ("s", "b.csv"), ("s", "c.csv")])
    expected = spark.createDataFrame([("e1", "u1", "i1", "view", t, d, "s", "a.csv"),
                                      ("e2", "u2", "i2", "purchase", t, d, "s", "b.csv")], ddl)
    assert_df_equality(got, expected, ignore_nullable=True, ignore_row_order=True)


def test_variant_paths_and_schema_flattening():
    assert variant_path("a.b c") == "$['a']['b c']"
    assert variant_path("it's") == "$['it\\'s']"
    assert _flatten_schema("OBJECT<a: BIGINT, b: OBJECT<c: STRING, d: ARRAY<BIGINT>>, e: STRING>") == [
        "a", "b", "b.c", "b.d", "e"]


def test_record_type_holds_every_mapped_path_or_gives_up_on_a_leaf_object_clash():
    assert record_type(["uid", "ctx.sku", "ctx.page id", "a`b"]) == (
        "struct<`uid`: string, `ctx`: struct<`sku`: string, `page id`: string>, `a``b`: string>")
    assert record_type(["ctx", "ctx.sku"]) is None
    assert record_type(["ctx.sku", "ctx"]) is None


@pytest.mark.parametrize("fields", [
    {"user_id": "uid", "item_id": "ctx.sku", "interaction_type": "a b", "timestamp": "ts"},  # one STRUCT cast
    {"user_id": "ctx", "item_id": "ctx.sku", "interaction_type": "a b", "timestamp": "ts"},  # per-path fallback
])
def test_queue_records_one_parse_per_line_for_object_and_string_values(spark, fields):
    src = SourceConfig(name="q", format="queue_dump", path="unused", fields=fields)
    lines = [
        '{"value": {"uid": "u1", "UID": "no", "ctx": {"sku": 2.50}, "a b": "view", "ts": 1e3}}',
        '{"value": "{\\"uid\\": 12, \\"ctx\\": {\\"sku\\": {\\"k\\": [1]}}, \\"a b\\": true, \\"ts\\": 1e3}"}',
        '{"value": [1, 2]}', '{"value": null}', '{"x": 1}', '{"value": "{broken"}', 'not json',
        '{"value": {"uid": "a", "uid": "b"}}',
    ]
    got = queue_records(spark.createDataFrame([(x, "f") for x in lines], "raw STRING, file STRING"), src)
    first_ctx = '{"sku":2.5}' if fields["user_id"] == "ctx" else "u1"
    second_ctx = '{"sku":{"k":[1]}}' if fields["user_id"] == "ctx" else "12"
    expected = [
        (None, first_ctx, "2.5", "view", "1000.0"),  # an object value: case-sensitive keys, numbers as parsed
        (None, second_ctx, '{"k":[1]}', "true", "1000.0"),  # a string value holding JSON: the same reading
        ("queue record value is not a JSON object",) + (None,) * 4,  # valid JSON, but a list has no fields
        ("queue record has no value",) + (None,) * 4,
        ("queue record has no value",) + (None,) * 4,
        ("queue record value is not valid JSON",) + (None,) * 4,
        ("line is not valid JSON",) + (None,) * 4,
        ("line is not valid JSON",) + (None,) * 4,  # duplicate keys are not valid JSON records
    ]
    rows = [(r.parse_error, r.user_id_raw, r.item_id_raw, r.interaction_type_raw, r.timestamp_raw)
            for r in got.collect()]
    assert rows == expected


def test_the_per_file_report_prints_counts_with_thousands_separators(capsys):
    """The per-file table reads as the summary line under it does (3,761,427, not 3761427), columns aligned."""
    from interlake.ingest.pipeline import FileReport, IngestResult, SourceResult, print_report

    files = [FileReport("q", "file:/in/q/a.jsonl", 1_254_732, 1_250_000, 4_000, 732),
             FileReport("q", "file:/in/q/b.jsonl", 7, 7, 0, 0)]
    print_report(IngestResult("r1", [SourceResult("q", "ok", files=files)]))
    assert capsys.readouterr().out.splitlines() == [
        "source  file          read   accepted  duplicate  quarantined",
        "q       a.jsonl  1,254,732  1,250,000      4,000          732",
        "q       b.jsonl          7          7          0            0",
        "ingest run r1: ok; 2 files, 1,254,739 read = 1,250,007 accepted + 4,000 duplicate + 732 quarantined"]


def test_reason_counts_count_each_kind_of_reason_once_with_two_of_its_values(spark):
    from interlake.ingest.validate import describe_reason, reason_counts

    bad_ts = "timestamp '{}' cannot be parsed as epoch_s"
    df = spark.createDataFrame([([bad_ts.format(17900000001)],),
                                ([bad_ts.format(17900000009), "user_id is missing or empty"],),
                                ([bad_ts.format(17900000005)],),
                                (["interaction type 'LIKE' is not in the vocabulary (view) after mapping"],),
                                (["timestamp 2026-12-09 10:00:00 UTC is more than a day in the future"],),
                                ([],)], "reasons ARRAY<STRING>")
    got = [describe_reason(*r) for r in reason_counts(df).collect()]
    assert got == ["'timestamp '…' cannot be parsed as epoch_s' (3 rows, e.g. '17900000001', '17900000009')",
                   "'interaction type '…' is not in the vocabulary (view) after mapping' (1 row, e.g. 'LIKE')",
                   "'timestamp … UTC is more than a day in the future' (1 row, e.g. 2026-12-09 10:00:00)",
                   "'user_id is missing or empty' (1 row)"]


@pytest.mark.parametrize("fmt, examples, hint", [
    ("epoch_s", ["'1790000000000'", "'1790000004000'"], "epoch_ms"),  # milliseconds read as seconds
    ("epoch_ms", ["1970-01-21 17:13:20"], "epoch_s"),  # seconds read as milliseconds: January 1970
    ("epoch_us", ["'1790000000000000000'"], "epoch_ns"),
    ("epoch_ns", ["1970-01-01 00:29:50"], "epoch_ms"),  # milliseconds read as nanoseconds
    ("epoch_s", ["'yesterday'"], None),  # not a number: no unit to suggest
    ("epoch_s", ["'1790000000000'", "'1790000000'"], None),  # mixed: no one unit
    ("epoch_ms", ["'179000000000'"], None),  # 12 digits: no unit of these years
    ("iso8601", ["'1790000000000'"], None),  # not an epoch format
])
def test_epoch_unit_hint(fmt, examples, hint):
    from interlake.ingest.validate import epoch_unit_hint

    reasons = [("timestamp '…' cannot be parsed as x", 9, examples), ("user_id is missing or empty", 1, [])]
    expected = f"; the values look like {hint}: set sources.s.timestamp_format: {hint}" if hint else ""
    assert epoch_unit_hint(fmt, reasons, "sources.s.timestamp_format") == expected

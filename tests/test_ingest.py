"""Batch ingestion end to end on real Delta tables under tmp_path."""

import base64
import datetime as dt
import gzip
import json
import logging
import os

import pytest
from interlake.errors import ConfigError, SourceError
from interlake.ingest.pipeline import ingest
from interlake.schemas import tables as T
from pyspark.sql import functions as F

from tests.conftest import append_only_said
from tests.ingest_helpers import CSV_SOURCE, QUEUE_SOURCE, T0, ledger_rows, queue_line, table_rows, write

NOW = dt.datetime(2026, 11, 1)


def ts(seconds):
    return dt.datetime(1970, 1, 1) + dt.timedelta(seconds=seconds)


def csv_cfg(make_config, tmp_path, **extra):
    return make_config(sources={"shop": {**CSV_SOURCE, "path": str(tmp_path / "in/shop"), **extra}})


def test_csv_source_lands_standardized(spark, make_config, tmp_path):
    write(tmp_path / "in/shop/a.csv", f"customer,product,event,time\n u1 ,i1,VIEW,{T0}.5\nu2,i2,BUY,{T0 + 60}\n")
    cfg = csv_cfg(make_config, tmp_path)
    result = ingest(spark, cfg, now=NOW)
    assert result.ok
    assert table_rows(spark, cfg.table_path(T.INTERACTIONS)) == [
        ("u1", "i1", "view", ts(T0 + 0.5), "shop"), ("u2", "i2", "purchase", ts(T0 + 60), "shop")]
    row = spark.read.format("delta").load(cfg.table_path(T.INTERACTIONS)).where("user_id = 'u1'").first()
    assert row.event_date == dt.date(2026, 9, 21) and len(row.event_id) == 64
    # GX's import sets a logger of its own to INFO: its "ephemeral docs site" line came among the job's progress lines
    assert logging.getLogger("great_expectations.data_context.types.base").getEffectiveLevel() >= logging.WARNING


def test_a_lakehouse_and_a_source_given_as_file_uris_are_ingested_and_a_rerun_is_a_no_op(spark, make_config,
                                                                                          tmp_path):
    """``lakehouse: file:///lake`` failed every first run with Delta's ``[DELTA_AMBIGUOUS_PATHS_IN_CREATE_TABLE]
    CREATE TABLE contains two different locations: file:///lake/interactions and file:/lake/interactions``; and
    ``file:/lake`` (Hadoop's spelling, as the ledger's ``file`` column has it) was taken for ``./file:/lake``."""
    write(tmp_path / "in/shop/a.csv", f"customer,product,event,time\nu1,i1,VIEW,{T0}\nu2,i2,BUY,{T0 + 60}\n")
    cfg = make_config(lakehouse=f"file:{tmp_path}/lake", database="urilake",
                      sources={"shop": {**CSV_SOURCE, "path": f"file:{tmp_path}/in/shop"}})
    assert (cfg.lakehouse, cfg.table_path(T.INTERACTIONS)) == (f"file://{tmp_path}/lake",
                                                               f"file://{tmp_path}/lake/interactions")
    first, again = ingest(spark, cfg, now=NOW), ingest(spark, cfg, now=NOW)
    assert first.ok and again.ok, first.sources[0].message
    assert [s.status for s in first.sources + again.sources] == ["ok", "no new files"]
    assert table_rows(spark, f"{tmp_path}/lake/interactions") == [
        ("u1", "i1", "view", ts(T0), "shop"), ("u2", "i2", "purchase", ts(T0 + 60), "shop")]
    assert [tuple(r) for r in spark.read.format("delta").load(f"{tmp_path}/lake/{T.LEDGER}").select(
        "file", "rows_read", "rows_accepted", "status").collect()] == [(f"file:{tmp_path}/in/shop/a.csv", 2, 2,
                                                                        "committed")]
    assert not os.path.exists("file:")  # nothing under the current directory
    # a re-run with nothing new is answered from the ledger without Spark, as for a path (it started Spark before);
    # so is a source folder that is not there
    from interlake.ingest.noop import no_source_folder, nothing_new

    assert [s.status for s in nothing_new(cfg, now=NOW).sources] == ["no new files"]
    gone = make_config(lakehouse=f"file://{tmp_path}/lake", sources={"shop": {**CSV_SOURCE,
                                                                              "path": f"file:{tmp_path}/in/gone"}})
    assert [(s.status, s.message) for s in no_source_folder(gone).sources] == [(
        "failed", f"source folder file://{tmp_path}/in/gone does not exist; create it or fix sources.shop.path")]
    spark.sql("DROP DATABASE urilake CASCADE")


def test_a_time_zone_aware_now_is_the_same_instant_as_naive_utc(spark, make_config, tmp_path):
    """A library caller's ``now=datetime.now(ZoneInfo(...))`` failed the quality gate (GX compared the aware value
    with the naive timestamps). It is that instant in UTC: 02:00 at +02:00 is midnight UTC, so an event 23 hours
    after midnight is accepted and one 25 hours after it is more than a day in the future."""
    midnight = int((NOW - dt.datetime(1970, 1, 1)).total_seconds())
    write(tmp_path / "in/shop/a.csv", f"customer,product,event,time\nu1,i1,VIEW,{midnight + 23 * 3600}\n"
                                      f"u2,i2,VIEW,{midnight + 25 * 3600}\n")
    cfg = make_config(sources={"shop": {**CSV_SOURCE, "path": str(tmp_path / "in/shop")}},
                      ingest={"max_quarantine_share": 0.5})
    result = ingest(spark, cfg, now=dt.datetime(2026, 11, 1, 2, tzinfo=dt.timezone(dt.timedelta(hours=2))))
    assert result.ok, result.sources[0].message
    assert result.run_id.startswith("20261101T000000Z-")
    assert table_rows(spark, cfg.table_path(T.INTERACTIONS), ("user_id", "event_ts", "ingested_at")) == [
        ("u1", NOW + dt.timedelta(hours=23), NOW)]
    assert table_rows(spark, cfg.table_path(T.QUARANTINE), ("reasons",)) == [
        (["timestamp 2026-11-02 01:00:00 UTC is more than a day in the future"],)]


def test_jsonl_with_nested_fields(spark, make_config, tmp_path):
    lines = [json.dumps({"who": {"id": "u1"}, "what": {"sku": "i1", "kind": "view"}, "at": "2026-09-21T10:00:00Z"}),
             json.dumps({"who": {"id": 7}, "what": {"sku": "i2", "kind": "purchase"},
                         "at": "2026-09-21T12:00:00+02:00"})]
    write(tmp_path / "in/app/a.jsonl", "\n".join(lines) + "\n\n")
    cfg = make_config(sources={"app": {
        "format": "jsonl", "path": str(tmp_path / "in/app"), "timestamp_format": "iso8601",
        "fields": {"user_id": "who.id", "item_id": "what.sku", "interaction_type": "what.kind", "timestamp": "at"}}})
    assert ingest(spark, cfg, now=NOW).ok
    assert table_rows(spark, cfg.table_path(T.INTERACTIONS)) == [
        ("7", "i2", "purchase", dt.datetime(2026, 9, 21, 10), "app"),  # a number id becomes its text
        ("u1", "i1", "view", dt.datetime(2026, 9, 21, 10), "app")]


def test_a_decimal_number_or_a_quoted_name_does_not_hide_the_fields_after_it(spark, make_config, tmp_path):
    """An export with a price (12.5: Spark samples it as ``DECIMAL(3,1)``) failed its source: the comma inside the
    type split the sampled field list, so ``uid`` and every field after ``amount`` were "not found". A key Spark
    backquotes (``user:id``) was cut at its colon. Epoch milliseconds written as a float (``1790000000123.0``) or
    with an exponent are the same instant as the integer."""
    from interlake.ingest.readers import _flatten_schema

    lines = [{"amount": 12.5, "user:id": "u1", "sku": "i1", "type": "view", "ts": 1790000000123.0},
             {"amount": 3, "user:id": "u2", "sku": "i2", "type": "view", "ts": 1790000000123},
             {"amount": 0.25, "user:id": "u3", "sku": "i3", "type": "view", "ts": 1.790000000123e12}]
    write(tmp_path / "in/shop/a.jsonl", "".join(json.dumps(line) + "\n" for line in lines))
    cfg = make_config(sources={"shop": {
        "format": "jsonl", "path": str(tmp_path / "in/shop"), "timestamp_format": "epoch_ms",
        "fields": {"user_id": "user:id", "item_id": "sku", "interaction_type": "type", "timestamp": "ts"}}})
    assert ingest(spark, cfg, now=NOW).ok
    instant = dt.datetime(2026, 9, 21, 14, 13, 20, 123000)
    assert table_rows(spark, cfg.table_path(T.INTERACTIONS), ("user_id", "item_id", "event_ts")) == [
        ("u1", "i1", instant), ("u2", "i2", instant), ("u3", "i3", instant)]
    kinds = {}  # Spark's spelling (schema_of_variant_agg, Spark 4.1): names with :, ", ", <> and a backquote (which a
    # mapping writes backquoted, as a name with a dot)
    assert _flatten_schema("OBJECT<Big: OBJECT<x: DECIMAL(3,2)>, `a:b`: BIGINT, amount: DECIMAL(21,1), arr: "
                           "ARRAY<OBJECT<k: DECIMAL(2,1)>>, `c, d`: STRING, `e<f>`: BIGINT, `g``h`: BIGINT, uid: "
                           "STRING>", kinds) == [
        "Big", "Big.x", "a:b", "amount", "arr", "c, d", "e<f>", "`g``h`", "uid"]
    assert kinds["Big"] == "object" and kinds["arr"] == "array" and kinds["amount"] == kinds["`g``h`"] == "value"


def test_a_key_with_a_dot_in_its_name_is_mapped_backquoted(spark, make_config, tmp_path):
    """Flattened exports write ``{"user.id": "u1"}``. Mapped as ``user.id`` (a nested path) the field check passed
    (the sampled list spelled the key the same) and then every record was quarantined as ``user_id is missing``;
    now the list backquotes such a key, the error says to write it so, and ``"`user.id`"`` maps it (JSON Lines and a
    Parquet column alike; a nested ``item.id`` stays a path)."""
    rec = {"user.id": "u1", "item": {"id": "i1"}, "type": "view", "ts": "2026-09-21T10:00:00Z"}
    write(tmp_path / "in/flat/a.jsonl", json.dumps(rec) + "\n")
    spark.createDataFrame([("u2", ("i2",), "view", "2026-09-21T10:00:00Z")],
                          "`user.id` string, item struct<id: string>, type string, ts string").write.parquet(
        str(tmp_path / "in/pq"))
    fields = {"user_id": "user.id", "item_id": "item.id", "interaction_type": "type", "timestamp": "ts"}
    quoted = {**fields, "user_id": "`user.id`"}
    cfg = make_config(sources={
        "nested": {"format": "jsonl", "path": str(tmp_path / "in/flat"), "fields": fields},
        "flat": {"format": "jsonl", "path": str(tmp_path / "in/flat"), "fields": quoted},
        "pq": {"format": "parquet", "path": str(tmp_path / "in/pq"), "fields": quoted}})
    result = ingest(spark, cfg, now=NOW)
    assert result.sources[0].message == (
        "source nested: fields not found in the JSON records: user_id -> 'user.id'. The files have: item, item.id, "
        "ts, type, `user.id`. Fix sources.nested.fields. 'user.id' is one key with a dot in its name in the files: "
        "write it backquoted, '`user.id`', to map it")
    assert [s.status for s in result.sources[1:]] == ["ok", "ok"]
    assert table_rows(spark, cfg.table_path(T.INTERACTIONS), ("user_id", "item_id", "source")) == [
        ("u1", "i1", "flat"), ("u2", "i2", "pq")]


def test_json_document_array_with_a_constant_type(spark, make_config, tmp_path):
    doc = [{"buyer": "u1", "item": {"id": "i1"}, "day": "21/09/2026 10:00"},
           {"buyer": "u2", "item": {"id": "i2"}, "day": "21/09/2026 11:30"}]
    write(tmp_path / "in/orders/orders.json", json.dumps(doc, indent=2))
    cfg = make_config(sources={"orders": {
        "format": "json", "path": str(tmp_path / "in/orders"), "timestamp_format": "dd/MM/yyyy HH:mm",
        "fields": {"user_id": "buyer", "item_id": "item.id", "timestamp": "day"},
        "constants": {"interaction_type": "purchase"}}})
    assert ingest(spark, cfg, now=NOW).ok
    assert table_rows(spark, cfg.table_path(T.INTERACTIONS)) == [
        ("u1", "i1", "purchase", dt.datetime(2026, 9, 21, 10), "orders"),
        ("u2", "i2", "purchase", dt.datetime(2026, 9, 21, 11, 30), "orders")]


def test_json_documents_with_their_records_under_a_record_path(spark, make_config, tmp_path):
    """An API's export: each document ``{"data": [...], "next": ...}``. ``record_path: data`` takes the list's items
    (a dotted path reaches deeper); a page with an empty list, like a document ``[]``, is a file of no records (before
    2026-12-01 one quarantined "record"); a saved error body without the list is quarantined whole, with a reason.
    Without ``record_path`` the missing fields' error names the list; a path no document has is its own error."""
    rec = {"uid": "u1", "sku": "i1", "action": "view", "ts": "2026-09-21T10:00:00Z"}
    write(tmp_path / "in/api/p1.json", json.dumps({"data": [rec, {**rec, "uid": "u2"}], "next": "p2"}))
    write(tmp_path / "in/api/p2.json", json.dumps({"data": [], "next": None}))
    write(tmp_path / "in/api/p3.json", json.dumps({"error": "rate limited"}))
    write(tmp_path / "in/deep/a.json", json.dumps({"result": {"events": [{**rec, "uid": "u3"}]}}))
    write(tmp_path / "in/plain/empty.json", "[]")
    write(tmp_path / "in/plain/a.json", json.dumps([{**rec, "uid": "u4"}]))
    api = {"format": "json", "path": str(tmp_path / "in/api"), "timestamp_format": "iso8601",
           "fields": {"user_id": "uid", "item_id": "sku", "interaction_type": "action", "timestamp": "ts"}}
    cfg = make_config(sources={"api": {**api, "record_path": "data"},
                               "deep": {**api, "path": str(tmp_path / "in/deep"), "record_path": "result.events"},
                               "plain": {**api, "path": str(tmp_path / "in/plain")},
                               "unset": api, "wrong": {**api, "record_path": "items"}},
                      ingest={"max_quarantine_share": 0.5})
    result = ingest(spark, cfg, now=NOW)
    counts = {s.source: [(f.file.rsplit("/", 1)[-1], f.rows_read, f.rows_accepted, f.rows_quarantined)
                         for f in s.files] for s in result.sources}
    assert counts["api"] == [("p1.json", 2, 2, 0), ("p2.json", 0, 0, 0), ("p3.json", 1, 0, 1)]
    assert counts["deep"] == [("a.json", 1, 1, 0)] and counts["plain"] == [("a.json", 1, 1, 0), ("empty.json", 0, 0, 0)]
    assert table_rows(spark, cfg.table_path(T.INTERACTIONS), ("user_id", "source")) == [
        ("u1", "api"), ("u2", "api"), ("u3", "deep"), ("u4", "plain")]
    assert table_rows(spark, cfg.table_path(T.QUARANTINE), ("raw", "reasons")) == [
        ('{"error": "rate limited"}', ["file has no records at 'data' (sources.api.record_path)"])]
    messages = {s.source: s.message for s in result.sources}
    assert messages["unset"].endswith("The files have: data, error, next. Fix sources.unset.fields. If the records "
                                      "are the items of the list 'data', set sources.unset.record_path: data")
    assert messages["wrong"] == ("source wrong: no document has records at 'items'; the documents have: data, "
                                 "error, next. Fix sources.wrong.record_path")
    with pytest.raises(ConfigError, match=r"^sources.c.record_path: only a json document has its records under a "
                                          r"path; remove record_path \(format is csv\)$"):
        make_config(sources={"c": {**CSV_SOURCE, "path": "x", "record_path": "data"}})
    with pytest.raises(ConfigError, match=r"^sources.j.record_path: 'data\.' is not a dotted path"):
        make_config(sources={"j": {**api, "record_path": "data."}})


def test_parquet_source(spark, make_config, tmp_path):
    spark.createDataFrame([("u1", "i1", "add_to_cart", T0 * 1000)], "u STRING, i STRING, t STRING, ms BIGINT") \
        .write.parquet(str(tmp_path / "in/pq"))
    fields = {"user_id": "u", "item_id": "i", "interaction_type": "t", "timestamp": "ms"}
    cfg = make_config(sources={"pq": {"format": "parquet", "path": str(tmp_path / "in/pq"),
                                      "timestamp_format": "epoch_ms", "fields": fields}})
    assert ingest(spark, cfg, now=NOW).ok
    assert table_rows(spark, cfg.table_path(T.INTERACTIONS)) == [("u1", "i1", "add_to_cart", ts(T0), "pq")]


def test_a_parquet_export_written_by_pandas(spark, make_config, tmp_path):
    """pandas writes timestamps as Parquet TIMESTAMP(NANOS), which Spark refused (PARQUET_TYPE_ILLEGAL: the source
    failed whatever the config said), and an integer id column with a missing value as float64 (user 123 as 123.0,
    another user than a CSV export's "123"). Before 2026-12-01."""
    import pandas as pd

    (tmp_path / "in/pd").mkdir(parents=True)
    pd.DataFrame({"uid": [123.0, None, 5e20], "sku": [1.5, 2.0, 3.0], "act": ["view", "view", "purchase"],
                  "at": pd.to_datetime([T0, T0 + 1, T0 + 2], unit="s")}).to_parquet(tmp_path / "in/pd/a.parquet")
    fields = {"user_id": "uid", "item_id": "sku", "interaction_type": "act", "timestamp": "at"}
    source = {"format": "parquet", "path": str(tmp_path / "in/pd"), "fields": fields, "timestamp_format": "epoch_ns"}
    cfg = make_config(sources={"pd": source}, ingest={"max_quarantine_share": 0.5})
    result = ingest(spark, cfg, now=NOW)
    assert result.ok, result.sources[0].message
    assert table_rows(spark, cfg.table_path(T.INTERACTIONS)) == [
        ("123", "1.5", "view", ts(T0), "pd"), ("500000000000000000000", "3", "purchase", ts(T0 + 2), "pd")]
    assert [(r.raw, r.reasons) for r in spark.read.format("delta").load(cfg.table_path(T.QUARANTINE)).collect()] == [
        ('{"uid":null,"sku":2.0,"act":"view","at":1790000001000000000}', ["user_id is missing or empty"])]
    # without epoch_ns the source fails before writing, saying which format reads those numbers
    cfg = make_config(lakehouse=str(tmp_path / "lake2"), sources={"pd": {**source, "timestamp_format": "iso8601"}})
    failed = ingest(spark, cfg, sources=["pd"], now=NOW).sources[0]
    assert failed.status == "failed" and failed.message.startswith(
        "sources.pd.timestamp_format: 'iso8601' reads dates and times, and 'at' holds numbers in the Parquet files "
        "(BIGINT); set epoch_s, epoch_ms, epoch_us or epoch_ns")


def test_parquet_files_whose_column_types_differ_are_each_read_with_their_own_schema(spark, make_config, tmp_path):
    """Spark reads Parquet files with one file's schema: before 2026-12-06 a file whose column had another type
    failed the source with ``PARQUET_COLUMN_DATA_TYPE_MISMATCH``, and every run after it, until the file was rewritten.
    pandas writes such files every day: a column empty that day has type null, an id column holds numbers one day and
    text the next. Files are now read in groups of one footer schema, each value typed by its own files (a float id
    3.0 is 3); a group without a mapped field fails the source naming a file of it."""
    import pandas as pd

    fields = {"user_id": "uid", "item_id": "sku", "interaction_type": "event", "timestamp": "ts"}
    days = {"a": {"uid": [1, 2], "note": [None, None]},  # int64 ids, a column of type null
            "b": {"uid": ["u3", "007"], "note": ["gift", None]},  # text ids
            "c": {"uid": [3.0, None], "note": ["x", "y"]}}  # float64 ids (a missing one)
    for day, columns in days.items():
        (tmp_path / "in/pq").mkdir(parents=True, exist_ok=True)
        pd.DataFrame({**columns, "sku": ["i1", "i2"], "event": ["VIEW", "BUY"], "ts": [T0, T0 + 60]}).to_parquet(
            tmp_path / f"in/pq/{day}.parquet")
    (tmp_path / "in/renamed").mkdir()
    (tmp_path / "in/renamed/a.parquet").write_bytes((tmp_path / "in/pq/a.parquet").read_bytes())
    pd.DataFrame({"uid": ["u4"], "sku": ["i1"], "kind": ["VIEW"], "ts": [T0]}).to_parquet(
        tmp_path / "in/renamed/d.parquet")
    source = {**CSV_SOURCE, "format": "parquet", "fields": fields, "options": {}}
    cfg = make_config(sources={"pq": {**source, "path": str(tmp_path / "in/pq")},
                               "renamed": {**source, "path": str(tmp_path / "in/renamed")}},
                      ingest={"max_quarantine_share": 0.5})
    result = ingest(spark, cfg, now=NOW)
    assert [(f.file.rsplit("/", 1)[-1], f.rows_read, f.rows_accepted, f.rows_quarantined)
            for f in result.sources[0].files] == [
        ("a.parquet", 2, 2, 0), ("b.parquet", 2, 2, 0), ("c.parquet", 2, 1, 1)]
    assert table_rows(spark, cfg.table_path(T.INTERACTIONS), ("user_id", "item_id", "interaction_type")) == [
        ("007", "i2", "purchase"), ("1", "i1", "view"), ("2", "i2", "purchase"), ("3", "i1", "view"),
        ("u3", "i1", "view")]
    assert [r.reasons for r in spark.read.format("delta").load(cfg.table_path(T.QUARANTINE)).collect()] == [
        ["user_id is missing or empty"]]
    assert result.sources[1].message == (
        "source renamed: fields not found in the Parquet schema of d.parquet: interaction_type -> 'event'. The files "
        "have: uid, sku, kind, ts. Fix sources.renamed.fields")


def test_a_parquet_export_with_decimal_ids_float_ratings_or_ids_as_bytes(spark, make_config, tmp_path):
    """A JDBC export of Oracle's NUMBER writes DECIMAL(38,10): user 123 arrived as the text 123.0000000000, another
    user than a CSV export's "123"; a rating written by pandas as float64 (5.0) missed the type map's "5" (a JSON
    record's 5.0 matched it). A BYTE_ARRAY column without the UTF8 annotation (Spark's BINARY) was cast to
    text unchecked: bytes that are not UTF-8 were stored as an id that DuckDB and delta-rs refuse to read (the
    whole table then failed: "Invalid unicode"), and a quarantined record's raw showed ids as base64. Before
    2026-12-06."""
    import decimal

    import pyarrow as pa
    import pyarrow.parquet as pq

    (tmp_path / "in/ora").mkdir(parents=True)
    pq.write_table(pa.table({
        "uid": pa.array([decimal.Decimal(123), decimal.Decimal("4.5"), decimal.Decimal(7), decimal.Decimal(8)],
                        pa.decimal128(38, 10)),
        "sku": pa.array([b"i1", b"i2", b"\xff\xfe", b"i4"], pa.binary()),
        "act": [5.0, 5.0, 5.0, 2.5], "ts": [T0, T0 + 1, T0 + 2, T0 + 3]}), tmp_path / "in/ora/a.parquet")
    write(tmp_path / "in/shop/a.csv", f"customer,product,event,time\n123,i1,VIEW,{T0}\n")
    fields = {"user_id": "uid", "item_id": "sku", "interaction_type": "act", "timestamp": "ts"}
    ora = {"format": "parquet", "path": str(tmp_path / "in/ora"), "fields": fields, "timestamp_format": "epoch_s",
           "interaction_type_map": {"5": "view"}}
    cfg = make_config(sources={"ora": ora, "shop": {**CSV_SOURCE, "path": str(tmp_path / "in/shop")}},
                      ingest={"max_quarantine_share": 0.5})
    result = ingest(spark, cfg, now=NOW)
    assert result.ok, [s.message for s in result.sources]
    assert table_rows(spark, cfg.table_path(T.INTERACTIONS)) == [
        ("123", "i1", "view", ts(T0), "ora"), ("4.5000000000", "i2", "view", ts(T0 + 1), "ora")]
    quarantined = spark.read.format("delta").load(cfg.table_path(T.QUARANTINE)).orderBy("raw").collect()
    assert [(r.raw, r.reasons) for r in quarantined] == [
        ('{"uid":7.0000000000,"sku":"//4=","act":5.0,"ts":1790000002}',
         ["item_id '0xFFFE' is bytes that are not UTF-8 text (the Parquet BINARY column sku)"]),
        ('{"uid":8.0000000000,"sku":"i4","act":2.5,"ts":1790000003}',
         ["interaction type '2.5' is not in the vocabulary (view, add_to_cart, purchase) after mapping"])]


def test_a_json_export_written_by_pandas_has_the_same_users_as_a_csv_export(spark, make_config, tmp_path):
    """pandas' ``to_json`` writes an integer id column that has a missing value as floats (``123.0``). A whole
    number is its digits (Spark's VARIANT keeps a decimal without its trailing zeros), so the event is the CSV
    export's ``123`` and is stored once; the README said it became the text ``123.0`` (before 2026-12-01)."""
    import pandas as pd

    (tmp_path / "in/pj").mkdir(parents=True)
    pd.DataFrame({"uid": [123.0, None, 4.5], "sku": ["i1", "i2", "i3"], "act": ["view"] * 3,
                  "ts": [T0, T0 + 1, T0 + 2]}).to_json(tmp_path / "in/pj/a.jsonl", orient="records", lines=True)
    assert (tmp_path / "in/pj/a.jsonl").read_text().startswith('{"uid":123.0,')
    write(tmp_path / "in/shop/a.csv", f"customer,product,event,time\n123,i1,VIEW,{T0}\n")
    pj = {"format": "jsonl", "path": str(tmp_path / "in/pj"), "timestamp_format": "epoch_s",
          "fields": {"user_id": "uid", "item_id": "sku", "interaction_type": "act", "timestamp": "ts"}}
    cfg = make_config(sources={"pj": pj, "shop": {**CSV_SOURCE, "path": str(tmp_path / "in/shop")}},
                      ingest={"max_quarantine_share": 0.5})
    assert ingest(spark, cfg, now=NOW).ok
    assert table_rows(spark, cfg.table_path(T.INTERACTIONS)) == [
        ("123", "i1", "view", ts(T0), "pj"), ("4.5", "i3", "view", ts(T0 + 2), "pj")]
    assert ledger_rows(spark, cfg.table_path(T.LEDGER)) == [
        ("pj", "a.jsonl", 3, 2, 0, 1, "committed"), ("shop", "a.csv", 1, 0, 1, 0, "committed")]


def test_json_number_ids_in_exponent_notation_are_the_same_users_and_items_as_a_csv_export_s(spark, make_config,
                                                                                                tmp_path):
    """A JSON number id in exponent notation (``1e3``; ``1e+16`` as Python's ``json`` writes a float from 1e16) is
    parsed as a DOUBLE and was stored as its text, ``1000.0`` and ``1.0E16``: other users and items than a CSV
    export's ``1000`` and ``10000000000000000`` (before 2026-12-05). A whole number is now its digits, in a queue
    record's value that is an object or a string alike; a string id and a fraction stay as written."""
    write(tmp_path / "in/shop/a.csv", f"customer,product,event,time\n1000,150,VIEW,{T0}\n"
                                      f"10000000000000000,i9,BUY,{T0 + 1}\n")
    as_object = queue_line(0, 0, "view", T0 * 1000, offset=1).replace('"uid": 0', '"uid": 1e3').replace(
        '"sku": 0', '"sku": 1.5E2')
    as_string = queue_line(1e16, "i9", "purchase", (T0 + 1) * 1000, offset=2, as_string=True)
    assert '\\"uid\\": 1e+16' in as_string
    kept = queue_line("7.0", 0, "view", (T0 + 2) * 1000, offset=3).replace('"sku": 0', '"sku": 2.5E-1')
    write(tmp_path / "in/q/a.jsonl", "\n".join([as_object, as_string, kept]) + "\n")
    cfg = make_config(sources={"shop": {**CSV_SOURCE, "path": str(tmp_path / "in/shop")},
                               "q": {**QUEUE_SOURCE, "path": str(tmp_path / "in/q")}})
    assert ingest(spark, cfg, now=NOW).ok
    assert table_rows(spark, cfg.table_path(T.INTERACTIONS)) == [
        ("1000", "150", "view", ts(T0), "shop"), ("10000000000000000", "i9", "purchase", ts(T0 + 1), "shop"),
        ("7.0", "0.25", "view", ts(T0 + 2), "q")]
    assert ledger_rows(spark, cfg.table_path(T.LEDGER)) == [
        ("q", "a.jsonl", 3, 1, 2, 0, "committed"), ("shop", "a.csv", 2, 2, 0, 0, "committed")]


def test_queue_dump_value_as_object_and_as_string(spark, make_config, tmp_path):
    # Windows line ends and blank lines (a dump tool's separators) are neither records nor quarantined
    write(tmp_path / "in/q/dump.jsonl", "\r\n\r\n".join([
        queue_line("u1", "i1", "view", T0 * 1000, offset=1),
        queue_line("u2", "i2", "purchase", T0 * 1000 + 5, offset=2, as_string=True),
    ]) + "\r\n  \n")
    cfg = make_config(sources={"q": {**QUEUE_SOURCE, "path": str(tmp_path / "in/q")}})
    assert ingest(spark, cfg, now=NOW).ok
    assert table_rows(spark, cfg.table_path(T.INTERACTIONS)) == [
        ("u1", "i1", "view", ts(T0), "q"), ("u2", "i2", "purchase", ts(T0 + 0.005), "q")]
    assert ledger_rows(spark, cfg.table_path(T.LEDGER)) == [("q", "dump.jsonl", 2, 2, 0, 0, "committed")]


def kcat_line(uid, sku, action, ts_ms, offset, *, as_string=True):
    """A record as ``kcat -J`` dumps it: the event in ``payload`` (a string holding JSON, or an object)."""
    event = {"uid": uid, "sku": sku, "action": action, "ts": ts_ms}
    return json.dumps({"topic": "pixel", "partition": 0, "offset": offset, "tstype": "create", "ts": ts_ms,
                       "broker": 1, "key": None, "payload": json.dumps(event) if as_string else event})


def test_a_queue_dump_with_the_event_in_another_field_says_which_to_set_and_lands_with_value_field(spark, make_config,
                                                                                                   tmp_path):
    """A dump written by ``kcat -J`` keeps the event in ``payload``: before 2026-12-02 the source failed with
    "fields not found ... The files have: no fields" and no way to read it. Now that error names the records' fields
    and ``value_field``, and with ``value_field: payload`` the records land (a payload without an event is
    quarantined with the queue's reason)."""
    write(tmp_path / "in/q/dump.jsonl", "\n".join([
        kcat_line("u1", "i1", "view", T0 * 1000, 1),
        kcat_line("u2", "i2", "purchase", T0 * 1000 + 5, 2, as_string=False),
        json.dumps({"topic": "pixel", "partition": 0, "offset": 3, "ts": T0 * 1000, "key": None})]) + "\n")
    source = {**QUEUE_SOURCE, "path": str(tmp_path / "in/q")}
    result = ingest(spark, make_config(sources={"q": source}), now=NOW)
    assert result.sources[0].message == (
        "source q: no queue record has the field 'value' that holds the event; the records have: broker, key, "
        "offset, partition, payload, topic, ts, tstype. Set sources.q.value_field to the field that holds it (kcat -J "
        "writes it as payload)")
    cfg = make_config(sources={"q": {**source, "value_field": "payload"}}, ingest={"max_quarantine_share": 0.5})
    assert ingest(spark, cfg, now=NOW).ok
    assert table_rows(spark, cfg.table_path(T.INTERACTIONS)) == [
        ("u1", "i1", "view", ts(T0), "q"), ("u2", "i2", "purchase", ts(T0 + 0.005), "q")]
    assert [r.reasons for r in spark.read.format("delta").load(cfg.table_path(T.QUARANTINE)).collect()] == [
        ["queue record has no value"]]


def kinesis_line(data: str, seq: int) -> str:
    """A record as a Kinesis consumer (a Lambda archiving its event) writes it: the event's bytes base64 in ``data``."""
    return json.dumps({"eventSource": "aws:kinesis", "kinesis": {"partitionKey": "k", "sequenceNumber": str(seq),
                                                                 "data": data}})


def test_a_queue_dump_with_base64_values_says_so_and_lands_with_value_encoding(spark, make_config, tmp_path):
    """Kinesis and Pub/Sub records carry the event's JSON base64-encoded: before 2026-12-02 such a dump failed with
    "fields not found ... The files have: no fields" and could not be read. Now the error says the values are
    base64 and names ``value_encoding`` (so does a failed gate whose records were quarantined as not JSON); with
    ``value_encoding: base64`` the records land (the URL-safe alphabet too, an object value as it is), and a value
    that does not decode is quarantined with its reason. A dump whose values are other text says so."""
    def b64(event: dict, alphabet=base64.b64encode) -> str:
        return alphabet(json.dumps(event).encode()).decode()

    event = {"uid": "u1", "sku": "i1", "action": "view", "ts": T0 * 1000}
    write(tmp_path / "in/k/a.jsonl", "\n".join([
        kinesis_line(b64(event), 1),
        kinesis_line(b64({**event, "uid": "u2", "sku": "??>>"}, base64.urlsafe_b64encode), 2),
        kinesis_line("not base64!", 3),
        kinesis_line(base64.b64encode(b"\xff\xfe{}").decode(), 4)]) + "\n")  # bytes that are not UTF-8 text
    write(tmp_path / "in/g/b.jsonl", "\n".join([json.dumps({"kinesis": {"data": {**event, "uid": "u3"}}}),
                                                kinesis_line(b64({**event, "uid": "u4"}), 5),
                                                kinesis_line(b64({**event, "uid": "u5"}), 6)]) + "\n")
    write(tmp_path / "in/t/a.jsonl", json.dumps({"topic": "pixel", "value": "u1,i1,view,1790000000"}) + "\n")
    kinesis = {**QUEUE_SOURCE, "value_field": "kinesis.data"}
    sources = {"k": {**kinesis, "path": str(tmp_path / "in/k")}, "g": {**kinesis, "path": str(tmp_path / "in/g")}}
    result = ingest(spark, make_config(sources={**sources, "t": {**QUEUE_SOURCE, "path": str(tmp_path / "in/t")}}),
                    now=NOW)
    messages = [s.message for s in result.sources]
    assert messages[0] == ("source k: the queue records' values ('kinesis.data') are base64-encoded JSON, as Kinesis "
                           "and Pub/Sub records carry them: set sources.k.value_encoding: base64")
    assert messages[1].startswith(
        "quality gate failed, nothing written: 66.7% of 3 records were quarantined, above the maximum 20.0% "
        "(ingest.max_quarantine_share); most common reasons: 'queue record value is not valid JSON' (2 rows); the "
        "values are base64-encoded JSON (Kinesis, Pub/Sub): set sources.g.value_encoding: base64 (report: ")
    assert messages[2] == ("source t: no queue record's value ('value') holds a JSON object, e.g. "
                           "'u1,i1,view,1790000000': an event's fields are mapped in JSON. Check sources.t.value_field")
    cfg = make_config(lakehouse=str(tmp_path / "lake2"), ingest={"max_quarantine_share": 0.5},
                      sources={name: {**src, "value_encoding": "base64"} for name, src in sources.items()})
    assert ingest(spark, cfg, now=NOW).ok
    assert table_rows(spark, cfg.table_path(T.INTERACTIONS), ("user_id", "item_id", "source")) == [
        ("u1", "i1", "k"), ("u2", "??>>", "k"), ("u3", "i1", "g"), ("u4", "i1", "g"), ("u5", "i1", "g")]
    not_base64 = "queue record value is not base64-encoded UTF-8 text (sources.k.value_encoding is base64)"
    assert sorted(r.reasons for r in spark.read.format("delta").load(cfg.table_path(T.QUARANTINE)).collect()) == [
        [not_base64], [not_base64]]


def test_mixed_dirty_input_reconciles_exactly_and_quarantines_with_reasons(spark, make_config, tmp_path):
    write(tmp_path / "in/shop/a.csv", "\n".join([
        "customer,product,event,time",
        f"u1,i1,VIEW,{T0}",           # accepted
        f"u1,i1,VIEW,{T0}",           # exact duplicate within the file
        f",i2,VIEW,{T0}",             # no user
        f"u3,i3,LIKE,{T0}",           # type outside the vocabulary
        "u4,i4,VIEW",                # wrong field count
        f"u5,i5,BUY,{T0 + 1}",        # accepted
    ]) + "\n")
    write(tmp_path / "in/q/d.jsonl", "\n".join([
        queue_line("u1", "i1", "view", T0 * 1000),        # same event as the CSV's first row: duplicate
        '{"topic":"pixel","value":{"uid":"u9"',           # broken JSON
        queue_line(None, "i7", "view", T0 * 1000),         # no user
        queue_line("u8", "i8", "view", T0 * 1000, as_string=True),  # accepted
        json.dumps({"topic": "pixel", "value": "not json"}),
    ]) + "\n")
    cfg = make_config(sources={"shop": {**CSV_SOURCE, "path": str(tmp_path / "in/shop")},
                               "q": {**QUEUE_SOURCE, "path": str(tmp_path / "in/q")}},
                      ingest={"max_quarantine_share": 0.9})
    result = ingest(spark, cfg, now=NOW)
    assert result.ok
    reports = {f.file.rsplit("/", 1)[-1]: f for s in result.sources for f in s.files}
    assert (reports["a.csv"].rows_read, reports["a.csv"].rows_accepted, reports["a.csv"].rows_duplicate,
            reports["a.csv"].rows_quarantined) == (6, 2, 1, 3)
    assert (reports["d.jsonl"].rows_read, reports["d.jsonl"].rows_accepted, reports["d.jsonl"].rows_duplicate,
            reports["d.jsonl"].rows_quarantined) == (5, 1, 1, 3)
    assert all(r.reconciles for r in reports.values())
    assert ledger_rows(spark, cfg.table_path(T.LEDGER)) == [
        ("q", "d.jsonl", 5, 1, 1, 3, "committed"), ("shop", "a.csv", 6, 2, 1, 3, "committed")]
    assert table_rows(spark, cfg.table_path(T.INTERACTIONS), ("user_id", "source")) == [
        ("u1", "shop"), ("u5", "shop"), ("u8", "q")]
    quarantine = sorted((r.source, r.reasons) for r in spark.read.format("delta").load(
        cfg.table_path(T.QUARANTINE)).collect())
    vocab = "view, add_to_cart, purchase"
    assert quarantine == sorted([
        ("shop", ["user_id is missing or empty"]),
        ("shop", [f"interaction type 'LIKE' is not in the vocabulary ({vocab}) after mapping"]),
        ("shop", ["malformed CSV line (wrong number of fields or broken quoting)"]),
        ("q", ["line is not valid JSON"]),
        ("q", ["user_id is missing or empty"]),
        ("q", ["queue record value is not valid JSON"]),
    ])
    raw = [r.raw for r in spark.read.format("delta").load(cfg.table_path(T.QUARANTINE)).collect()]
    assert "u4,i4,VIEW" in raw and '{"topic":"pixel","value":{"uid":"u9"' in raw  # the raw text is kept
    # a parsed CSV row keeps its empty column, as null (before 2026-12-02 the key was left out)
    assert f'{{"customer":null,"product":"i2","event":"VIEW","time":"{T0}"}}' in raw


def test_rerun_changes_nothing(spark, make_config, tmp_path):
    write(tmp_path / "in/shop/a.csv", f"customer,product,event,time\nu1,i1,VIEW,{T0}\n,i2,VIEW,{T0}\n")
    cfg = csv_cfg(make_config, tmp_path, max_quarantine_share=0.9)
    ingest(spark, cfg, now=NOW)
    versions = {t: spark.sql(f"DESCRIBE HISTORY delta.`{cfg.table_path(t)}`").agg(F.max("version")).first()[0]
                for t in (T.INTERACTIONS, T.QUARANTINE, T.LEDGER)}
    again = ingest(spark, cfg, now=NOW + dt.timedelta(hours=1))
    assert [s.status for s in again.sources] == ["no new files"]
    for t, v in versions.items():
        assert spark.sql(f"DESCRIBE HISTORY delta.`{cfg.table_path(t)}`").agg(F.max("version")).first()[0] == v, t


def test_interactions_removed_with_its_ledger_kept_is_one_line_and_removing_both_ingests_again(spark, make_config,
                                                                                                 tmp_path):
    """Before 2026-12-07 a run after the interactions folder was deleted (to ingest again) found every file in the
    ledger: `no new files`, and the table stayed empty for good."""
    import shutil

    from interlake.ingest.noop import nothing_new

    write(tmp_path / "in/shop/a.csv", f"customer,product,event,time\nu1,i1,VIEW,{T0}\n,i2,VIEW,{T0}\n"
          f"u3,i3,BUY,{T0}\n")
    cfg = csv_cfg(make_config, tmp_path, max_quarantine_share=0.9)
    assert ingest(spark, cfg, now=NOW).ok
    shutil.rmtree(cfg.table_path(T.INTERACTIONS))
    assert nothing_new(cfg, now=NOW) is None  # not answered without Spark: the job says it
    for dry_run in (True, False):
        with pytest.raises(ConfigError) as err:
            ingest(spark, cfg, now=NOW, dry_run=dry_run)
        assert str(err.value) == (
            f"ingest: the table interactions ({cfg.table_path(T.INTERACTIONS)}) is gone, and ingest_ledger has 1 "
            "file(s) taken into it, which no run takes again. Put the table back, or ingest every file again: remove "
            "ingest_ledger and interactions_quarantine too (the files still in the sources' folders are then taken "
            "as new)")
    assert not os.path.exists(cfg.table_path(T.INTERACTIONS))  # nothing created
    for table in (T.LEDGER, T.QUARANTINE):
        shutil.rmtree(cfg.table_path(table))
    again = ingest(spark, cfg, now=NOW)
    assert [(f.rows_read, f.rows_accepted, f.rows_quarantined) for s in again.sources for f in s.files] == [(3, 2, 1)]
    assert [r[0] for r in table_rows(spark, cfg.table_path(T.INTERACTIONS))] == ["u1", "u3"]


def test_a_column_an_analyst_added_to_the_tables_stays_and_ingest_goes_on(spark, make_config, tmp_path):
    """``ALTER TABLE interactions ADD COLUMNS (note STRING)``: before 2026-12-07 every run failed in its MERGE with
    ``DELTA_MERGE_UNRESOLVED_EXPRESSION`` (``Cannot resolve note in INSERT clause``), as did the ledger's upsert. New
    rows get NULL there, and the analyst's values stay."""
    write(tmp_path / "in/shop/a.csv", f"customer,product,event,time\nu1,i1,VIEW,{T0}\n,i2,VIEW,{T0}\n")
    cfg = csv_cfg(make_config, tmp_path, max_quarantine_share=0.9)
    assert ingest(spark, cfg, now=NOW).ok
    for table in (T.INTERACTIONS, T.LEDGER, T.QUARANTINE):
        spark.sql(f"ALTER TABLE delta.`{cfg.table_path(table)}` ADD COLUMNS (note STRING)")
        spark.sql(f"UPDATE delta.`{cfg.table_path(table)}` SET note = 'checked'")
    write(tmp_path / "in/shop/b.csv", f"customer,product,event,time\nu2,i2,BUY,{T0}\nu3,,VIEW,{T0}\n")
    result = ingest(spark, cfg, now=NOW + dt.timedelta(hours=1))
    assert result.ok, [s.message for s in result.sources]
    assert [(f.rows_read, f.rows_accepted, f.rows_quarantined) for s in result.sources for f in s.files] == [(2, 1, 1)]
    assert table_rows(spark, cfg.table_path(T.INTERACTIONS), ("user_id", "note")) == [("u1", "checked"), ("u2", None)]
    assert table_rows(spark, cfg.table_path(T.LEDGER), ("file", "note")) == [
        (f"file:{tmp_path}/in/shop/a.csv", "checked"), (f"file:{tmp_path}/in/shop/b.csv", None)]
    assert table_rows(spark, cfg.table_path(T.QUARANTINE), ("raw", "note")) == [
        (f'{{"customer":"u3","product":null,"event":"VIEW","time":"{T0}"}}', None),
        (f'{{"customer":null,"product":"i2","event":"VIEW","time":"{T0}"}}', "checked")]


def append_only(spark, path, value="true"):
    spark.sql(f"ALTER TABLE delta.`{path}` SET TBLPROPERTIES ('delta.appendOnly' = '{value}')")


def test_an_append_only_ledger_or_quarantine_is_one_line_before_a_write_and_interactions_may_be_append_only(
        spark, make_config, tmp_path):
    """``ALTER TABLE ingest_ledger SET TBLPROPERTIES ('delta.appendOnly' = 'true')``: before 2026-12-07 every run that
    took files merged them, then failed on the ledger with Delta's ``DELTA_CANNOT_MODIFY_APPEND_ONLY … use 'ALTER
    TABLE null …'``, naming no table. Now one line names it, why ingest changes it and the command, before anything
    is written. ``interactions`` may be append-only: ingest's MERGE only inserts."""
    write(tmp_path / "in/shop/a.csv", f"customer,product,event,time\nu1,i1,VIEW,{T0}\n")
    cfg = csv_cfg(make_config, tmp_path)
    assert ingest(spark, cfg, now=NOW).ok
    write(tmp_path / "in/shop/b.csv", f"customer,product,event,time\nu2,i2,BUY,{T0 + 60}\n")
    why = {T.LEDGER: r"ingest updates the row of each file it takes \(pending, then committed\) and deletes those "
                     r"of a run it undoes",
           T.QUARANTINE: r"ingest deletes a run's quarantine rows when it undoes a run that died, .* raise "
                         r"maintenance\.quarantine_retention_days"}
    for name in (T.LEDGER, T.QUARANTINE):
        append_only(spark, cfg.table_path(name))
        with pytest.raises(ConfigError, match=append_only_said(name, why[name])):
            ingest(spark, cfg, now=NOW + dt.timedelta(hours=1))
        append_only(spark, cfg.table_path(name), "false")
        assert table_rows(spark, cfg.table_path(T.INTERACTIONS), ("user_id",)) == [("u1",)]
        assert len(table_rows(spark, cfg.table_path(T.LEDGER), ("file",))) == 1
    append_only(spark, cfg.table_path(T.INTERACTIONS))
    assert ingest(spark, cfg, now=NOW + dt.timedelta(hours=1)).ok
    assert table_rows(spark, cfg.table_path(T.INTERACTIONS), ("user_id",)) == [("u1",), ("u2",)]


def test_a_cluster_s_delta_table_defaults_do_not_make_the_jobs_tables_append_only_or_unreadable_without_spark(
        spark, make_config, tmp_path):
    """A cluster's ``spark.databricks.delta.properties.defaults.appendOnly`` made every new table append-only, so the
    ingest that created the ledger refused it at its next run; ``…defaults.columnMapping.mode: name``,
    ``…checkpointPolicy: v2`` and ``…enableTypeWidening: true`` made the tables unreadable by delta-rs and DuckDB
    (reader features delta-rs 1.x refuses); ``…enableIcebergCompatV2: true`` (UniForm) failed the first run (Delta
    refuses it without column mapping). The jobs make their tables with these off; ``interactions``, which they only
    add to, keeps the cluster's append-only default, and writers' features (row tracking) are kept."""
    from interlake.analyst.duck import connect
    from interlake.tables.append_only import table_properties

    write(tmp_path / "in/shop/a.csv", f"customer,product,event,time\nu1,i1,VIEW,{T0}\n,i2,VIEW,{T0}\n")
    cfg = csv_cfg(make_config, tmp_path, max_quarantine_share=0.9)
    defaults = {"spark.databricks.delta.properties.defaults.appendOnly": "true",
                "spark.databricks.delta.properties.defaults.columnMapping.mode": "name",
                "spark.databricks.delta.properties.defaults.checkpointPolicy": "v2",
                "spark.databricks.delta.properties.defaults.enableTypeWidening": "true",
                "spark.databricks.delta.properties.defaults.enableRowTracking": "true",
                "spark.databricks.delta.properties.defaults.enableIcebergCompatV2": "true",
                "spark.databricks.delta.properties.defaults.universalFormat.enabledFormats": "iceberg"}
    for key, value in defaults.items():
        spark.conf.set(key, value)
    try:
        assert ingest(spark, cfg, now=NOW).ok
        write(tmp_path / "in/shop/b.csv", f"customer,product,event,time\nu2,i2,BUY,{T0}\n")
        assert ingest(spark, cfg, now=NOW + dt.timedelta(hours=1)).ok
    finally:
        for key in defaults:
            spark.conf.unset(key)
    got = {name: (table_properties(spark, cfg.table_path(name)).get("delta.appendOnly"),
                  table_properties(spark, cfg.table_path(name)).get("delta.columnMapping.mode"))
           for name in (T.INTERACTIONS, T.LEDGER, T.QUARANTINE)}
    assert got == {T.INTERACTIONS: ("true", "none"), T.LEDGER: ("false", "none"), T.QUARANTINE: ("false", "none")}
    assert table_properties(spark, cfg.table_path(T.LEDGER)).get("delta.enableRowTracking") == "true"
    con, skipped = connect(cfg.lakehouse, cfg.database)
    assert skipped == {}
    assert con.sql("SELECT user_id FROM interactions ORDER BY 1").fetchall() == [("u1",), ("u2",)]
    assert con.sql("SELECT count(*) FROM ingest_ledger").fetchall() == [(2,)]


def test_a_column_of_interactions_renamed_by_hand_is_one_line_naming_the_statement_that_renames_it_back(
        spark, make_config, tmp_path):
    """An analyst's ``RENAME COLUMN item_id TO sku`` (Delta turns column mapping on for it): every later ingest failed
    with `[DELTA_MERGE_UNRESOLVED_EXPRESSION] Cannot resolve item_id in INSERT clause …` and "fix or move a file it
    names", training and the trending stream with Spark's own words. Each job now says which column is gone and the
    statement that renames it back, which works; a column added by hand is left alone."""
    from interlake.analyst.maintain import maintain
    from interlake.errors import InterlakeError
    from interlake.train.pipeline import read_interactions
    from interlake.trending.pipeline import stream_source

    write(tmp_path / "in/shop/a.csv", f"customer,product,event,time\nu1,i1,VIEW,{T0}\n")
    cfg = make_config(sources={"shop": {**CSV_SOURCE, "path": str(tmp_path / "in/shop")}},
                      trending={"source": "interactions"})
    assert ingest(spark, cfg, now=NOW).ok
    path = cfg.table_path(T.INTERACTIONS)
    spark.sql(f"ALTER TABLE delta.`{path}` SET TBLPROPERTIES ('delta.columnMapping.mode' = 'name')")
    spark.sql(f"ALTER TABLE delta.`{path}` RENAME COLUMN item_id TO sku")
    spark.sql(f"ALTER TABLE delta.`{path}` ADD COLUMN note STRING")
    write(tmp_path / "in/shop/b.csv", f"customer,product,event,time\nu2,i2,VIEW,{T0}\n")
    said = (rf"^interactions at {path} has no column item_id \(its columns: event_id, user_id, sku, interaction_type, "
            r"event_ts, event_date, source, ingested_at, note\); the jobs read and write the interaction schema: "
            r"rename it back: `interlake sql 'ALTER TABLE interactions RENAME COLUMN sku TO item_id'`$")
    with pytest.raises(InterlakeError, match=said):
        ingest(spark, cfg, now=NOW)
    with pytest.raises(InterlakeError, match=said):
        read_interactions(spark, cfg, None)
    with pytest.raises(InterlakeError, match=said):
        stream_source(spark, cfg)
    with pytest.raises(InterlakeError, match=said):
        maintain(spark, cfg)
    assert read_interactions(spark, cfg, 1)[0].columns[:3] == ["event_id", "user_id", "item_id"]  # before the rename
    spark.sql(f"ALTER TABLE delta.`{path}` RENAME COLUMN sku TO item_id")
    assert ingest(spark, cfg, now=NOW).ok
    assert table_rows(spark, path, ("user_id", "item_id", "note")) == [("u1", "i1", None), ("u2", "i2", None)]


def test_a_file_deleted_between_the_listing_and_the_read_fails_its_source_in_one_line_naming_it(
        spark, make_config, tmp_path, monkeypatch):
    """An export's own clean-up (or a mover archiving files) removed a file after the run listed the folder: the
    source failed with Java's ``FileNotFoundException`` (a CSV's header) or ``[PATH_NOT_FOUND]`` and "fix or move a
    file it names", of a file that was no longer there. The line says what happened; the next run takes the folder
    as it is then. Here a CSV goes after the listing, a queue dump after Spark planned its read."""
    import interlake.ingest.pipeline as P

    write(tmp_path / "in/shop/a.csv", f"customer,product,event,time\nu1,i1,VIEW,{T0}\n")
    write(tmp_path / "in/shop/b.csv", f"customer,product,event,time\nu2,i2,VIEW,{T0}\n")
    write(tmp_path / "in/q/a.jsonl", queue_line("u3", "i3", "view", T0 * 1000) + "\n")
    write(tmp_path / "in/q/b.jsonl", queue_line("u4", "i4", "view", T0 * 1000) + "\n")
    cfg = make_config(sources={"shop": {**CSV_SOURCE, "path": str(tmp_path / "in/shop")},
                               "q": {**QUEUE_SOURCE, "path": str(tmp_path / "in/q")}})
    listed, planned = P.files_to_take, P.read_source

    def remove_after_listing(spark, src, state, now, **kw):
        todo, again = listed(spark, src, state, now, **kw)
        if src.name == "shop" and todo:
            (tmp_path / "in/shop/a.csv").unlink()
        return todo, again

    def remove_after_planning(spark, src, files, *args, **kw):
        df = planned(spark, src, files, *args, **kw)
        if src.name == "q":
            (tmp_path / "in/q/a.jsonl").unlink()
        return df

    monkeypatch.setattr(P, "files_to_take", remove_after_listing)
    monkeypatch.setattr(P, "read_source", remove_after_planning)
    first = ingest(spark, cfg, now=NOW)
    for name, file in (("shop", "a.csv"), ("q", "a.jsonl")):
        assert (name, "failed", f"source {name}: {tmp_path}/in/{name}/{file} was deleted or moved while this run "
                f"read it (by another process); the next run undoes what this one left, if anything, and lists "
                f"{tmp_path}/in/{name} again") in [(s.source, s.status, s.message) for s in first.sources]
    monkeypatch.undo()
    assert ingest(spark, cfg, now=NOW + dt.timedelta(minutes=5)).ok
    assert table_rows(spark, cfg.table_path(T.INTERACTIONS), ("user_id", "source")) == [("u2", "shop"), ("u4", "q")]
    assert ledger_rows(spark, cfg.table_path(T.LEDGER)) == [("q", "b.jsonl", 1, 1, 0, 0, "committed"),
                                                            ("shop", "b.csv", 1, 1, 0, 0, "committed")]


def test_undoing_an_ingest_run_as_the_readme_says_takes_its_files_again_once_fixed(spark, make_config, tmp_path):
    """README, Undoing an ingest run: a run took an export whose user and item values were swapped. RESTORE takes its
    rows out of interactions, but its ledger rows still mark the file taken (the next run said "no new files"):
    deleting them and the run's quarantine rows lets the next run take the fixed file."""
    write(tmp_path / "in/shop/a.csv", f"customer,product,event,time\nu1,i1,VIEW,{T0}\n")
    cfg = csv_cfg(make_config, tmp_path, max_quarantine_share=0.9)
    assert ingest(spark, cfg, now=NOW).ok
    write(tmp_path / "in/shop/b.csv", f"customer,product,event,time\ni2,u2,BUY,{T0}\n,i3,VIEW,{T0}\n")  # swapped
    bad = ingest(spark, cfg, now=NOW + dt.timedelta(hours=1))
    assert bad.ok and table_rows(spark, cfg.table_path(T.INTERACTIONS), ("user_id", "item_id")) == [
        ("i2", "u2"), ("u1", "i1")]
    interactions = cfg.table_path(T.INTERACTIONS)
    merged = [r.version for r in spark.sql(f"DESCRIBE HISTORY delta.`{interactions}`").collect()
              if r.userMetadata == json.dumps({"interlake_run_id": bad.run_id})]
    spark.sql(f"RESTORE TABLE delta.`{interactions}` TO VERSION AS OF {min(merged) - 1}")
    for name in (T.LEDGER, T.QUARANTINE):
        spark.sql(f"DELETE FROM delta.`{cfg.table_path(name)}` WHERE run_id = '{bad.run_id}'")
    write(tmp_path / "in/shop/b.csv", f"customer,product,event,time\nu2,i2,BUY,{T0}\n,i3,VIEW,{T0}\n")  # fixed
    again = ingest(spark, cfg, now=NOW + dt.timedelta(hours=2))
    taken = [(f.file.rsplit("/", 1)[1], f.rows_accepted, f.rows_quarantined) for s in again.sources for f in s.files]
    assert taken == [("b.csv", 1, 1)]
    assert table_rows(spark, cfg.table_path(T.INTERACTIONS), ("user_id", "item_id")) == [("u1", "i1"), ("u2", "i2")]
    assert table_rows(spark, cfg.table_path(T.QUARANTINE), ("run_id",)) == [(again.run_id,)]


def test_a_row_breaking_a_check_constraint_added_to_interactions_is_quarantined_with_it(spark, make_config, tmp_path):
    """``ALTER TABLE interactions ADD CONSTRAINT sku_ids CHECK (item_id LIKE 'i%')``: before 2026-12-07 one row
    breaking it failed the whole source at every run with ``DELTA_VIOLATE_CONSTRAINT_WITH_VALUES``, naming neither
    the file nor the values. The row is quarantined with the constraint; the others land. A constraint may name
    any column of the table, as the row would be inserted."""
    write(tmp_path / "in/shop/a.csv", f"customer,product,event,time\nu1,i1,VIEW,{T0}\n")
    cfg = csv_cfg(make_config, tmp_path, max_quarantine_share=0.9)
    assert ingest(spark, cfg, now=NOW).ok
    table = f"delta.`{cfg.table_path(T.INTERACTIONS)}`"
    spark.sql(f"ALTER TABLE {table} ADD COLUMNS (note STRING)")
    spark.sql(f"ALTER TABLE {table} ADD CONSTRAINT sku_ids CHECK (item_id LIKE 'i%')")
    spark.sql(f"ALTER TABLE {table} ADD CONSTRAINT stamped CHECK (ingested_at IS NOT NULL AND note IS NULL)")
    write(tmp_path / "in/shop/b.csv", f"customer,product,event,time\nu2,i2,BUY,{T0}\nu3,x3,VIEW,{T0}\n"
          f"u4,,VIEW,{T0}\n")
    result = ingest(spark, cfg, now=NOW + dt.timedelta(hours=1))
    assert result.ok, [s.message for s in result.sources]
    assert [(f.rows_read, f.rows_accepted, f.rows_quarantined) for s in result.sources for f in s.files] == [(3, 1, 2)]
    assert [r[0] for r in table_rows(spark, cfg.table_path(T.INTERACTIONS))] == ["u1", "u2"]
    assert table_rows(spark, cfg.table_path(T.QUARANTINE), ("raw", "reasons")) == [
        (f'{{"customer":"u3","product":"x3","event":"VIEW","time":"{T0}"}}',
         ['breaks the CHECK constraint sku_ids of interactions: item_id LIKE "i%"']),
        (f'{{"customer":"u4","product":null,"event":"VIEW","time":"{T0}"}}', ["item_id is missing or empty"])]


def test_overlapping_and_changed_files_add_only_new_events(spark, make_config, tmp_path):
    cfg = csv_cfg(make_config, tmp_path)
    write(tmp_path / "in/shop/day1.csv", f"customer,product,event,time\nu1,i1,VIEW,{T0}\nu2,i2,VIEW,{T0}\n",
          mtime=1_700_000_000)
    ingest(spark, cfg, now=NOW)
    # a second export overlapping the first, and the first file rewritten with one more row
    write(tmp_path / "in/shop/day2.csv", f"customer,product,event,time\nu2,i2,VIEW,{T0}\nu3,i3,VIEW,{T0}\n")
    write(tmp_path / "in/shop/day1.csv",
          f"customer,product,event,time\nu1,i1,VIEW,{T0}\nu2,i2,VIEW,{T0}\nu4,i4,VIEW,{T0}\n", mtime=1_700_000_100)
    result = ingest(spark, cfg, now=NOW + dt.timedelta(hours=1))
    got = sorted((f.file.rsplit("/", 1)[-1], f.rows_read, f.rows_accepted, f.rows_duplicate)
                 for s in result.sources for f in s.files)
    assert got == [("day1.csv", 3, 1, 2), ("day2.csv", 2, 1, 1)]
    assert [r[0] for r in table_rows(spark, cfg.table_path(T.INTERACTIONS))] == ["u1", "u2", "u3", "u4"]


def test_ids_holding_the_event_id_separator_are_two_interactions_not_a_duplicate(spark, make_config, tmp_path):
    """User ``a␟b`` with item ``c`` and user ``a`` with item ``b␟c`` (U+001F, which joins the values the event id
    hashes): before 2026-12-07 the second export's row was counted a duplicate of the first's and never stored."""
    cfg = csv_cfg(make_config, tmp_path)
    write(tmp_path / "in/shop/day1.csv", f"customer,product,event,time\na\u001fb,c,VIEW,{T0}\n")
    ingest(spark, cfg, now=NOW)
    write(tmp_path / "in/shop/day2.csv", f"customer,product,event,time\na,b\u001fc,VIEW,{T0}\na\u001fb,c,VIEW,{T0}\n")
    result = ingest(spark, cfg, now=NOW)
    assert [(f.rows_read, f.rows_accepted, f.rows_duplicate) for s in result.sources for f in s.files] == [(2, 1, 1)]
    assert table_rows(spark, cfg.table_path(T.INTERACTIONS), cols=("user_id", "item_id")) == [
        ("a", "b\u001fc"), ("a\u001fb", "c")]


def test_timestamps_in_another_unit_fail_the_gate_with_one_reason_and_the_unit_to_set(spark, make_config, tmp_path):
    """An export in milliseconds read as ``epoch_s`` (and one in seconds read as ``epoch_ms``): every row is
    quarantined and the gate fails. Its line counts the reason once for all the rows, with two of the values, and
    names the unit the values are in. Before, each value was a reason of its own: "most common reasons: 'timestamp
    '1790000000000' cannot be parsed as epoch_s' (1 row), ..." three times, and nothing said why."""
    def export(scale):
        write(tmp_path / "in/shop/a.csv", "customer,product,event,time\n" + "".join(
            f"u{i},i1,VIEW,{(T0 + i) * scale}\n" for i in range(5)))

    export(1000)
    result = ingest(spark, csv_cfg(make_config, tmp_path), now=NOW)
    assert result.sources[0].message.split("; ", 1)[1].split(" (report: ")[0] == (
        "most common reasons: 'timestamp '…' cannot be parsed as epoch_s' (5 rows, e.g. '1790000000000', "
        "'1790000004000'); the values look like epoch_ms: set sources.shop.timestamp_format: epoch_ms")
    export(1)
    cfg = make_config(lakehouse=str(tmp_path / "lake2"), sources={"shop": {
        **CSV_SOURCE, "path": str(tmp_path / "in/shop"), "timestamp_format": "epoch_ms"}})
    message = ingest(spark, cfg, now=NOW).sources[0].message
    assert ("most common reasons: 'timestamp … UTC is before 2000-01-01' (5 rows, e.g. 1970-01-21 17:13:20); the "
            "values look like epoch_s: set sources.shop.timestamp_format: epoch_s") in message


def test_same_event_from_two_sources_is_stored_once(spark, make_config, tmp_path):
    write(tmp_path / "in/shop/a.csv", f"customer,product,event,time\nu1,i1,VIEW,{T0}.250\n")
    write(tmp_path / "in/q/a.jsonl", queue_line("u1", "i1", "view", T0 * 1000 + 250) + "\n")
    cfg = make_config(sources={"shop": {**CSV_SOURCE, "path": str(tmp_path / "in/shop")},
                               "q": {**QUEUE_SOURCE, "path": str(tmp_path / "in/q")}})
    ingest(spark, cfg, now=NOW)
    assert table_rows(spark, cfg.table_path(T.INTERACTIONS)) == [("u1", "i1", "view", ts(T0 + 0.25), "shop")]
    # and in one run where both arrive together, the winner is deterministic
    cfg2 = make_config(lakehouse=str(tmp_path / "lake2"),
                       sources={"shop": {**CSV_SOURCE, "path": str(tmp_path / "in/shop")},
                                "q": {**QUEUE_SOURCE, "path": str(tmp_path / "in/q")}})
    ingest(spark, cfg2, ["q", "shop"], now=NOW)
    assert table_rows(spark, cfg2.table_path(T.INTERACTIONS)) == [("u1", "i1", "view", ts(T0 + 0.25), "q")]


def test_quality_gate_failure_writes_nothing_and_keeps_the_report(spark, make_config, tmp_path):
    write(tmp_path / "in/shop/a.csv", f"customer,product,event,time\nu1,i1,VIEW,{T0}\n,i2,VIEW,{T0}\n")
    cfg = csv_cfg(make_config, tmp_path, max_quarantine_share=0.1)
    result = ingest(spark, cfg, now=NOW)
    assert not result.ok
    src = result.sources[0]
    assert src.status == "failed"
    # the source sets its own maximum, so the line names that key (before 2026-12-02 it said ingest's)
    assert ("50.0% of 2 records were quarantined, above the maximum 10.0% (sources.shop.max_quarantine_share); "
            "most common reasons: 'user_id is missing or empty' (1 row)") in src.message
    assert spark.read.format("delta").load(cfg.table_path(T.INTERACTIONS)).count() == 0
    assert spark.read.format("delta").load(cfg.table_path(T.LEDGER)).count() == 0  # the file will be retried
    report = json.loads(open(src.quality_report.removesuffix(".html") + ".json").read())
    assert report["success"] is False and report["failures"]
    assert "FAILED" in open(src.quality_report).read()


def test_a_gate_failed_by_types_outside_the_vocabulary_names_the_settings_that_take_them_in(spark, make_config,
                                                                                              tmp_path):
    """Most rows refused for an interaction type the map does not know: the failure line says where such a value is
    mapped or added, and names the maximum share's key in force (ingest's here); so does a dry run's list of
    reasons. Before 2026-12-02 they said the reason alone, and the gate ``ingest.max_quarantine_share`` even when
    the source set its own."""
    write(tmp_path / "in/shop/a.csv", f"customer,product,event,time\nu1,i1,LIKE,{T0}\nu2,i1,LIKE,{T0}\n"
                                      f"u3,i1,VIEW,{T0}\n")
    result = ingest(spark, csv_cfg(make_config, tmp_path), now=NOW)
    assert result.sources[0].message.split(" (report: ")[0] == (
        "quality gate failed, nothing written: 66.7% of 3 records were quarantined, above the maximum 20.0% "
        "(ingest.max_quarantine_share); most common reasons: 'interaction type '…' is not in the vocabulary (view, "
        "add_to_cart, purchase) after mapping' (2 rows, e.g. 'LIKE'); map such values to a type in "
        "sources.shop.interaction_type_map, or add them to interaction_types")
    # a dry run whose gate passes says the same where a new source's mapping is tried
    dry = ingest(spark, csv_cfg(make_config, tmp_path, max_quarantine_share=0.9), now=NOW, dry_run=True)
    assert dry.sources[0].message == (
        "most common quarantine reasons: 'interaction type '…' is not in the vocabulary (view, add_to_cart, purchase) "
        "after mapping' (2 rows, e.g. 'LIKE'); map such values to a type in sources.shop.interaction_type_map, or add "
        "them to interaction_types")


def test_compressed_files_byte_order_marks_and_text_that_is_not_utf8(spark, make_config, tmp_path):
    """Exports as Windows tools and legacy systems write them: gzip, a UTF-8 byte-order mark, Latin-1 bytes. The
    Latin-1 records go to quarantine with the encoding reason (before, JSON lines and queue records were accepted
    with the bytes turned into U+FFFD inside their ids, and a JSON document failed its source with a Spark error)."""
    import gzip

    from deltalake import DeltaTable
    from interlake.tables.without_spark import to_arrow

    def rec(user, item="i1", t=T0):
        return json.dumps({"customer": user, "product": item, "event": "VIEW", "time": t}, ensure_ascii=False)

    latin1 = rec("Jos\u00e9", "i9").encode("latin-1")
    (tmp_path / "in/docs").mkdir(parents=True)
    (tmp_path / "in/docs/a.json.gz").write_bytes(gzip.compress(f"[{rec('u1')}]".encode()))
    (tmp_path / "in/docs/b.json").write_bytes(b"\xef\xbb\xbf" + f"[{rec('u2')}]".encode())
    (tmp_path / "in/docs/c.json").write_bytes(b"[" + latin1 + b", " + rec("u3").encode() + b"]")
    (tmp_path / "in/lines").mkdir(parents=True)
    (tmp_path / "in/lines/d.jsonl.gz").write_bytes(gzip.compress((rec("u4") + "\n").encode()))
    (tmp_path / "in/lines/e.jsonl").write_bytes(latin1 + b"\n" + rec("u5").encode() + b"\n")
    q_latin1 = queue_line("x", "i9", "view", T0 * 1000).replace('"x"', '"Jos\u00e9"').encode("latin-1")
    (tmp_path / "in/q").mkdir(parents=True)
    (tmp_path / "in/q/f.jsonl.gz").write_bytes(gzip.compress(queue_line("u6", "i1", "view", T0 * 1000).encode()))
    (tmp_path / "in/q/g.jsonl").write_bytes(q_latin1 + b"\n")
    cfg = make_config(
        sources={"docs": {**CSV_SOURCE, "format": "json", "path": str(tmp_path / "in/docs")},
                 "lines": {**CSV_SOURCE, "format": "jsonl", "path": str(tmp_path / "in/lines")},
                 "q": {**QUEUE_SOURCE, "path": str(tmp_path / "in/q")}},
        ingest={"max_quarantine_share": 0.9})
    result = ingest(spark, cfg, now=NOW)
    assert result.ok, [s.message for s in result.sources]
    assert table_rows(spark, cfg.table_path(T.INTERACTIONS), ("user_id", "source")) == [
        ("u1", "docs"), ("u2", "docs"), ("u3", "docs"), ("u4", "lines"), ("u5", "lines"), ("u6", "q")]
    reason = ["text is not valid UTF-8 (replacement characters found)"]
    quarantine = spark.read.format("delta").load(cfg.table_path(T.QUARANTINE))
    assert sorted((r.source, r.reasons, "Jos\ufffd" in r.raw) for r in quarantine.collect()) == [
        ("docs", reason, True), ("lines", reason, True), ("q", reason, True)]
    path = cfg.table_path(T.QUARANTINE)  # stored as valid UTF-8: readers without Spark read it too
    assert sorted(to_arrow(DeltaTable(path), path, ["source"]).column("source").to_pylist()) == ["docs", "lines", "q"]
    assert sorted((r[1], r[2], r[3], r[5]) for r in ledger_rows(spark, cfg.table_path(T.LEDGER))) == [
        ("a.json.gz", 1, 1, 0), ("b.json", 1, 1, 0), ("c.json", 2, 1, 1), ("d.jsonl.gz", 1, 1, 0),
        ("e.jsonl", 2, 1, 1), ("f.jsonl.gz", 1, 1, 0), ("g.jsonl", 1, 0, 1)]


def test_text_after_a_json_value_is_quarantined_never_dropped(spark, make_config, tmp_path):
    """Spark's JSON parser keeps the first value of a text and drops what follows without a word: before 2026-12-02
    two records on one line landed as the first alone, ``{...}x`` was accepted, and a file of JSON lines configured
    as ``format: json`` landed as its first line (the other lines lost, the run "ok"). Now each such line, queue
    record or file is quarantined whole with a reason; a source whose every file is JSON lines read as ``json``
    fails saying to set ``format: jsonl``."""
    def rec(uid):
        return json.dumps({"customer": uid, "product": "i1", "event": "VIEW", "time": T0})

    write(tmp_path / "in/lines/a.jsonl", f"{rec('u1')} {rec('u2')}\n{rec('u3')}x\n{rec('u4')},{rec('u5')}\n"
                                         f"{rec('u6')}  \n")
    write(tmp_path / "in/docs/a.json", f"[{rec('u7')}]\n")
    write(tmp_path / "in/docs/b.json", f"{rec('u8')}\n{rec('u9')}\n")  # JSON lines named .json
    line = queue_line("u10", "i1", "view", T0 * 1000)
    string_value = json.dumps({"offset": 2, "value": f"{rec('u11')} {rec('u12')}"})
    write(tmp_path / "in/q/a.jsonl", f"{line}\n{line} trailing\n{string_value}\n")
    cfg = make_config(sources={"lines": {**CSV_SOURCE, "format": "jsonl", "path": str(tmp_path / "in/lines")},
                               "docs": {**CSV_SOURCE, "format": "json", "path": str(tmp_path / "in/docs")},
                               "q": {**QUEUE_SOURCE, "path": str(tmp_path / "in/q")}},
                      ingest={"max_quarantine_share": 0.9})
    result = ingest(spark, cfg, now=NOW)
    assert result.ok, [s.message for s in result.sources]
    assert table_rows(spark, cfg.table_path(T.INTERACTIONS), ("user_id", "source")) == [
        ("u10", "q"), ("u6", "lines"), ("u7", "docs")]
    quarantine = spark.read.format("delta").load(cfg.table_path(T.QUARANTINE))
    line_reason = ["line has more after its JSON object (two records on one line?)"]
    assert sorted((r.source, r.raw, r.reasons) for r in quarantine.collect()) == sorted([
        ("docs", f"{rec('u8')}\n{rec('u9')}\n",
         ["file has more after its first JSON document (one record per line is sources.docs.format: jsonl)"]),
        ("lines", f"{rec('u1')} {rec('u2')}", line_reason), ("lines", f"{rec('u3')}x", line_reason),
        ("lines", f"{rec('u4')},{rec('u5')}", line_reason),
        ("q", f"{line} trailing", line_reason),
        ("q", string_value, ["queue record value has more after its JSON object"])])
    # every file of a json source in JSON lines: the source fails at once, saying what to set
    write(tmp_path / "in/only/c.json", f"{rec('u8')}\n{rec('u9')}\n")
    cfg = make_config(lakehouse=str(tmp_path / "lake2"),
                      sources={"docs": {**CSV_SOURCE, "format": "json", "path": str(tmp_path / "in/only")}})
    assert ingest(spark, cfg, now=NOW).sources[0].message == (
        "source docs: the files hold more than one JSON document each, as JSON lines do (c.json): set "
        "sources.docs.format: jsonl, or write one document per file (an array of records)")


def test_a_corrupt_or_truncated_file_fails_its_source_in_one_line_and_the_others_still_run(spark, make_config,
                                                                                           tmp_path):
    """An error no check foresees (a file that is not Parquet, a gzip cut short by a partial upload) fails that source
    with one line naming the file; before, it ended the whole run and the later sources never ran."""
    import gzip

    body = "".join(f"u{i},i{i % 97},VIEW,{T0 + i}\n" for i in range(20000))
    full = gzip.compress(("customer,product,event,time\n" + body).encode())
    write(tmp_path / "in/shop/a.csv", f"customer,product,event,time\nu1,i1,VIEW,{T0}\n")
    (tmp_path / "in/gz").mkdir(parents=True)
    (tmp_path / "in/gz/t.csv.gz").write_bytes(full[: len(full) // 2])
    good = spark.createDataFrame([("u2", "i2", "VIEW", str(T0))], "customer STRING, product STRING, event STRING, "
                                                                  "time STRING")
    good.coalesce(1).write.parquet(str(tmp_path / "pq_out"))
    (tmp_path / "in/pq").mkdir(parents=True)
    next((tmp_path / "pq_out").glob("*.parquet")).rename(tmp_path / "in/pq/good.parquet")
    (tmp_path / "in/pq/bad.parquet").write_bytes(b"PAR1 but not really")
    write(tmp_path / "in/notgz/n.csv.gz", "customer,product,event,time\n")  # named .gz, not gzip
    cfg = make_config(sources={"gz": {**CSV_SOURCE, "path": str(tmp_path / "in/gz")},
                               "notgz": {**CSV_SOURCE, "path": str(tmp_path / "in/notgz")},
                               "pq": {**CSV_SOURCE, "format": "parquet", "path": str(tmp_path / "in/pq")},
                               "shop": {**CSV_SOURCE, "path": str(tmp_path / "in/shop")}})
    result = ingest(spark, cfg, now=NOW)
    status = {s.source: s for s in result.sources}
    assert not result.ok and [s.status for s in result.sources] == ["failed", "failed", "failed", "ok"]
    assert status["notgz"].message == (f"source notgz: cannot read the header of file:{tmp_path}/in/notgz/n.csv.gz: "
                                       "java.io.IOException: not a gzip file; fix or move the file")
    assert "t.csv.gz" in status["gz"].message and "EOFException: Unexpected end of input stream" in status["gz"].message
    assert status["pq"].message == (  # its footer is read first (each file's schema: since 2026-12-06)
        f"source pq: cannot read the Parquet footer of bad.parquet: java.lang.RuntimeException: file:{tmp_path}/in/pq/"
        "bad.parquet is not a Parquet file. Expected magic number at tail, but found [97, 108, 108, 121]; fix or move "
        "the file")
    assert "\n" not in status["gz"].message and "fix or move a file it names" in status["gz"].message
    assert table_rows(spark, cfg.table_path(T.INTERACTIONS), ("user_id", "source")) == [("u1", "shop")]
    (tmp_path / "in/pq/bad.parquet").unlink()  # what the message asks for: move the bad file, fix the cut one
    (tmp_path / "in/gz/t.csv.gz").write_bytes(full)
    (tmp_path / "in/notgz/n.csv.gz").unlink()
    assert ingest(spark, cfg, now=NOW).ok
    assert [r[1:6] for r in ledger_rows(spark, cfg.table_path(T.LEDGER))] == [
        ("t.csv.gz", 20000, 20000, 0, 0), ("good.parquet", 1, 1, 0, 0), ("a.csv", 1, 1, 0, 0)]


def test_a_csv_read_with_the_wrong_separator_says_which_one_to_set(spark, make_config, tmp_path):
    """An export written with ``;`` (spreadsheets where the comma is the decimal mark) or tabs, read with Spark's
    ``,``: its header is one column. The error now says which ``sep`` to set; set, the file is read."""
    write(tmp_path / "in/semi/a.csv", f"customer;product;event;time\nu1;i1;VIEW;{T0}\n")
    write(tmp_path / "in/tab/a.tsv", f"customer\tproduct\tevent\ttime\nu2\ti2\tVIEW\t{T0}\n")
    cfg = make_config(sources={"semi": {**CSV_SOURCE, "path": str(tmp_path / "in/semi")},
                               "tab": {**CSV_SOURCE, "path": str(tmp_path / "in/tab")}})
    result = ingest(spark, cfg, now=NOW)
    assert result.sources[0].message.endswith(
        "The files have: customer;product;event;time. Fix sources.semi.fields. The header looks separated by ';': "
        "set sources.semi.options.sep: ';'")
    assert result.sources[1].message.endswith(
        "Fix sources.tab.fields. The header looks separated by '\\t' (a tab): set sources.tab.options.sep: '\\t'")
    fixed = make_config(sources={
        "semi": {**CSV_SOURCE, "path": str(tmp_path / "in/semi"), "options": {"header": "true", "sep": ";"}},
        "tab": {**CSV_SOURCE, "path": str(tmp_path / "in/tab"), "options": {"header": "true", "sep": "\\t"}}})
    assert ingest(spark, fixed, now=NOW).ok
    assert table_rows(spark, fixed.table_path(T.INTERACTIONS), ("user_id", "item_id")) == [("u1", "i1"), ("u2", "i2")]


def test_a_csv_header_padded_with_spaces_matches_its_fields(spark, make_config, tmp_path):
    """``customer, product, event ,time``: Spark names the columns ``' product'``, ``' event '``, and the source failed
    with ``item_id -> 'product'`` not found. A mapped field now takes the one column it names once padding is
    off; a missing field lists the padded names quoted, so the spaces show."""
    write(tmp_path / "in/shop/a.csv", f"customer, product, event ,time\nu1, i1, VIEW, {T0}\n")
    cfg = make_config(sources={"shop": {**CSV_SOURCE, "path": str(tmp_path / "in/shop")},
                               "bad": {**CSV_SOURCE, "path": str(tmp_path / "in/shop"),
                                       "fields": {**CSV_SOURCE["fields"], "item_id": "sku"}}})
    result = ingest(spark, cfg, now=NOW)
    assert table_rows(spark, cfg.table_path(T.INTERACTIONS), ("user_id", "item_id", "interaction_type")) == [
        ("u1", "i1", "view")]
    assert result.sources[1].message == (
        "source bad: fields not found in the CSV header of a.csv: item_id -> 'sku'. "
        "The files have: customer, ' product', ' event ', time. Fix sources.bad.fields")


def test_a_field_spelt_in_another_case_says_the_files_spelling(spark, make_config, tmp_path):
    """Field names are case-sensitive (JSON keys are); a config's ``customer`` for a header's ``Customer`` was only
    "not found", the capital lost in the list of the files' fields."""
    write(tmp_path / "in/shop/a.csv", f"Customer,product,event,time\nu1,i1,VIEW,{T0}\n")
    write(tmp_path / "in/app/a.jsonl", json.dumps({"uid": "u1", "SKU": "i1", "type": "view", "ts": T0}) + "\n")
    app = {"format": "jsonl", "path": str(tmp_path / "in/app"), "timestamp_format": "epoch_s",
           "fields": {"user_id": "uid", "item_id": "sku", "interaction_type": "type", "timestamp": "ts"}}
    cfg = make_config(sources={"shop": {**CSV_SOURCE, "path": str(tmp_path / "in/shop")}, "app": app})
    result = ingest(spark, cfg, now=NOW)
    assert [s.message for s in result.sources] == [
        "source shop: fields not found in the CSV header of a.csv: user_id -> 'customer' "
        "(the files spell it 'Customer'). The files have: Customer, product, event, time. Fix sources.shop.fields",
        "source app: fields not found in the JSON records: item_id -> 'sku' (the files spell it 'SKU'). "
        "The files have: SKU, ts, type, uid. Fix sources.app.fields"]


def test_a_line_that_repeats_the_header_is_not_a_record(spark, make_config, tmp_path):
    """Exports concatenated with ``cat`` (or written in chunks, each with its header) have the header again inside the
    file: before 2026-12-04 each such line was quarantined as a type outside the vocabulary and a timestamp that
    cannot be parsed (and a small file failed the gate). Matched as Spark parses the first line: with a byte-order
    mark, a padded name and an empty one; each header group by its own first line. A line that only looks like the
    header (padded differently) is still a record, and quarantined."""
    write(tmp_path / "in/shop/a.csv", "\ufeffcustomer, product,event,,time\n"
          f"u1, i1,VIEW,,{T0}\ncustomer, product,event,,time\nu2, i2,BUY,x,{T0}\n")
    write(tmp_path / "in/shop/b.csv", f"time,event,product,customer\n{T0},VIEW,i3,u3\ntime,event,product,customer\n"
          f"time,event,product,customer\n{T0},VIEW,i4,u4\n time,event,product,customer\n")
    cfg = make_config(sources={"shop": {**CSV_SOURCE, "path": str(tmp_path / "in/shop")}},
                      ingest={"max_quarantine_share": 0.5})
    assert ingest(spark, cfg, now=NOW).ok
    assert table_rows(spark, cfg.table_path(T.INTERACTIONS), ("user_id", "item_id", "interaction_type")) == [
        ("u1", "i1", "view"), ("u2", "i2", "purchase"), ("u3", "i3", "view"), ("u4", "i4", "view")]
    assert table_rows(spark, cfg.table_path(T.QUARANTINE), ("raw",)) == [
        ('{"time":" time","event":"event","product":"product","customer":"customer"}',)]
    assert ledger_rows(spark, cfg.table_path(T.LEDGER)) == [
        ("shop", "a.csv", 2, 2, 0, 0, "committed"), ("shop", "b.csv", 3, 2, 0, 1, "committed")]


def test_csv_files_whose_columns_changed_between_exports_each_read_by_their_own_header(spark, make_config,
                                                                                      tmp_path):
    """An export that reorders its columns or adds one: before, the first file's header was applied to every file, so
    a swapped ``customer``/``product`` stored users as items without a word, and a file with an added column had
    every line quarantined as malformed."""
    write(tmp_path / "in/shop/a.csv", f"customer,product,event,time\nu1,i1,VIEW,{T0}\n")
    write(tmp_path / "in/shop/b.csv", f"product,customer,event,time\ni2,u2,VIEW,{T0}\n")
    write(tmp_path / "in/shop/c.csv", f"time,customer,channel,product,event\n{T0},u3,web,i3,BUY\n")
    write(tmp_path / "in/shop/d.csv", f"customer,product,event,time\nu4,i4,CART,{T0}\n")
    cfg = csv_cfg(make_config, tmp_path)
    assert ingest(spark, cfg, now=NOW).ok
    assert table_rows(spark, cfg.table_path(T.INTERACTIONS), ("user_id", "item_id", "interaction_type")) == [
        ("u1", "i1", "view"), ("u2", "i2", "view"), ("u3", "i3", "purchase"), ("u4", "i4", "add_to_cart")]
    assert spark.read.format("delta").load(cfg.table_path(T.QUARANTINE)).count() == 0
    write(tmp_path / "in/shop/e.csv", f"customer,sku,event,time\nu5,i5,VIEW,{T0}\n")
    write(tmp_path / "in/shop/f.csv", f"customer,product,event,time\nu6,i6,VIEW,{T0}\n")
    result = ingest(spark, cfg, now=NOW)  # a header without a mapped field names its file; nothing is written
    assert result.sources[0].message == (
        "source shop: fields not found in the CSV header of e.csv: item_id -> 'product'. "
        "The files have: customer, sku, event, time. Fix sources.shop.fields")


def test_a_csv_without_a_header_maps_spark_column_names(spark, make_config, tmp_path):
    """``header: "false"``: the columns are ``_c0``, ``_c1``, ... (Spark's names); a line with another field count is
    quarantined; a field name the files do not have lists those names."""
    write(tmp_path / "in/shop/a.csv", f"u1,i1,VIEW,{T0}\nu2,i2\nu3,i3,BUY,{T0},extra\nu4,i4,CART,{T0 + 60}\n")
    fields = {"user_id": "_c0", "item_id": "_c1", "interaction_type": "_c2", "timestamp": "_c3"}
    cfg = make_config(sources={"shop": {**CSV_SOURCE, "path": str(tmp_path / "in/shop"), "fields": fields,
                                        "options": {"header": "false"}},
                               "bad": {**CSV_SOURCE, "path": str(tmp_path / "in/shop"), "options": {"header": "false"},
                                       "fields": {**fields, "user_id": "customer"}}},
                      ingest={"max_quarantine_share": 0.5})
    result = ingest(spark, cfg, now=NOW)
    assert [(f.rows_read, f.rows_accepted, f.rows_quarantined) for f in result.sources[0].files] == [(4, 2, 2)]
    assert table_rows(spark, cfg.table_path(T.INTERACTIONS), ("user_id", "interaction_type")) == [
        ("u1", "view"), ("u4", "add_to_cart")]
    assert result.sources[1].message == ("source bad: fields not found in the CSV columns: user_id -> 'customer'. "
                                         "The files have: _c0, _c1, _c2, _c3. Fix sources.bad.fields")
    # the option in another case, as Spark takes it: `Header: "false"` went to Spark beside the default `header`, and
    # a file's first record was taken for the header line repeated
    write(tmp_path / "in/other/a.csv", f"u5,i5,VIEW,{T0}\nu6,i6,VIEW,{T0}\n")
    cfg = make_config(lakehouse=str(tmp_path / "lake2"), sources={"other": {
        **CSV_SOURCE, "path": str(tmp_path / "in/other"), "fields": fields, "options": {"Header": "false"}}})
    assert ingest(spark, cfg, now=NOW).ok
    assert table_rows(spark, cfg.table_path(T.INTERACTIONS), ("user_id",)) == [("u5",), ("u6",)]


def test_a_source_in_local_time_lands_as_utc_and_meets_the_same_event_from_the_queue(spark, make_config, tmp_path):
    """``timezone: Europe/Berlin`` on a legacy export written in local wall-clock time: 00:30 there is 22:30 UTC the
    day before (its ``event_date`` too), winter and summer offsets apply, a value with its own offset keeps it; the
    export's event and the queue's copy of it (epoch ms) are one event."""
    write(tmp_path / "in/shop/a.csv", "customer,product,event,time\nu1,i1,VIEW,2026-09-21 00:30:00\n"
                                      "u2,i2,VIEW,2026-01-15 12:00:00\nu3,i3,VIEW,2026-09-21T12:00:00+05:00\n")
    at = int(dt.datetime(2026, 9, 20, 22, 30, tzinfo=dt.UTC).timestamp() * 1000)
    write(tmp_path / "in/q/a.jsonl", queue_line("u1", "i1", "view", at) + "\n")
    cfg = make_config(sources={"shop": {**CSV_SOURCE, "path": str(tmp_path / "in/shop"), "timestamp_format": "iso8601",
                                        "timezone": "Europe/Berlin"},
                               "q": {**QUEUE_SOURCE, "path": str(tmp_path / "in/q")}})
    result = ingest(spark, cfg, now=NOW)
    assert [(s.source, [(f.rows_accepted, f.rows_duplicate) for f in s.files]) for s in result.sources] == [
        ("shop", [(3, 0)]), ("q", [(0, 1)])]
    assert table_rows(spark, cfg.table_path(T.INTERACTIONS), ("user_id", "event_ts", "event_date")) == [
        ("u1", dt.datetime(2026, 9, 20, 22, 30), dt.date(2026, 9, 20)),
        ("u2", dt.datetime(2026, 1, 15, 11, 0), dt.date(2026, 1, 15)),
        ("u3", dt.datetime(2026, 9, 21, 7, 0), dt.date(2026, 9, 21))]


def test_a_timestamp_kept_in_a_date_and_a_time_field_is_read_as_one(spark, make_config, tmp_path):
    """``fields.timestamp: [sale_date, sale_time]``: the values joined by a space, parsed with the source's format and
    time zone; a missing or blank part is quarantined (not a date passing as its midnight); nested JSON parts too; a
    part the files lack is named in the error."""
    write(tmp_path / "in/shop/a.csv", "customer,product,event,sale_date,sale_time\n"
                                      "u1,i1,VIEW,21.09.2026,00:30\nu2,i2,BUY,15.01.2026, 12:00 \n"
                                      "u3,i3,VIEW,21.09.2026,\nu4,i4,VIEW,,\n")
    write(tmp_path / "in/app/a.jsonl", json.dumps({"u": "u1", "i": "i1", "t": "view",
                                                  "at": {"date": "2026-09-20", "time": "22:30:00"}}) + "\n")
    split = {**CSV_SOURCE["fields"], "timestamp": ["sale_date", "sale_time"]}
    cfg = make_config(sources={
        "shop": {**CSV_SOURCE, "path": str(tmp_path / "in/shop"), "fields": split,
                 "timestamp_format": "dd.MM.yyyy HH:mm", "timezone": "Europe/Berlin"},
        "app": {"format": "jsonl", "path": str(tmp_path / "in/app"), "timestamp_format": "iso8601",
                "fields": {"user_id": "u", "item_id": "i", "interaction_type": "t",
                           "timestamp": ["at.date", "at.time"]}},
        "bad": {**CSV_SOURCE, "path": str(tmp_path / "in/shop"),
                "fields": {**split, "timestamp": ["sale_date", "time"]}},
    }, ingest={"max_quarantine_share": 0.5})
    result = ingest(spark, cfg, now=NOW)
    assert [(s.source, [(f.rows_accepted, f.rows_duplicate, f.rows_quarantined) for f in s.files])
            for s in result.sources[:2]] == [("shop", [(2, 0, 2)]), ("app", [(0, 1, 0)])]
    assert table_rows(spark, cfg.table_path(T.INTERACTIONS), ("user_id", "event_ts")) == [
        ("u1", dt.datetime(2026, 9, 20, 22, 30)), ("u2", dt.datetime(2026, 1, 15, 11, 0))]
    quarantined = spark.read.format("delta").load(cfg.table_path(T.QUARANTINE)).select(
        F.get_json_object("raw", "$.customer").alias("user"), "reasons").collect()
    assert sorted((r.user, list(r.reasons)) for r in quarantined) == [
        ("u3", ["timestamp '21.09.2026 <missing>' cannot be parsed as dd.MM.yyyy HH:mm"]),
        ("u4", ["timestamp is missing or empty"])]
    assert result.sources[2].message == (
        "source bad: fields not found in the CSV header of a.csv: timestamp -> 'time'. "
        "The files have: customer, product, event, sale_date, sale_time. Fix sources.bad.fields")


def test_a_pattern_spark_refuses_names_the_timestamp_format_key(spark, make_config, tmp_path):
    """A pattern the config check lets through (a letter repeated more than Spark allows) fails its source in one line
    naming the key, not with advice to fix a file."""
    write(tmp_path / "in/shop/a.csv", "customer,product,event,time\nu1,i1,VIEW,September 2026\n")
    cfg = csv_cfg(make_config, tmp_path, timestamp_format="MMMMMM yyyy")
    result = ingest(spark, cfg, now=NOW)
    assert result.sources[0].status == "failed"
    assert result.sources[0].message.startswith(
        "sources.shop.timestamp_format: 'MMMMMM yyyy' is not a datetime pattern Spark reads (")
    assert "Too many letters" in result.sources[0].message and "fix or move a file" not in result.sources[0].message


def test_a_source_time_zone_shifts_parquet_wall_clock_times_but_not_instants(spark, make_config, tmp_path):
    """In Parquet a TIMESTAMP is an instant and a TIMESTAMP_NTZ a wall-clock time: ``timezone`` applies to the second
    only (the first is read with its offset); with a pattern format an instant column is a one-line error."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    (tmp_path / "in/p").mkdir(parents=True)
    ten = dt.datetime(2026, 9, 21, 10)
    pq.write_table(pa.table({"customer": ["u1"], "product": ["i1"], "event": ["VIEW"],
                             "instant": pa.array([ten], pa.timestamp("us", tz="UTC")),
                             "wall_clock": pa.array([ten], pa.timestamp("us"))}), tmp_path / "in/p/a.parquet")
    fields = {**CSV_SOURCE["fields"], "timestamp": "instant"}
    parquet = {**CSV_SOURCE, "format": "parquet", "path": str(tmp_path / "in/p"), "timestamp_format": "iso8601",
               "timezone": "Europe/Berlin", "options": {}}
    cfg = make_config(sources={"instant": {**parquet, "fields": fields},
                               "wall": {**parquet, "fields": {**fields, "timestamp": "wall_clock"}},
                               "pattern": {**parquet, "fields": fields, "timestamp_format": "yyyy-MM-dd HH:mm:ss"}})
    result = ingest(spark, cfg, now=NOW)
    assert table_rows(spark, cfg.table_path(T.INTERACTIONS), ("source", "event_ts")) == [
        ("instant", ten), ("wall", dt.datetime(2026, 9, 21, 8))]
    assert result.sources[2].message == (
        "source pattern: 'instant' holds instants (a Parquet TIMESTAMP) and timestamp_format is a pattern; set "
        "sources.pattern.timestamp_format: iso8601 or remove sources.pattern.timezone")


def test_running_out_of_memory_says_which_settings_give_more(make_config):
    """A 333 MB json document failed its source (with the tests' 3 GB driver) on ``java.lang.OutOfMemoryError: Java
    heap space`` and the advice to fix a file; now the line names the memory settings and, for json, JSON Lines.
    (The real failure takes a gigabyte of heap to reproduce: here the error as the JVM words it.)"""
    from interlake.ingest.pipeline import unforeseen

    cfg = make_config(sources={"docs": {**CSV_SOURCE, "format": "json", "path": "x"},
                               "shop": {**CSV_SOURCE, "path": "x"}})
    oom = RuntimeError("java.lang.OutOfMemoryError: Java heap space")
    settings = ("Spark ran out of memory: give it more with spark.conf spark.driver.memory (local mode) or "
                "spark.executor.memory (a cluster)")
    assert unforeseen(oom, cfg.source("docs")).startswith(
        f"RuntimeError: java.lang.OutOfMemoryError: Java heap space; {settings}; a json document is read whole, as one "
        "record list in memory: export large ones as JSON Lines (format: jsonl), which are read line by line (")
    assert unforeseen(oom, cfg.source("shop")).startswith(
        f"RuntimeError: java.lang.OutOfMemoryError: Java heap space; {settings} (the next run")
    assert "memory" not in unforeseen(RuntimeError("java.io.EOFException: Unexpected end of input stream"))


def test_an_archive_or_a_binary_file_is_a_one_line_error_saying_what_to_do(spark, make_config, tmp_path):
    """A zip archive (Hadoop opens .gz and .bz2 only) failed the source on a "header" of binary noise, printed raw to
    the terminal, with advice to fix its fields; now its name and what to do. A binary file named .csv still fails on
    its fields, its noise escaped into one printable line."""
    import zipfile

    (tmp_path / "in/zip").mkdir(parents=True)
    with zipfile.ZipFile(tmp_path / "in/zip/export.zip", "w") as archive:
        archive.writestr("export.csv", f"customer,product,event,time\nu1,i1,VIEW,{T0}\n")
    (tmp_path / "in/bin").mkdir(parents=True)
    (tmp_path / "in/bin/export.csv").write_bytes(b"\x00\x01\x1b[31mPK\x03\x04,x\n")
    cfg = make_config(sources={"zipped": {**CSV_SOURCE, "path": str(tmp_path / "in/zip")},
                               "binary": {**CSV_SOURCE, "path": str(tmp_path / "in/bin")}})
    result = ingest(spark, cfg, now=NOW)
    assert result.sources[0].message == (
        "source zipped: export.zip is a zip archive, which Spark's readers do not open; extract its files into the "
        "folder (or leave it out with a glob path such as *.csv); .gz and .bz2 files are read as they are")
    message = result.sources[1].message
    assert message.startswith("source binary: fields not found in the CSV header") and message.isprintable()
    assert "The files have: '\\x00\\x01\\x1b[31mPK\\x03\\x04', x." in message


def test_a_file_compressed_in_a_way_hadoop_does_not_read_is_a_one_line_error(spark, make_config, tmp_path):
    """``.xz`` (no Hadoop codec) was read as its raw bytes: a "header" of binary noise; ``.zst`` needs Hadoop's native
    library, which pip's pyspark lacks; an ``.lz4`` file as the lz4 tool writes it (a frame) was taken for Hadoop's
    block format and failed the source with ``OutOfMemoryError: Java heap space``. Each now names the file and what to
    do. An ``.lz4`` file in Hadoop's own format (as Spark writes it) is read."""
    import lzma

    text = f"customer,product,event,time\nu1,i1,VIEW,{T0}\nu2,i2,BUY,{T0 + 60}\n"
    cases = {"xz": ("a.csv.xz", lzma.compress(text.encode())),
             "zst": ("b.csv.zst", b"\x28\xb5\x2f\xfd" + bytes(range(40))),  # a zstd frame's first bytes
             "framed": ("c.csv.lz4", b"\x04\x22\x4d\x18\x64\x40\xa7" + bytes(range(40)))}  # an LZ4 frame's
    for folder, (name, data) in cases.items():
        (tmp_path / "in" / folder).mkdir(parents=True)
        (tmp_path / "in" / folder / name).write_bytes(data)
    rows = spark.createDataFrame([("u1", "i1", "VIEW", str(T0)), ("u2", "i2", "BUY", str(T0 + 60))],
                                 "customer string, product string, event string, time string")
    rows.coalesce(1).write.option("header", "true").option("compression", "lz4").csv(str(tmp_path / "in/hadoop"))
    cfg = make_config(sources={folder: {**CSV_SOURCE, "path": str(tmp_path / "in" / folder)}
                               for folder in (*cases, "hadoop")})
    result = ingest(spark, cfg, now=NOW)
    recompress = "decompress it, or compress it again with gzip (.gz) or bzip2 (.bz2), which every Spark reads"
    assert [r.message for r in result.sources[:3]] == [
        f"source xz: a.csv.xz is xz-compressed, which none of Hadoop's codecs here reads (io.compression.codecs); "
        f"{recompress}",
        f"source zst: b.csv.zst is zstd-compressed, which Hadoop reads only with its native library, not loaded in "
        f"this Spark (pip's pyspark has none); {recompress}",
        f"source framed: c.csv.lz4 is in the LZ4 frame format (as the lz4 tool writes it), which Hadoop's Lz4Codec "
        f"for .lz4 files does not read (it reads Hadoop's own block format); {recompress}"]
    assert [(f.file.rsplit(".", 2)[-2:], f.rows_accepted) for f in result.sources[3].files] == [(["csv", "lz4"], 2)]
    assert table_rows(spark, cfg.table_path(T.INTERACTIONS), ("user_id", "item_id")) == [("u1", "i1"), ("u2", "i2")]


def test_a_utf16_csv_export_is_read_whole_file(spark, make_config, tmp_path):
    """Excel's "Unicode Text" export (UTF-16 with a byte-order mark, tabs, CRLF): before 2026-11-30 Spark split its
    lines on the byte 0x0A, and every line was quarantined as garbage; ``encoding: UTF-16`` now implies ``multiLine``.
    ``multiLine: false`` with it is a one-line error."""
    text = "customer\tproduct\tevent\ttime\r\nu1\ti1\tVIEW\t1790000000\r\n\u00fc2\ti2\tBUY\t1790000060\r\n"
    (tmp_path / "in/shop").mkdir(parents=True)
    (tmp_path / "in/shop/export.txt").write_bytes(b"\xff\xfe" + text.encode("utf-16-le"))
    options = {"header": "true", "sep": "\t", "encoding": "UTF-16"}
    cfg = make_config(sources={"shop": {**CSV_SOURCE, "path": str(tmp_path / "in/shop"), "options": options},
                               "lines": {**CSV_SOURCE, "path": str(tmp_path / "in/shop"),
                                         "options": {**options, "multiLine": "false"}}})
    result = ingest(spark, cfg, now=NOW)
    assert [(f.rows_read, f.rows_accepted, f.rows_quarantined) for f in result.sources[0].files] == [(2, 2, 0)]
    assert table_rows(spark, cfg.table_path(T.INTERACTIONS), ("user_id", "item_id", "interaction_type")) == [
        ("u1", "i1", "view"), ("\u00fc2", "i2", "purchase")]
    assert result.sources[1].message == ("source lines: UTF-16 text is read a whole file at a time; remove "
                                         "sources.lines.options.multiLine")


def test_json_sources_in_utf16_or_utf32_are_read_in_the_encoding_their_options_name(spark, make_config, tmp_path,
                                                                                    caplog):
    """PowerShell 5's ``>`` writes UTF-16, and Spark's text reader reads UTF-8 only: before 2026-12-06 such JSON
    lines, documents and queue dumps failed with "fields not found ... The files have: no fields. Fix
    sources.<name>.fields", and ``options.encoding`` was ignored. Each file is now decoded whole in the encoding
    named; without it the error names the encoding the file's first bytes show (a CSV export's too). A compressed
    file or one cut short in such an encoding fails its source in one line naming it, and nothing of it is taken.
    An option that has no effect is logged."""
    rec = {"uid": "u1", "sku": "i1", "action": "view", "ts": T0 * 1000}
    lines = "\r\n".join(json.dumps({**rec, "uid": u}) for u in ("u1", "\u00fc2")) + "\r\n\r\n"
    files = {"lines/a.jsonl": lines.encode("utf-16"),  # a byte-order mark, little-endian
             "docs/a.json": json.dumps([{**rec, "uid": "d1"}]).encode("utf-16-be"),  # no mark
             "queue/a.jsonl": "\x1e".join(queue_line(f"q{i}", "i2", "view", T0 * 1000, offset=i)
                                          for i in range(2)).encode("utf-32"),
             "gz/a.jsonl.gz": gzip.compress(lines.encode("utf-16")),
             "cut/a.jsonl": lines.encode("utf-16")[:-1],
             "csv/export.txt": "customer\tproduct\tevent\ttime\r\nu1\ti1\tVIEW\t1\r\n".encode("utf-16")}
    for name, data in files.items():
        (tmp_path / "in" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "in" / name).write_bytes(data)
    utf16 = {"encoding": "UTF-16"}
    sources = {"lines": {**QUEUE_SOURCE, "format": "jsonl", "options": {**utf16, "mode": "PERMISSIVE"}},
               "docs": {**QUEUE_SOURCE, "format": "json", "options": {"Charset": "utf-16be", "multiLine": "true"}},
               "queue": {**QUEUE_SOURCE, "options": {"encoding": "UTF-32", "lineSep": "\x1e"}},
               "gz": {**QUEUE_SOURCE, "format": "jsonl", "options": utf16},
               "cut": {**QUEUE_SOURCE, "format": "jsonl", "options": utf16}}
    sources = {name: {**s, "path": str(tmp_path / "in" / name)} for name, s in sources.items()}
    cfg = make_config(sources=sources)
    with caplog.at_level(logging.WARNING, logger="interlake.ingest.pipeline"):
        result = ingest(spark, cfg, now=NOW)
    assert [(s.source, s.status) for s in result.sources] == [
        ("lines", "ok"), ("docs", "ok"), ("queue", "ok"), ("gz", "failed"), ("cut", "failed")]
    assert table_rows(spark, cfg.table_path(T.INTERACTIONS), ("user_id", "item_id", "source")) == [
        ("d1", "i1", "docs"), ("q0", "i2", "queue"), ("q1", "i2", "queue"), ("u1", "i1", "lines"),
        ("\u00fc2", "i1", "lines")]
    assert [s.message for s in result.sources[3:]] == [
        "source gz: a.jsonl.gz is compressed, and utf-16 text is read from the bytes as stored; decompress it (or "
        "convert it to UTF-8, which is read compressed too)",
        "source cut: a.jsonl is not utf-16 text: its size is not a multiple of 2 bytes (cut short, or in another "
        "encoding); fix sources.cut.options.encoding, or fix or move the file"]
    assert sorted({r[0] for r in ledger_rows(spark, cfg.table_path(T.LEDGER))}) == ["docs", "lines", "queue"]
    assert [r.getMessage() for r in caplog.records if "no effect" in r.getMessage()] == [
        "source lines: options.mode has no effect: a jsonl source's records are parsed as strict JSON (Spark's "
        "parse_json, not its JSON reader), and a record that is not is quarantined with its reason; its options are "
        "encoding, lineSep, recursiveFileLookup and pathGlobFilter; remove it"]

    # the same files without the option (and a UTF-16 CSV export without it): the setting that reads them
    plain = {name: {k: v for k, v in sources[name].items() if k != "options"} for name in ("lines", "docs", "queue")}
    cfg = make_config(lakehouse=str(tmp_path / "lake2"), sources={
        **plain, "csv": {**CSV_SOURCE, "path": str(tmp_path / "in/csv"), "options": {"sep": "\t"}}})
    assert [s.message for s in ingest(spark, cfg, now=NOW).sources] == [
        "source lines: no record could be read: a.jsonl is UTF-16 text (its first bytes FF FE 7B 00): set "
        "sources.lines.options.encoding: UTF-16",
        "source docs: no record could be read: a.json is UTF-16BE text (its first bytes 00 5B 00 7B): set "
        "sources.docs.options.encoding: UTF-16BE",
        "source queue: no record could be read: a.jsonl is UTF-32 text (its first bytes FF FE 00 00): set "
        "sources.queue.options.encoding: UTF-32",
        "source csv: the CSV header of export.txt could not be read: export.txt is UTF-16 text (its first bytes FF FE "
        "63 00): set sources.csv.options.encoding: UTF-16"]


def test_sources_in_any_encoding_java_has_are_read_and_bad_bytes_quarantine_their_record(spark, make_config,
                                                                                        tmp_path):
    """Excel on Windows saves CSV in windows-1252, which Spark 4 refuses (INVALID_PARAMETER_VALUE.CHARSET) unless
    ``spark.sql.legacy.javaCharsets`` is on: before 2026-12-06 such a source failed every run in the middle of its
    run with Spark's error, and a JSON format's config refused it. Any encoding the JVM has is read now, in every text
    format; a byte that is no character in it (0x81 in windows-1252, a lone UTF-16 surrogate) quarantines its record
    with a reason naming the encoding (Spark's decode raised, failing the UTF-16 source without naming the file). A
    name the JVM lacks is a config error before anything is written, and a source read as UTF-8 that is not says
    what to set."""
    csv = f"customer,product,event,time\nm\u00fcller,caf\u00e9,VIEW,{T0}\nu2,i2,BUY,{T0}\n"
    write_bytes = {"w/a.csv": csv.encode("cp1252"),
                   "w/b.csv": b"customer,product,event,time\nu3,caf" + b"\x81" + f",VIEW,{T0}\n".encode(),
                   "j/a.jsonl": (queue_line("m\u00fcller", "caf\u00e9", "view", T0 * 1000) + "\n").encode("cp1252"),
                   "u/a.jsonl": (json.dumps({"uid": "u4", "sku": "i4", "action": "view", "ts": T0 * 1000}) + "\n")
                   .encode("utf-16-le")
                   + '{"uid": "u5'.encode("utf-16-le") + b"\x00\xd8"
                   + f'", "sku": "i5", "action": "view", "ts": {T0 * 1000}}}\n'.encode("utf-16-le")}
    for name, data in write_bytes.items():
        (tmp_path / "in" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "in" / name).write_bytes(data)
    sources = {"w": {**CSV_SOURCE, "path": str(tmp_path / "in/w"), "options": {"encoding": "windows-1252"}},
               "j": {**QUEUE_SOURCE, "format": "jsonl", "path": str(tmp_path / "in/j"),
                     "options": {"charset": "Cp1252"},
                     "fields": {"user_id": "value.uid", "item_id": "value.sku", "interaction_type": "value.action",
                                "timestamp": "value.ts"}},
               "u": {**QUEUE_SOURCE, "format": "jsonl", "path": str(tmp_path / "in/u"),
                     "options": {"encoding": "UTF-16LE"}}}
    cfg = make_config(sources=sources, ingest={"max_quarantine_share": 0.5})
    result = ingest(spark, cfg, now=NOW)
    assert [(s.source, s.status, [(f.rows_read, f.rows_accepted, f.rows_duplicate, f.rows_quarantined)
                                  for f in s.files]) for s in result.sources] == [
        ("w", "ok", [(2, 2, 0, 0), (1, 0, 0, 1)]), ("j", "ok", [(1, 0, 1, 0)]), ("u", "ok", [(2, 1, 0, 1)])]
    assert table_rows(spark, cfg.table_path(T.INTERACTIONS), ("user_id", "item_id", "source")) == [
        ("m\u00fcller", "caf\u00e9", "w"), ("u2", "i2", "w"), ("u4", "i4", "u")]
    assert sorted((r.source, r.reasons) for r in spark.read.format("delta").load(cfg.table_path(T.QUARANTINE))
                  .collect()) == [
        ("u", ["text is not valid UTF-16LE (replacement characters found)", "line is not valid JSON"]),
        ("w", ["text is not valid WINDOWS-1252 (replacement characters found)"])]

    # the windows-1252 files read as UTF-8: their non-ASCII records quarantined, and the gate's line says what to set
    cfg = make_config(lakehouse=str(tmp_path / "lake2"), sources={"w": {**sources["w"], "options": {}}})
    assert ingest(spark, cfg, now=NOW).sources[0].message.startswith(
        "quality gate failed, nothing written: 66.7% of 3 records were quarantined, above the maximum 20.0% "
        "(ingest.max_quarantine_share); most common reasons: 'text is not valid UTF-8 (replacement characters found)' "
        "(2 rows); if the files are not in UTF-8 (Excel on Windows saves CSV in windows-1252), set "
        "sources.w.options.encoding to theirs (report: ")

    # an encoding the JVM lacks: a config error naming the key, and nothing written
    cfg = make_config(lakehouse=str(tmp_path / "lake3"), sources={"w": {**sources["w"],
                                                                        "options": {"Encoding": "windows-1252x"}}})
    with pytest.raises(ConfigError, match=r"^sources\.w\.options\.Encoding: 'windows-1252x' is not an encoding this "
                                          r"Java has; use the name Java gives it \(UTF-8, UTF-16, ISO-8859-1, "
                                          r"windows-1252, Shift_JIS, GB18030, \.\.\.: java\.nio\.charset\)$"):
        ingest(spark, cfg, now=NOW)
    assert not (tmp_path / "lake3").exists()
    # a session where Spark's own list applies (a spark.conf that turns the setting off): the same, saying so
    cfg = make_config(lakehouse=str(tmp_path / "lake3"), sources={"w": sources["w"]})
    spark.conf.set("spark.sql.legacy.javaCharsets", "false")
    try:
        with pytest.raises(ConfigError, match=r"^sources\.w\.options\.encoding: Spark reads windows-1252 only with "
                                              r"spark\.sql\.legacy\.javaCharsets: true, which is off in this session "):
            ingest(spark, cfg, now=NOW)
    finally:
        spark.conf.set("spark.sql.legacy.javaCharsets", "true")
    assert not (tmp_path / "lake3").exists()


def test_csv_quoted_fields_that_span_lines_with_the_multiline_option(spark, make_config, tmp_path):
    """A note column with line breaks inside quotes (`multiLine: "true"`, Spark's option, passed through): one record
    per quoted field, a malformed record still quarantined whole, and the file reconciles. Values padded with tabs or
    line ends are the same ids as without."""
    write(tmp_path / "in/shop/a.csv", (f'customer,product,event,time,note\nu1,i1,VIEW,{T0},"two\nlines"\n'
                                       f'u2,i2,BUY,{T0},plain\nu3,i3,VIEW,{T0},x,EXTRA\n"u1\t",i1,VIEW,{T0},"a\nb"\n'))
    cfg = make_config(sources={"shop": {**CSV_SOURCE, "path": str(tmp_path / "in/shop"),
                                        "options": {"header": "true", "multiLine": "true"}}},
                      ingest={"max_quarantine_share": 0.5})
    result = ingest(spark, cfg, now=NOW)
    assert [(f.rows_read, f.rows_accepted, f.rows_duplicate, f.rows_quarantined) for f in result.sources[0].files] == [
        (4, 2, 1, 1)]
    assert table_rows(spark, cfg.table_path(T.INTERACTIONS), ("user_id", "item_id", "interaction_type")) == [
        ("u1", "i1", "view"), ("u2", "i2", "purchase")]
    assert [tuple(r) for r in spark.read.format("delta").load(cfg.table_path(T.QUARANTINE))
            .select("raw", "reasons").collect()] == [
        (f"u3,i3,VIEW,{T0},x,EXTRA", ["malformed CSV line (wrong number of fields or broken quoting)"])]
    # without the option, the line a quoted break cuts off is quarantined with the reason to set it (since 2026-12-01)
    cfg = make_config(lakehouse=str(tmp_path / "lake2"), sources={"shop": {**CSV_SOURCE, "path": str(
        tmp_path / "in/shop")}}, ingest={"max_quarantine_share": 0.9})
    assert ingest(spark, cfg, now=NOW).ok
    reasons = {r.raw: r.reasons for r in spark.read.format("delta").load(cfg.table_path(T.QUARANTINE)).collect()}
    cut = ['malformed CSV line (a quote is not closed on its line: if quoted values hold line breaks, set '
           'sources.shop.options.multiLine: "true")']
    assert reasons['lines"'] == cut and reasons['b"'] == cut
    assert reasons[f"u3,i3,VIEW,{T0},x,EXTRA"] == ["malformed CSV line (wrong number of fields or broken quoting)"]


def test_csv_values_whose_quoting_spark_did_not_read_are_quarantined_with_the_option_to_set(spark, make_config,
                                                                                             tmp_path):
    """Spark keeps the quotes of a value it cannot unquote, and reads the end of a quoted first value broken across
    lines as a line of its own. Before 2026-12-05 such values were stored: ids ``"5"" tv"`` (quotes doubled, as Excel
    and pandas write them), `` "i3"`` (a space before the quote) and ``1"`` (the end of ``"u\n1"``). Each is
    quarantined with the reader option that reads it; with those options the same files store the right ids. A
    broken first column that is not mapped (a note) leaves the record's values whole: stored."""
    write(tmp_path / "in/shop/a.csv", (f'customer,product,event,time\n"u\n1",i1,VIEW,{T0}\n"5"" tv",i2,VIEW,{T0}\n'
                                       f'u3, "i3",VIEW,{T0}\n"u4"x,i4,VIEW,{T0}\nu5,i5,VIEW,{T0}\n'))
    write(tmp_path / "in/shop/b.csv", f'note,customer,product,event,time\n"two\nlines",u6,i6,VIEW,{T0}\n')
    cfg = make_config(sources={"shop": {**CSV_SOURCE, "path": str(tmp_path / "in/shop")}},
                      ingest={"max_quarantine_share": 0.9})
    assert ingest(spark, cfg, now=NOW).ok
    assert table_rows(spark, cfg.table_path(T.INTERACTIONS), ("user_id", "item_id")) == [("u5", "i5"), ("u6", "i6")]
    reasons = {r.raw: r.reasons for r in spark.read.format("delta").load(cfg.table_path(T.QUARANTINE)).collect()}

    def line(user, item):  # the raw text of a line Spark parsed: its values as JSON
        return json.dumps({"customer": user, "product": item, "event": "VIEW", "time": str(T0)}, separators=(",", ":"))

    assert reasons == {
        '"u': ['malformed CSV line (a quote is not closed on its line: if quoted values hold line breaks, set '
               'sources.shop.options.multiLine: "true")'],
        '"two': ['malformed CSV line (a quote is not closed on its line: if quoted values hold line breaks, set '
                 'sources.shop.options.multiLine: "true")'],
        line('1"', "i1"): [
            "malformed CSV line (value '1\"' of column `customer`: it ends with a quote that opens nowhere on its "
            "line, as the end of a quoted value broken across lines does; if quoted values hold line breaks, set "
            'sources.shop.options.multiLine: "true")'],
        line('"5"" tv"', "i2"): [
            "malformed CSV line (value '\"5\"\" tv\"' of column `customer`: a quoted value with doubled quotes "
            "inside, which Spark read as text; set sources.shop.options.escape: \"\\\"\" (Spark's default escape "
            "is a backslash))"],
        line("u3", ' "i3"'): [
            "malformed CSV line (value ' \"i3\"' of column `product`: white space before its opening quote, and "
            'Spark read the quotes as text; set sources.shop.options.ignoreLeadingWhiteSpace: "true")'],
        line('"u4"x', "i4"): [
            "malformed CSV line (value '\"u4\"x' of column `customer`: a quote that does not close right before a "
            "separator, and Spark read the quotes as text)"]}
    options = {"header": "true", "multiLine": "true", "escape": '"', "ignoreLeadingWhiteSpace": "true"}
    cfg = make_config(lakehouse=str(tmp_path / "lake2"), ingest={"max_quarantine_share": 0.9},
                      sources={"shop": {**CSV_SOURCE, "path": str(tmp_path / "in/shop"), "options": options}})
    assert ingest(spark, cfg, now=NOW).ok
    assert table_rows(spark, cfg.table_path(T.INTERACTIONS), ("user_id", "item_id")) == [
        ('5" tv', "i2"), ("u\n1", "i1"), ("u3", "i3"), ("u5", "i5"), ("u6", "i6")]
    assert [r.reasons for r in spark.read.format("delta").load(cfg.table_path(T.QUARANTINE)).collect()] == [
        ["malformed CSV line (value '\"u4\"x' of column `customer`: a quote that does not close right before a "
         "separator, and Spark read the quotes as text)"]]


def test_files_in_subfolders_are_not_taken_and_the_run_says_so(spark, make_config, tmp_path, caplog):
    """A source is one folder. Date-partitioned exports (``shop/2026-11-08/export.csv``) would otherwise be missed
    without a word: the run names the subfolders it does not read."""
    import logging

    write(tmp_path / "in/shop/a.csv", f"customer,product,event,time\nu1,i1,VIEW,{T0}\n")
    write(tmp_path / "in/shop/2026-11-08/b.csv", f"customer,product,event,time\nu2,i2,VIEW,{T0}\n")
    write(tmp_path / "in/shop/_tmp/c.csv", f"customer,product,event,time\nu3,i3,VIEW,{T0}\n")
    cfg = csv_cfg(make_config, tmp_path)
    caplog.set_level(logging.WARNING, logger="interlake")
    assert ingest(spark, cfg, now=NOW).ok
    assert table_rows(spark, cfg.table_path(T.INTERACTIONS), ("user_id",)) == [("u1",)]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("has subfolders (2026-11-08) whose files are not read" in w and "recursiveFileLookup" in w
               for w in warnings), warnings


def test_a_symbolic_link_to_a_missing_file_is_named_and_taken_once_it_is_fixed(spark, make_config, tmp_path, caplog):
    """Hadoop's local listing leaves out a link whose target is missing (an export linked from a share that is not
    mounted): before 2026-12-04 its records were missed without a word. The run names it (folder and glob paths
    alike, hidden names not), takes nothing of it, and the run after the link is fixed takes its file."""
    header = "customer,product,event,time\n"
    write(tmp_path / "in/shop/a.csv", f"{header}u1,i1,VIEW,{T0}\n")
    share = tmp_path / "share"
    (tmp_path / "in/shop/b.csv").symlink_to(share / "b.csv")
    (tmp_path / "in/shop/_old.csv").symlink_to(share / "gone.csv")
    cfg = make_config(sources={"shop": {**CSV_SOURCE, "path": str(tmp_path / "in/shop")},
                               "glob": {**CSV_SOURCE, "path": str(tmp_path / "in/shop/b*.csv")}})
    caplog.set_level(logging.WARNING, logger="interlake")
    result = ingest(spark, cfg, now=NOW)
    assert [(s.source, s.status, [f.file.rsplit("/", 1)[1] for f in s.files]) for s in result.sources] == [
        ("shop", "ok", ["a.csv"]), ("glob", "no new files", [])]
    said = (f"{tmp_path}/in/shop/b.csv is a symbolic link to {share}/b.csv, which does not exist: it is not read; "
            "fix or remove the link (the run after the fix takes its file)")
    assert [r.getMessage() for r in caplog.records if "symbolic link" in r.getMessage()] == [
        f"source {tmp_path}/in/shop: {said}", f"source {tmp_path}/in/shop/b*.csv: {said}"]
    write(share / "b.csv", f"{header}u2,i2,VIEW,{T0}\n")  # the share is mounted again
    assert [[f.file.rsplit("/", 1)[1] for f in s.files] for s in ingest(spark, cfg, now=NOW).sources] == [
        ["b.csv"], ["b.csv"]]
    assert table_rows(spark, cfg.table_path(T.INTERACTIONS), ("user_id",)) == [("u1",), ("u2",)]


def test_a_source_path_may_be_a_glob(spark, make_config, tmp_path, caplog):
    """``path: in/shop/*.csv`` takes the CSV files only (not the checksum or notes files beside them, which were read
    as CSV and quarantined, or failed the source); ``in/exp/2026-11-*`` the files of the November folders. The re-run
    is answered without Spark; a glob that matches nothing yet is a warning and no new files, not an error."""
    import logging

    from interlake.ingest.noop import nothing_new

    header = "customer,product,event,time\n"
    write(tmp_path / "in/shop/a.csv", f"{header}u1,i1,VIEW,{T0}\n")
    write(tmp_path / "in/shop/a.csv.md5", "d41d8cd98f00b204e9800998ecf8427e  a.csv\n")
    write(tmp_path / "in/shop/notes.txt", "exported by the shop\n")
    write(tmp_path / "in/exp/2026-11-08/x.csv", f"{header}u2,i2,VIEW,{T0}\n")
    write(tmp_path / "in/exp/2026-11-09/y.csv", f"{header}u3,i3,VIEW,{T0}\n")
    write(tmp_path / "in/exp/2026-10-31/z.csv", f"{header}u4,i4,VIEW,{T0}\n")
    cfg = make_config(sources={"shop": {**CSV_SOURCE, "path": str(tmp_path / "in/shop/*.csv")},
                               "exp": {**CSV_SOURCE, "path": str(tmp_path / "in/exp/2026-11-*")},
                               "later": {**CSV_SOURCE, "path": str(tmp_path / "in/later/*.csv")}})
    caplog.set_level(logging.WARNING, logger="interlake")
    result = ingest(spark, cfg, now=NOW)
    assert [(s.source, s.status, [f.file.rsplit("/", 1)[1] for f in s.files]) for s in result.sources] == [
        ("shop", "ok", ["a.csv"]), ("exp", "ok", ["x.csv", "y.csv"]), ("later", "no new files", [])]
    assert table_rows(spark, cfg.table_path(T.INTERACTIONS), ("user_id",)) == [("u1",), ("u2",), ("u3",)]
    assert any("in/later/*.csv matches no file or folder yet" in r.getMessage() for r in caplog.records)
    assert [s.status for s in nothing_new(cfg).sources] == ["no new files"] * 3
    write(tmp_path / "in/exp/2026-11-10/w.csv", f"{header}u5,i5,VIEW,{T0}\n")
    assert nothing_new(cfg) is None  # a new November folder: the job runs
    assert [len(s.files) for s in ingest(spark, cfg, now=NOW).sources] == [0, 1, 0]


def test_a_source_with_recursive_file_lookup_takes_the_files_of_its_subfolders(spark, make_config, tmp_path, capsys):
    """Spark's reader option ``recursiveFileLookup: "true"`` on a source: date folders (also Hive-style, and nested)
    are read, hidden ones (``_tmp``) are not; the report names each file by its path under the folder (two days'
    ``export.csv`` apart); a re-run is answered without Spark; the trending stream takes them too."""
    from interlake.ingest.noop import nothing_new
    from interlake.ingest.pipeline import print_report
    from interlake.trending.pipeline import run_trending

    header = "customer,product,event,time\n"
    write(tmp_path / "in/shop/a.csv", f"{header}u1,i1,VIEW,{T0}\n")
    write(tmp_path / "in/shop/2026-11-08/export.csv", f"{header}u2,i2,VIEW,{T0}\n")
    write(tmp_path / "in/shop/date=2026-11-09/export.csv", f"{header}u3,i3,VIEW,{T0}\n")
    write(tmp_path / "in/shop/date=2026-11-09/late/x.csv", f"{header}u4,i4,VIEW,{T0}\n")
    write(tmp_path / "in/shop/_tmp/y.csv", f"{header}u5,i5,VIEW,{T0}\n")
    write(tmp_path / "in/q/2026-11-09/a.jsonl", queue_line("q1", "i1", "view", T0 * 1000) + "\n")
    write(tmp_path / "in/q/b.jsonl", queue_line("q2", "i2", "view", T0 * 1000) + "\n")
    cfg = make_config(sources={
        "shop": {**CSV_SOURCE, "path": str(tmp_path / "in/shop"),
                 "options": {"header": "true", "recursiveFileLookup": True}},
        "pixel_queue": {**QUEUE_SOURCE, "path": str(tmp_path / "in/q"), "options": {"recursiveFileLookup": "true"}}})
    result = ingest(spark, cfg, now=NOW)
    assert result.ok
    assert table_rows(spark, cfg.table_path(T.INTERACTIONS), ("user_id",)) == [
        ("q1",), ("q2",), ("u1",), ("u2",), ("u3",), ("u4",)]
    print_report(result)
    names = [line.split()[1] for line in capsys.readouterr().out.splitlines()[1:7]]
    assert names == ["2026-11-08/export.csv", "a.csv", "date=2026-11-09/export.csv", "date=2026-11-09/late/x.csv",
                     "2026-11-09/a.jsonl", "b.jsonl"]
    assert [s.status for s in nothing_new(cfg).sources] == ["no new files", "no new files"]
    run_trending(spark, cfg, once=True)
    assert table_rows(spark, cfg.table_path(T.TRENDING_ITEMS), ("item_id", "interactions")) == [("i1", 1), ("i2", 1)]


def test_spark_s_path_glob_filter_chooses_the_files_of_a_source(spark, make_config, tmp_path):
    """``options: {pathGlobFilter: "*.csv"}`` (Spark's reader option) leaves the other files of the folders out of
    the run, the ledger, the re-run answered without Spark and the trending stream, as ``recursiveFileLookup`` is
    honoured; before 2026-12-06 the job listed every file and gave them to a reader that skipped some: a folder with
    ``a.csv.md5`` beside ``a.csv`` failed with ``UNABLE_TO_INFER_SCHEMA``. A glob Hadoop does not read is one line."""
    from interlake.ingest.noop import nothing_new
    from interlake.trending.pipeline import run_trending

    header = "customer,product,event,time\n"
    write(tmp_path / "in/shop/a.csv", f"{header}u1,i1,VIEW,{T0}\n")
    write(tmp_path / "in/shop/a.csv.md5", "0cc175b9c0f1b6a831c399e269772661  a.csv\n")
    write(tmp_path / "in/shop/2026-11-08/b.csv", f"{header}u2,i2,VIEW,{T0}\n")
    write(tmp_path / "in/shop/2026-11-08/b.csv.md5", "92eb5ffee6ae2fec3ad71c777531578f  b.csv\n")
    write(tmp_path / "in/q/a.jsonl", queue_line("q1", "i1", "view", T0 * 1000) + "\n")
    write(tmp_path / "in/q/a.jsonl.bak", queue_line("q9", "i9", "view", T0 * 1000) + "\n")
    cfg = make_config(sources={
        "shop": {**CSV_SOURCE, "path": str(tmp_path / "in/shop"),
                 "options": {"header": "true", "recursiveFileLookup": "true", "pathGlobFilter": "*.csv"}},
        "pixel_queue": {**QUEUE_SOURCE, "path": str(tmp_path / "in/q"), "options": {"pathGlobFilter": "*.jsonl"}},
        "bad": {**CSV_SOURCE, "path": str(tmp_path / "in/shop"), "options": {"pathGlobFilter": "[a"}}})
    result = ingest(spark, cfg, now=NOW)
    assert [s.status for s in result.sources] == ["ok", "ok", "failed"]
    assert result.sources[2].message.startswith(
        "sources.bad.options.pathGlobFilter: '[a' is not a glob Hadoop reads (")
    assert table_rows(spark, cfg.table_path(T.INTERACTIONS), ("user_id",)) == [("q1",), ("u1",), ("u2",)]
    assert [(r[0], r[1]) for r in ledger_rows(spark, cfg.table_path(T.LEDGER))] == [
        ("pixel_queue", "a.jsonl"), ("shop", "a.csv"), ("shop", "b.csv")]
    assert [s.status for s in nothing_new(cfg, ["shop", "pixel_queue"]).sources] == ["no new files"] * 2
    run_trending(spark, cfg, once=True)
    assert table_rows(spark, cfg.table_path(T.TRENDING_ITEMS), ("item_id", "interactions")) == [("i1", 1)]


def test_a_mapped_field_kept_in_name_value_folders_is_read_from_them(spark, make_config, tmp_path):
    """Exports written by Spark's ``partitionBy`` (or Hive) keep a field in ``name=value`` folders, not in the files:
    mapped by its name, it is read from the folder a file is in (unescaped, ``__HIVE_DEFAULT_PARTITION__`` missing),
    in every format, by ingestion and the trending stream; as with Spark's partition discovery the folder's value is
    taken over a field of the same name in the file; folders above the source's folder are not looked at; a field in
    neither is an error naming the folders."""
    from interlake.trending.pipeline import run_trending

    rows = [("u1", "i1", "view", "2026-09-21 10:00:00"), ("u2", "i2", "purchase", "2026-09-21 10:00:00"),
            ("u3", "i3", None, "2026-09-21 11:30:00")]
    (spark.createDataFrame(rows, "uid STRING, sku STRING, type STRING, hour STRING").write
     .partitionBy("type", "hour").parquet(str(tmp_path / "in/pq")))
    header = "customer,product,event,time\n"
    write(tmp_path / "in/shop/dt=2026-09-22/event=BUY/a.csv", f"{header}u4,i4,VIEW,10:00:00\n")
    write(tmp_path / "in/event=BUY/flat/a.csv", f"{header}u5,i5,VIEW,{T0}\n")  # event=BUY is above its folder
    write(tmp_path / "in/q/action=view/a.jsonl", queue_line("q1", "i6", None, T0 * 1000).replace(', "action": null', "")
          + "\n")
    recursive = {"recursiveFileLookup": "true"}
    cfg = make_config(sources={
        "pq": {"format": "parquet", "path": str(tmp_path / "in/pq"), "options": recursive,
               "timestamp_format": "yyyy-MM-dd HH:mm:ss",
               "fields": {"user_id": "uid", "item_id": "sku", "interaction_type": "type", "timestamp": "hour"}},
        "shop": {**CSV_SOURCE, "path": str(tmp_path / "in/shop"), "options": {"header": "true", **recursive},
                 "fields": {**CSV_SOURCE["fields"], "timestamp": ["dt", "time"]},
                 "timestamp_format": "yyyy-MM-dd HH:mm:ss"},
        "flat": {**CSV_SOURCE, "path": str(tmp_path / "in/event=BUY/flat")},
        "pixel_queue": {**QUEUE_SOURCE, "path": str(tmp_path / "in/q"), "options": recursive},
        "typo": {"format": "parquet", "path": str(tmp_path / "in/pq"), "options": recursive,
                 "fields": {"user_id": "uid", "item_id": "sku", "interaction_type": "types", "timestamp": "hour"}},
    }, ingest={"max_quarantine_share": 0.5}, trending={"source": "pixel_queue"})
    result = ingest(spark, cfg, now=NOW)
    assert [s.status for s in result.sources] == ["ok", "ok", "ok", "ok", "failed"]
    assert table_rows(spark, cfg.table_path(T.INTERACTIONS)) == [
        ("q1", "i6", "view", ts(T0), "pixel_queue"),
        ("u1", "i1", "view", dt.datetime(2026, 9, 21, 10), "pq"),
        ("u2", "i2", "purchase", dt.datetime(2026, 9, 21, 10), "pq"),
        ("u4", "i4", "purchase", dt.datetime(2026, 9, 22, 10), "shop"),
        ("u5", "i5", "view", ts(T0), "flat")]
    quarantined = spark.read.format("delta").load(cfg.table_path(T.QUARANTINE)).select(
        F.get_json_object("raw", "$.uid").alias("user"), "reasons").collect()
    assert [(r.user, list(r.reasons)) for r in quarantined] == [("u3", ["interaction type is missing or empty"])]
    assert result.sources[4].message == (
        "source typo: fields not found in the Parquet schema: interaction_type -> 'types'. The files have: uid, sku; "
        "their folders name hour, type (name=value folders). Fix sources.typo.fields")
    run_trending(spark, cfg, once=True)
    assert table_rows(spark, cfg.table_path(T.TRENDING_ITEMS), ("item_id", "interactions")) == [("i6", 1)]


def test_files_modified_less_than_min_file_age_ago_are_left_for_the_next_run(spark, make_config, tmp_path, caplog):
    """A legacy writer appending to a file in place: before 2026-12-03 a run took it cut short, its half last line
    quarantined as broken JSON for good (the complete line landed later, the quarantine row stayed), and took it
    again, all duplicates, each time it grew. ``sources.<name>.min_file_age`` leaves a file modified less than that
    long ago for a later run, with a line saying so, in the job and in the no-Spark answer alike."""
    from interlake.ingest.noop import nothing_new

    def line(uid):
        return queue_line(uid, "i1", "view", T0 * 1000)

    now = NOW.replace(tzinfo=dt.UTC).timestamp()
    write(tmp_path / "in/q/a.jsonl", line("u1") + "\n", mtime=now - 600)
    growing = write(tmp_path / "in/q/b.jsonl", line("u2") + "\n" + line("u3")[:30], mtime=now - 10)
    cfg = make_config(sources={"q": {**QUEUE_SOURCE, "path": str(tmp_path / "in/q"), "min_file_age": "1 minute"}})
    caplog.set_level(logging.WARNING, logger="interlake")
    first = ingest(spark, cfg, now=NOW)
    assert first.ok and [(f.file.rsplit("/", 1)[-1], f.rows_read) for f in first.sources[0].files] == [("a.jsonl", 1)]
    left = ("source q: 1 new file(s) modified less than 1 minute ago left for the next run (sources.q.min_file_age), "
            "e.g. b.jsonl")
    assert left in [r.getMessage() for r in caplog.records]
    caplog.clear()
    assert [s.status for s in nothing_new(cfg, now=NOW).sources] == ["no new files"]  # without Spark, the same
    assert left in [r.getMessage() for r in caplog.records]

    write(growing, line("u2") + "\n" + line("u3") + "\n", mtime=now - 5)  # the writer finishes
    later = NOW + dt.timedelta(minutes=1)
    assert nothing_new(cfg, now=NOW) is not None and nothing_new(cfg, now=later) is None
    assert ingest(spark, cfg, now=later).ok
    assert table_rows(spark, cfg.table_path(T.INTERACTIONS), ("user_id",)) == [("u1",), ("u2",), ("u3",)]
    assert table_rows(spark, cfg.table_path(T.QUARANTINE), ("raw",)) == []
    assert ledger_rows(spark, cfg.table_path(T.LEDGER)) == [
        ("q", "a.jsonl", 1, 1, 0, 0, "committed"), ("q", "b.jsonl", 2, 2, 0, 0, "committed")]
    with pytest.raises(ConfigError, match=r"^sources.q.min_file_age: 'soon' is not a duration; expected e.g. "):
        make_config(sources={"q": {**QUEUE_SOURCE, "path": "x", "min_file_age": "soon"}})


def test_config_naming_a_field_the_files_lack_fails_before_writing(spark, make_config, tmp_path):
    """The line names a file with the header (before 2026-12-04 only when the files had more than one header: one new
    file among a folder's thousands was not named) and how many more have it."""
    for name in ("a", "b", "c"):
        write(tmp_path / f"in/shop/{name}.csv", f"customer,sku,event,time\nu1,i1,VIEW,{T0}\n")
    write(tmp_path / "in/twice/a.csv", f"customer,product,event,time,product\nu1,i1,VIEW,{T0},i9\n")
    cfg = make_config(sources={"shop": {**CSV_SOURCE, "path": str(tmp_path / "in/shop")},
                               "twice": {**CSV_SOURCE, "path": str(tmp_path / "in/twice")}})
    result = ingest(spark, cfg, now=NOW)
    assert [s.status for s in result.sources] == ["failed", "failed"]
    assert result.sources[0].message == (
        "source shop: fields not found in the CSV header of a.csv (and 2 more files with that header): "
        "item_id -> 'product'. The files have: customer, sku, event, time. Fix sources.shop.fields")
    assert result.sources[1].message == (  # a name the header has twice: Spark numbers the columns
        "source twice: fields not found in the CSV header of a.csv: item_id -> 'product'. "
        "The files have: customer, product1, event, time, product4. Fix sources.twice.fields. The header names "
        "'product' more than once; Spark numbers those columns by position (product1, product4): map the one meant")
    assert spark.read.format("delta").load(cfg.table_path(T.INTERACTIONS)).count() == 0


def test_queue_field_missing_lists_value_fields(spark, make_config, tmp_path):
    write(tmp_path / "in/q/a.jsonl", queue_line("u1", "i1", "view", T0 * 1000) + "\n")
    cfg = make_config(sources={"q": {**QUEUE_SOURCE, "path": str(tmp_path / "in/q"),
                                     "fields": {**QUEUE_SOURCE["fields"], "item_id": "product"}}})
    with pytest.raises(SourceError, match=r"item_id -> 'product'. The files have: action, sku, ts, uid"):
        from interlake.ingest.readers import read_source

        read_source(spark, cfg.sources["q"], [str(tmp_path / "in/q/a.jsonl")])


def test_records_that_are_not_objects_are_quarantined_not_failing_the_source(spark, make_config, tmp_path):
    """One queue record whose value is a list (or a JSON line that is one) among objects: before 2026-11-30 the
    fields sample merged every record's schema into VARIANT, so the whole source failed, on every run, with "fields
    not found ... The files have: no fields". Now that record is quarantined and the others land."""
    def envelope(value):
        return json.dumps({"topic": "pixel", "partition": 0, "offset": 1, "timestamp": T0 * 1000, "value": value})

    write(tmp_path / "in/q/d.jsonl", "\n".join([
        envelope([{"uid": "u0"}]),                                  # a list first: the sample begins with it
        queue_line("u1", "i1", "view", T0 * 1000),
        envelope(json.dumps([1, 2])),                               # a string holding a list
        envelope(7),                                                # a number
        queue_line("u2", "i2", "view", T0 * 1000, as_string=True),
    ]) + "\n")
    write(tmp_path / "in/app/a.jsonl", "\n".join([
        "[1, 2]", json.dumps({"uid": "u3", "sku": "i3", "action": "view", "ts": T0 * 1000}), '"text"']) + "\n")
    cfg = make_config(sources={"q": {**QUEUE_SOURCE, "path": str(tmp_path / "in/q")},
                               "app": {**QUEUE_SOURCE, "format": "jsonl", "path": str(tmp_path / "in/app")}},
                      ingest={"max_quarantine_share": 0.7})
    result = ingest(spark, cfg, now=NOW)
    assert [(s.source, s.status, [(f.rows_read, f.rows_accepted, f.rows_quarantined) for f in s.files])
            for s in result.sources] == [("q", "ok", [(5, 2, 3)]), ("app", "ok", [(3, 1, 2)])]
    assert table_rows(spark, cfg.table_path(T.INTERACTIONS), ("user_id", "source")) == [
        ("u1", "q"), ("u2", "q"), ("u3", "app")]
    reasons = sorted((r.source, r.reasons[0]) for r in spark.read.format("delta").load(cfg.table_path(T.QUARANTINE))
                     .select("source", "reasons").collect())
    assert reasons == ([("app", "line is not a JSON object")] * 2
                       + [("q", "queue record value is not a JSON object")] * 3)


def test_files_without_a_record_to_map_are_taken_not_failing_the_source_as_a_wrong_config(spark, make_config,
                                                                                         tmp_path):
    """A day without interactions exported as ``[]`` (or ``{"data": []}``), a queue dump or JSON-lines file holding
    only a line break, or a JSON document cut short: alone in a run, before 2026-12-07 each failed its source with
    "fields not found … The files have: no fields. Fix sources.<name>.fields" on every run, about a right config.
    Now a file without records is taken with 0 rows read (as a CSV export of only its header is), and a broken
    document is quarantined with its text, or fails the quality gate by its share, naming the reason."""
    write(tmp_path / "in/docs/a.json", "[]\n")
    write(tmp_path / "in/page/a.json", json.dumps({"data": [], "next": None}))
    write(tmp_path / "in/lines/a.jsonl", "\n")
    write(tmp_path / "in/queue/a.jsonl", "\n\n")
    cut = json.dumps([{"uid": "u1", "sku": "i1", "action": "view", "ts": T0 * 1000}])[:-1] + ',\n{"uid": "u2", "sku":'
    write(tmp_path / "in/cut/a.json", cut)
    write(tmp_path / "in/cut2/a.json", cut)
    sources = {"docs": {**QUEUE_SOURCE, "format": "json"}, "page": {**QUEUE_SOURCE, "format": "json",
                                                                    "record_path": "data"},
               "lines": {**QUEUE_SOURCE, "format": "jsonl"}, "queue": QUEUE_SOURCE,
               "cut": {**QUEUE_SOURCE, "format": "json", "max_quarantine_share": 1.0},
               "cut2": {**QUEUE_SOURCE, "format": "json"}}
    cfg = make_config(sources={name: {**src, "path": str(tmp_path / "in" / name)} for name, src in sources.items()})
    result = ingest(spark, cfg, now=NOW)
    assert [(s.source, s.status) for s in result.sources] == [
        ("docs", "ok"), ("page", "ok"), ("lines", "ok"), ("queue", "ok"), ("cut", "ok"), ("cut2", "failed")]
    assert result.sources[-1].message.startswith(
        "quality gate failed, nothing written: 100.0% of 1 records were quarantined, above the maximum 20.0% "
        "(ingest.max_quarantine_share); most common reasons: 'file is not valid JSON' (1 row)")
    assert ledger_rows(spark, cfg.table_path(T.LEDGER)) == [
        ("cut", "a.json", 1, 0, 0, 1, "committed"), ("docs", "a.json", 0, 0, 0, 0, "committed"),
        ("lines", "a.jsonl", 0, 0, 0, 0, "committed"), ("page", "a.json", 0, 0, 0, 0, "committed"),
        ("queue", "a.jsonl", 0, 0, 0, 0, "committed")]
    assert [(r.source, r.raw, r.reasons) for r in spark.read.format("delta").load(cfg.table_path(T.QUARANTINE))
            .collect()] == [("cut", cut, ["file is not valid JSON"])]
    # a document without the record_path at all still says to fix the setting, and a record that is an object
    # without the fields still says to fix the fields
    write(tmp_path / "in/page/b.json", json.dumps({"items": []}))
    write(tmp_path / "in/docs/b.json", "[{}]")
    result = ingest(spark, cfg, now=NOW, sources=["page", "docs"])
    assert [s.message for s in result.sources] == [
        "source page: no document has records at 'data'; the documents have: items. Fix sources.page.record_path",
        "source docs: fields not found in the JSON records: user_id -> 'uid'; item_id -> 'sku'; interaction_type -> "
        "'action'; timestamp -> 'ts'. The files have: no fields. Fix sources.docs.fields"]


def test_a_mapped_field_that_is_an_object_is_a_one_line_error_naming_its_fields(spark, make_config, tmp_path):
    """``user_id: who`` where ``who`` is ``{"id": .., "name": ..}``: every id would have been the object's JSON text,
    stored without a word. Now the source fails before writing, naming the fields inside it (also for Parquet)."""
    write(tmp_path / "in/app/a.jsonl", json.dumps({"who": {"id": "u1", "name": "Ann"}, "sku": "i1", "kind": "view",
                                                   "tags": ["x"], "at": "2026-09-21T10:00:00Z"}) + "\n")
    fields = {"user_id": "who", "item_id": "sku", "interaction_type": "kind", "timestamp": "at"}
    cfg = make_config(sources={"app": {"format": "jsonl", "path": str(tmp_path / "in/app"),
                                       "timestamp_format": "iso8601", "fields": fields},
                               "app2": {"format": "jsonl", "path": str(tmp_path / "in/app"),
                                        "timestamp_format": "iso8601", "fields": {**fields, "user_id": "who.id",
                                                                                  "item_id": "tags"}}})
    result = ingest(spark, cfg, now=NOW)
    assert [s.message for s in result.sources] == [
        "source app: mapped fields are not single values in the JSON records: user_id -> 'who' is an object (its "
        "fields: who.id, who.name). Map a value inside it; fix sources.app.fields",
        "source app2: mapped fields are not single values in the JSON records: item_id -> 'tags' is a list. Map a "
        "value inside it; fix sources.app2.fields"]
    assert spark.read.format("delta").load(cfg.table_path(T.INTERACTIONS)).count() == 0
    spark.createDataFrame([(("u1", "Ann"), "i1", "view", T0 * 1000)],
                          "who STRUCT<id: STRING, name: STRING>, sku STRING, kind STRING, ms BIGINT") \
        .write.parquet(str(tmp_path / "in/pq"))
    pq = make_config(sources={"pq": {"format": "parquet", "path": str(tmp_path / "in/pq"),
                                     "timestamp_format": "epoch_ms", "fields": {**fields, "timestamp": "ms"}}})
    assert ingest(spark, pq, now=NOW).sources[0].message == (
        "source pq: mapped fields are not single values in the Parquet schema: user_id -> 'who' is an object (its "
        "fields: who.id, who.name). Map a value inside it; fix sources.pq.fields")


def test_an_id_that_is_an_object_or_a_list_in_some_records_only_is_quarantined_with_its_reason(spark, make_config,
                                                                                                tmp_path):
    """Before 2026-12-04 an id that was an object or a list in some records only (strings elsewhere) was stored as its
    JSON text: the user ``{"id":"u3"}``. Now such a record is quarantined, with every reason that applies; a string id
    that starts with a brace or a bracket still lands. A nested field whose parent is an object in some records and a
    list or a string in others was "not found" (the sample merged the records' schemas), failing the source for them:
    the objects' records now land and the others are quarantined; a path inside a list says so."""
    def line(uid, sku, ts=T0 * 1000, **more):
        return json.dumps({"uid": uid, "sku": sku, "action": "view", "ts": ts, **more})

    write(tmp_path / "in/app/a.jsonl", "\n".join([
        line("u1", "i1"), line("u2", "{3F2504E0-4F89}"), line("[u5]", "i5"),  # strings: they land
        line({"id": "u3"}, "i3"), line(["u4"], ["i4"], ts="x")]) + "\n")
    write(tmp_path / "in/q/d.jsonl", "\n".join([
        queue_line("u6", "i6", "view", T0 * 1000),
        queue_line({"id": "u7"}, "i7", "view", T0 * 1000),                # the value an object
        queue_line("u8", ["i8", "i9"], "view", T0 * 1000, as_string=True)])  # the value a string holding JSON
        + "\n")
    nested = {"user_id": "uid", "item_id": "items.sku", "interaction_type": "action", "timestamp": "ts"}
    write(tmp_path / "in/cart/c.jsonl", "\n".join([
        line("u10", None, items={"sku": "i10"}), line("u11", None, items=[{"sku": "i11"}]),
        line("u12", None, items="i12")]) + "\n")
    write(tmp_path / "in/lists/l.jsonl", line("u13", None, items=[{"sku": "i13"}]) + "\n")
    cfg = make_config(sources={"app": {**QUEUE_SOURCE, "format": "jsonl", "path": str(tmp_path / "in/app")},
                               "q": {**QUEUE_SOURCE, "path": str(tmp_path / "in/q")},
                               "cart": {**QUEUE_SOURCE, "format": "jsonl", "path": str(tmp_path / "in/cart"),
                                        "fields": nested},
                               "lists": {**QUEUE_SOURCE, "format": "jsonl", "path": str(tmp_path / "in/lists"),
                                         "fields": nested}},
                      ingest={"max_quarantine_share": 0.7})
    result = ingest(spark, cfg, now=NOW)
    assert [(s.source, s.status, [(f.rows_read, f.rows_accepted, f.rows_quarantined) for f in s.files])
            for s in result.sources] == [("app", "ok", [(5, 3, 2)]), ("q", "ok", [(3, 1, 2)]),
                                         ("cart", "ok", [(3, 1, 2)]), ("lists", "failed", [])]
    assert result.sources[3].message == (
        "source lists: fields not found in the JSON records: item_id -> 'items.sku' ('items' is a list in the files: "
        "fields inside a list are not read, a record is one interaction). The files have: action, items, sku, ts, "
        "uid. Fix sources.lists.fields")
    assert table_rows(spark, cfg.table_path(T.INTERACTIONS), ("user_id", "item_id", "source")) == [
        ("[u5]", "i5", "app"), ("u1", "i1", "app"), ("u10", "i10", "cart"), ("u2", "{3F2504E0-4F89}", "app"),
        ("u6", "i6", "q")]
    quarantined = sorted((r.source, tuple(r.reasons)) for r in spark.read.format("delta")
                         .load(cfg.table_path(T.QUARANTINE)).select("source", "reasons").collect())
    assert quarantined == [
        ("app", ("user_id '[\"u4\"]' is a JSON list, not a single value",
                 "item_id '[\"i4\"]' is a JSON list, not a single value",
                 "timestamp 'x' cannot be parsed as epoch_ms")),
        ("app", ("user_id '{\"id\":\"u3\"}' is a JSON object, not a single value",)),
        ("cart", ("item_id is missing or empty",)), ("cart", ("item_id is missing or empty",)),
        ("q", ("item_id '[\"i8\",\"i9\"]' is a JSON list, not a single value",)),
        ("q", ("user_id '{\"id\":\"u7\"}' is a JSON object, not a single value",))]


def test_an_unknown_source_name_is_a_config_error_and_a_name_given_twice_is_taken_once(spark, make_config, tmp_path):
    """``--source shop shop`` (or ``--source shop --source shop`` from a schedule's template) takes ``shop`` once:
    before 2026-12-05 the report gave its new file and then ``shop: no new files`` as a second source."""
    cfg = csv_cfg(make_config, tmp_path)
    with pytest.raises(ConfigError, match="no source named 'nope'; configured sources are shop"):
        ingest(spark, cfg, ["nope"])
    write(tmp_path / "in/shop/a.csv", f"customer,product,event,time\nu1,i1,VIEW,{T0}\n")
    result = ingest(spark, cfg, ["shop", "shop"], now=NOW)
    assert [(s.source, s.status, [f.rows_read for f in s.files]) for s in result.sources] == [("shop", "ok", [1])]
    from interlake.ingest.noop import nothing_new
    assert noop_statuses(nothing_new(cfg, ["shop", "shop"])) == [("shop", "no new files")]


def test_missing_source_folder_fails_that_source_only(spark, make_config, tmp_path):
    write(tmp_path / "in/shop/a.csv", f"customer,product,event,time\nu1,i1,VIEW,{T0}\n")
    cfg = make_config(sources={"shop": {**CSV_SOURCE, "path": str(tmp_path / "in/shop")},
                               "gone": {**CSV_SOURCE, "path": str(tmp_path / "in/gone")}})
    result = ingest(spark, cfg, now=NOW)
    assert [(s.source, s.status) for s in result.sources] == [("shop", "ok"), ("gone", "failed")]
    assert result.sources[1].message == (
        f"source folder {tmp_path / 'in/gone'} does not exist; create it or fix sources.gone.path") and not result.ok
    assert os.path.exists(cfg.table_path(T.INTERACTIONS))


def test_no_selected_source_folder_there_is_said_without_starting_spark(spark, make_config, tmp_path, write_yaml):
    """A run none of whose source folders exists (a mistyped path, an unmounted share, the packaged config run from
    another folder) took ~20 s to start Spark and created the empty ingest tables before failing each source. Now
    it fails at once with the job's own messages, nothing created; a run with any folder there runs the job."""
    import subprocess
    import sys

    from interlake.ingest.noop import no_source_folder

    from tests.conftest import BASE

    write(tmp_path / "in/shop/a.csv", f"customer,product,event,time\nu1,i1,VIEW,{T0}\n")
    sources = {"shop": {**CSV_SOURCE, "path": str(tmp_path / "in/shop")},
               "gone": {**CSV_SOURCE, "path": str(tmp_path / "in/gone")},
               "lost": {**CSV_SOURCE, "path": str(tmp_path / "in/lost")}}
    cfg = make_config(sources=sources)
    assert no_source_folder(cfg) is None and no_source_folder(cfg, ["shop", "gone"]) is None
    result = no_source_folder(cfg, ["gone", "lost"])
    assert [(s.source, s.status, s.message) for s in result.sources] == [
        (n, "failed", f"source folder {tmp_path / 'in' / n} does not exist; create it or fix sources.{n}.path")
        for n in ("gone", "lost")] and not result.ok
    assert not os.path.exists(cfg.lakehouse)
    conf = write_yaml({**BASE, "lakehouse": cfg.lakehouse, "sources": sources})
    run = subprocess.run([sys.executable, "-m", "interlake", "ingest", "--conf", conf, "--source", "gone"],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 1 and "jdk.incubator" not in run.stderr, run.stderr  # no JVM started
    assert run.stdout.splitlines()[0] == (
        f"gone: FAILED: source folder {tmp_path / 'in/gone'} does not exist; create it or fix sources.gone.path")
    assert "FAILED; 0 files" in run.stdout and not os.path.exists(cfg.lakehouse)
    # the job says the same of the folder it cannot find, beside a source that runs
    assert ingest(spark, cfg, ["shop", "gone"], now=NOW).sources[1].message == result.sources[0].message


def noop_statuses(result):
    return None if result is None else [(s.source, s.status) for s in result.sources]


def test_a_rerun_with_nothing_new_is_answered_without_spark(spark, make_config, tmp_path):
    """``nothing_new`` (what the CLI asks before starting Spark) agrees with the job: sure only when every file of
    every selected folder is in the ledger as it was taken, and None (run the job) for anything else."""
    from interlake.ingest import ledger as L
    from interlake.ingest.noop import nothing_new

    # a name Spark spells with URI escapes (space, brackets), with legal path characters (+ = ,) left as they are,
    # and whose brackets a Spark reader would take for a glob pattern
    write(tmp_path / "in/shop/export 1+a=b,c[1].csv", f"customer,product,event,time\nu1,i1,VIEW,{T0}\n")
    write(tmp_path / "in/q/a.jsonl", queue_line("u2", "i2", "view", T0 * 1000) + "\n")
    cfg = make_config(sources={"shop": {**CSV_SOURCE, "path": str(tmp_path / "in/shop")},
                               "q": {**QUEUE_SOURCE, "path": str(tmp_path / "in/q")}})
    assert nothing_new(cfg) is None  # no ledger yet: the job creates the tables
    first = ingest(spark, cfg, now=NOW)
    assert [(s.source, [(f.rows_read, f.rows_accepted) for f in s.files]) for s in first.sources] == [
        ("shop", [(1, 1)]), ("q", [(1, 1)])]  # the file with spaces, brackets, + = and a comma in its name too
    assert noop_statuses(nothing_new(cfg)) == [("shop", "no new files"), ("q", "no new files")]
    assert noop_statuses(nothing_new(cfg, ["q"])) == [("q", "no new files")]

    write(tmp_path / "in/q/b.jsonl", queue_line("u3", "i3", "view", T0 * 1000) + "\n")  # a new file
    assert nothing_new(cfg) is None and nothing_new(cfg, ["q"]) is None
    assert noop_statuses(nothing_new(cfg, ["shop"])) == [("shop", "no new files")]  # the other source has none
    assert [s.status for s in ingest(spark, cfg, now=NOW).sources] == ["no new files", "ok"]
    assert noop_statuses(nothing_new(cfg)) == [("shop", "no new files"), ("q", "no new files")]

    os.utime(tmp_path / "in/q/a.jsonl", (1_700_000_000, 1_700_000_000))  # a file changed since it was taken
    assert nothing_new(cfg, ["q"]) is None
    write(tmp_path / "in/q/_SUCCESS", "x")  # names Spark skips, and empty files, are skipped here too
    write(tmp_path / "in/q/.hidden.jsonl", "x")
    write(tmp_path / "in/q/c.jsonl._COPYING_", queue_line("u4", "i4", "view", T0 * 1000)[:30])  # being copied in
    write(tmp_path / "in/q/empty.jsonl", "")
    assert [f.rows_read for s in ingest(spark, cfg, ["q"], now=NOW).sources for f in s.files] == [1]
    assert noop_statuses(nothing_new(cfg, ["q"])) == [("q", "no new files")]

    # a run of a source left pending (it died): its recovery needs Spark
    L.upsert_pending(spark, cfg.table_path(T.LEDGER), [
        ("q", "file:/x/c.jsonl", 1, NOW, 1, 1, 0, 0, "dead-run", NOW, L.PENDING)])
    assert nothing_new(cfg, ["q"]) is None
    assert noop_statuses(nothing_new(cfg, ["shop"])) == [("shop", "no new files")]

    with pytest.raises(ConfigError, match="no source named 'nope'"):
        nothing_new(cfg, ["nope"])
    remote = make_config(lakehouse="s3a://bucket/lake", sources={"q": {**QUEUE_SOURCE, "path": str(tmp_path / "in/q")}})
    assert nothing_new(remote) is None  # not local: the job decides


def test_a_source_path_may_name_one_file(spark, make_config, tmp_path):
    """``path`` naming one export file (its folder holds others): that file is the source's only candidate, for the
    job (Hadoop lists a file as itself) and for the re-run answered without Spark (before 2026-12-01 that re-run
    started Spark every time); a change to the file is taken again."""
    from interlake.ingest.noop import nothing_new

    header = "customer,product,event,time\n"
    write(tmp_path / "in/shop/a.csv", f"{header}u1,i1,VIEW,{T0}\n")
    write(tmp_path / "in/shop/b.csv", f"{header}u2,i2,VIEW,{T0}\n")
    cfg = make_config(sources={"shop": {**CSV_SOURCE, "path": str(tmp_path / "in/shop/a.csv")}})
    first = ingest(spark, cfg, now=NOW)
    assert [(f.file.rsplit("/", 1)[-1], f.rows_accepted) for f in first.sources[0].files] == [("a.csv", 1)]
    assert noop_statuses(nothing_new(cfg)) == [("shop", "no new files")]
    write(tmp_path / "in/shop/a.csv", f"{header}u1,i1,VIEW,{T0}\nu3,i3,VIEW,{T0}\n")
    assert nothing_new(cfg) is None
    again = ingest(spark, cfg, now=NOW)
    assert [(f.rows_read, f.rows_accepted, f.rows_duplicate) for f in again.sources[0].files] == [(2, 1, 1)]
    assert table_rows(spark, cfg.table_path(T.INTERACTIONS), ("user_id",)) == [("u1",), ("u3",)]


def test_a_dry_run_reports_what_a_run_would_take_and_writes_nothing(spark, make_config, tmp_path, capsys):
    """``interlake ingest --dry-run``: a new source's mapping tried on its files before the first run. Before any
    table exists it creates none; an event of the first source found again in the second is a duplicate, as a run
    stores it; after a run it classifies against the stored events (an overlapping file's duplicates), changes no
    table, and the real runs report the same counts."""
    from interlake.cli import build_parser
    from interlake.ingest.pipeline import print_report

    header = "customer,product,event,time\n"
    write(tmp_path / "in/shop/a.csv", f"{header}u1,i1,VIEW,{T0}\nu2,i2,VIEW,{T0}\n,i3,VIEW,{T0}\n")
    write(tmp_path / "in/q/a.jsonl", queue_line("u1", "i1", "view", T0 * 1000) + "\n")  # shop's first event
    cfg = make_config(sources={"shop": {**CSV_SOURCE, "path": str(tmp_path / "in/shop")},
                               "q": {**QUEUE_SOURCE, "path": str(tmp_path / "in/q")}},
                      ingest={"max_quarantine_share": 0.5})

    def counts(result):
        return [(s.status, [(f.rows_read, f.rows_accepted, f.rows_duplicate, f.rows_quarantined) for f in s.files])
                for s in result.sources]

    dry = ingest(spark, cfg, now=NOW, dry_run=True)
    assert counts(dry) == [("dry run", [(3, 2, 0, 1)]), ("dry run", [(1, 0, 1, 0)])]
    assert not os.path.exists(tmp_path / "lake")  # no table, no ledger, no quality report
    print_report(dry)
    out = capsys.readouterr().out.splitlines()
    assert out[-2] == "shop: most common quarantine reasons: 'user_id is missing or empty' (1 row)"
    assert out[-1].startswith("ingest dry run ") and out[-1].endswith(
        ": ok, nothing written; 2 files, 4 read = 2 accepted + 1 duplicate + 1 quarantined")

    assert counts(ingest(spark, cfg, now=NOW)) == [("ok", [(3, 2, 0, 1)]), ("ok", [(1, 0, 1, 0)])]
    write(tmp_path / "in/shop/b.csv", f"{header}u2,i2,VIEW,{T0}\nu4,i4,VIEW,{T0}\n")  # overlaps a.csv
    versions = {name: spark.sql(f"DESCRIBE HISTORY delta.`{cfg.table_path(name)}`").count()
                for name in (T.INTERACTIONS, T.QUARANTINE, T.LEDGER)}
    dry = ingest(spark, cfg, ["shop"], now=NOW, dry_run=True)
    assert [(f.file.rsplit("/", 1)[-1], f.rows_accepted, f.rows_duplicate) for f in dry.sources[0].files] == [
        ("b.csv", 1, 1)]
    assert {name: spark.sql(f"DESCRIBE HISTORY delta.`{cfg.table_path(name)}`").count()
            for name in versions} == versions
    real = ingest(spark, cfg, ["shop"], now=NOW)
    assert [(f.rows_accepted, f.rows_duplicate) for f in real.sources[0].files] == [(1, 1)]
    assert build_parser().parse_args(["ingest", "--dry-run"]).dry_run


def test_nothing_new_defers_to_the_job_when_it_cannot_be_sure(spark, make_config, tmp_path):
    from interlake.ingest.noop import ledger_rows, nothing_new

    write(tmp_path / "in/shop/a.csv", f"customer,product,event,time\nu1,i1,VIEW,{T0}\n")
    cfg = csv_cfg(make_config, tmp_path)
    assert ingest(spark, cfg, now=NOW).ok
    assert noop_statuses(nothing_new(cfg)) == [("shop", "no new files")]
    assert [(r["source"], r["file"].rsplit("/", 1)[-1], r["status"]) for r in ledger_rows(
        cfg.table_path(T.LEDGER))] == [("shop", "a.csv", "committed")]
    # a symbolic link in the folder: Hadoop and Python may not see the same size and time
    os.symlink(tmp_path / "in/shop/a.csv", tmp_path / "in/shop/link.csv")
    assert nothing_new(cfg) is None
    os.remove(tmp_path / "in/shop/link.csv")
    assert noop_statuses(nothing_new(cfg)) == [("shop", "no new files")]
    # a ledger whose data files alone are not its rows (deletion vectors): only Spark reads it right
    spark.sql(f"ALTER TABLE delta.`{cfg.table_path(T.LEDGER)}` "
              "SET TBLPROPERTIES ('delta.enableDeletionVectors' = true)")
    assert ledger_rows(cfg.table_path(T.LEDGER)) is None and nothing_new(cfg) is None


def test_yaml_booleans_and_yes_no_in_a_type_map_match_the_files_text(spark, tmp_path):
    """A YAML key `true` is the text `true` the files hold (not Python's `True`), and `yes` / `no` stay text
    (YAML 1.2), so a type map over boolean or yes/no values matches; where Spark reads a value (reader options,
    spark.conf) `true` and YAML 1.1's `yes` / `on` reach it as `true`, as Spark spells booleans."""
    from interlake.config import load_config

    write(tmp_path / "in/likes/a.jsonl", "\n".join(json.dumps(r) for r in [
        {"u": "u1", "i": "i1", "liked": True, "t": T0}, {"u": "u2", "i": "i2", "liked": False, "t": T0}]) + "\n")
    write(tmp_path / "in/survey/a.csv", f"u,i,answer,t\nu3,i3,yes,{T0}\nu4,i4,no,{T0}\n")
    fields = "{user_id: u, item_id: i, interaction_type: %s, timestamp: t}"
    (tmp_path / "conf.yaml").write_text(f"""
lakehouse: {tmp_path / "lake"}
spark: {{master: "local[2]", conf: {{spark.sql.shuffle.partitions: 2, spark.sql.adaptive.enabled: true,
                                     spark.sql.ansi.enabled: on, spark.sql.adaptive.skewJoin.enabled: No}}}}
interaction_types: {{view: {{weight: 1}}, add_to_cart: {{weight: 4}}, purchase: {{weight: 8}}}}
sources:
  likes:
    format: jsonl
    path: {tmp_path / "in/likes"}
    fields: {fields % "liked"}
    interaction_type_map: {{true: add_to_cart, false: view}}
    timestamp_format: epoch_s
  survey:
    format: csv
    path: {tmp_path / "in/survey"}
    options: {{header: yes}}
    fields: {fields % "answer"}
    interaction_type_map: {{yes: purchase, no: view}}
    timestamp_format: epoch_s
""")
    cfg = load_config(str(tmp_path / "conf.yaml"))
    assert dict(cfg.sources["likes"].interaction_type_map) == {"true": "add_to_cart", "false": "view"}
    assert dict(cfg.sources["survey"].interaction_type_map) == {"yes": "purchase", "no": "view"}
    assert cfg.sources["survey"].options["header"] == "true"
    assert {k: v for k, v in cfg.spark.conf.items() if k != "spark.sql.shuffle.partitions"} == {
        "spark.sql.adaptive.enabled": "true", "spark.sql.ansi.enabled": "true",
        "spark.sql.adaptive.skewJoin.enabled": "false"}
    assert ingest(spark, cfg, now=NOW).ok
    assert table_rows(spark, cfg.table_path(T.INTERACTIONS)) == [
        ("u1", "i1", "add_to_cart", ts(T0), "likes"), ("u2", "i2", "view", ts(T0), "likes"),
        ("u3", "i3", "purchase", ts(T0), "survey"), ("u4", "i4", "view", ts(T0), "survey")]


def test_after_a_config_fix_retake_quarantined_takes_the_files_again_and_replaces_their_quarantine_rows(
        spark, make_config, tmp_path):
    """``interlake ingest --retake-quarantined``: a file whose records were quarantined for a type the map lacked is
    unchanged, so a run after the fix takes nothing; the retake takes it (and not the clean file) again, adds the
    records valid now as new events, counts the stored ones as duplicates and quarantines the still-bad one again in
    place of the file's three earlier rows. Retaking again changes no table but the run ids; a dry run writes
    nothing; the answer without Spark agrees."""
    from interlake.cli import build_parser
    from interlake.ingest.noop import nothing_new

    header = "customer,product,event,time\n"
    write(tmp_path / "in/shop/a.csv", f"{header}u1,i1,VIEW,{T0}\nu2,i2,WISH,{T0}\n,i3,VIEW,{T0}\nu4,i4,WISH,{T0}\n")
    write(tmp_path / "in/shop/b.csv", f"{header}u5,i5,VIEW,{T0}\n")
    source = {**CSV_SOURCE, "path": str(tmp_path / "in/shop"), "max_quarantine_share": 0.9}
    before = make_config(sources={"shop": source})
    fixed = make_config(sources={"shop": {**source, "interaction_type_map": {
        **CSV_SOURCE["interaction_type_map"], "WISH": "add_to_cart"}}})

    def counts(result):
        return [(s.status, [(f.file.rsplit("/", 1)[-1], f.rows_read, f.rows_accepted, f.rows_duplicate,
                             f.rows_quarantined) for f in s.files]) for s in result.sources]

    def quarantine():
        return sorted((r.file.rsplit("/", 1)[-1], r.raw, tuple(r.reasons), r.run_id) for r in
                      spark.read.format("delta").load(fixed.table_path(T.QUARANTINE)).collect())

    assert counts(ingest(spark, before, now=NOW)) == [("ok", [("a.csv", 4, 1, 0, 3), ("b.csv", 1, 1, 0, 0)])]
    assert len(quarantine()) == 3
    assert counts(ingest(spark, fixed, now=NOW + dt.timedelta(hours=1))) == [("no new files", [])]
    assert nothing_new(fixed) is not None and nothing_new(fixed, retake_quarantined=True) is None

    history = {t: spark.sql(f"DESCRIBE HISTORY delta.`{fixed.table_path(t)}`").count()
               for t in (T.INTERACTIONS, T.QUARANTINE, T.LEDGER)}
    dry = ingest(spark, fixed, now=NOW + dt.timedelta(hours=2), dry_run=True, retake_quarantined=True)
    assert counts(dry) == [("dry run", [("a.csv", 4, 2, 1, 1)])]
    assert {t: spark.sql(f"DESCRIBE HISTORY delta.`{fixed.table_path(t)}`").count() for t in history} == history

    retake = ingest(spark, fixed, now=NOW + dt.timedelta(hours=3), retake_quarantined=True)
    assert counts(retake) == [("ok", [("a.csv", 4, 2, 1, 1)])]
    assert table_rows(spark, fixed.table_path(T.INTERACTIONS), ("user_id", "interaction_type")) == [
        ("u1", "view"), ("u2", "add_to_cart"), ("u4", "add_to_cart"), ("u5", "view")]
    bad_row = f'{{"customer":null,"product":"i3","event":"VIEW","time":"{T0}"}}'
    assert quarantine() == [("a.csv", bad_row, ("user_id is missing or empty",), retake.run_id)]

    again = ingest(spark, fixed, now=NOW + dt.timedelta(hours=4), retake_quarantined=True)
    assert counts(again) == [("ok", [("a.csv", 4, 0, 3, 1)])]
    assert quarantine() == [("a.csv", bad_row, ("user_id is missing or empty",), again.run_id)]
    assert len(table_rows(spark, fixed.table_path(T.INTERACTIONS))) == 4
    assert ledger_rows(spark, fixed.table_path(T.LEDGER)) == [
        ("shop", "a.csv", 4, 0, 3, 1, "committed"), ("shop", "a.csv", 4, 1, 0, 3, "committed"),
        ("shop", "a.csv", 4, 2, 1, 1, "committed"), ("shop", "b.csv", 1, 1, 0, 0, "committed")]
    assert build_parser().parse_args(["ingest", "--retake-quarantined"]).retake_quarantined


def test_a_record_with_a_key_given_twice_names_the_key_and_the_setting_that_reads_it(spark, make_config, tmp_path):
    """Python and JavaScript read ``{"customer":"u1",…,"customer":"u1"}`` with the last value; Spark's parser refuses
    it. Before 2026-12-02 such a line, queue record or queue value was quarantined as "not valid JSON", which it looks
    like it is not: the reason now names the key and the setting; a key repeated deeper down keeps the general
    reason. With the setting, the same records land with their last value."""
    def rec(uid, **extra):
        return json.dumps({"customer": uid, "product": "i1", "event": "VIEW", "time": T0, **extra})[:-1]

    twice = rec("u1") + ', "customer": "u1b"}'
    nested = rec("u2") + ', "meta": {"a": 1, "a": 2}}'
    value_twice = json.dumps({"offset": 1, "value": json.dumps(
        {"uid": "u3", "sku": "i1", "action": "view", "ts": T0 * 1000})[:-1] + ', "sku": "i3"}'})
    envelope_twice = queue_line("u4", "i1", "view", T0 * 1000)[:-1] + ', "offset": 9}'
    write(tmp_path / "in/lines/a.jsonl", f"{twice}\n{nested}\n{rec('u5')}}}\n")
    line = queue_line("u6", "i1", "view", T0 * 1000)
    write(tmp_path / "in/q/a.jsonl", f"{value_twice}\n{envelope_twice}\n{line}\n")
    sources = {"lines": {**CSV_SOURCE, "format": "jsonl", "path": str(tmp_path / "in/lines")},
               "q": {**QUEUE_SOURCE, "path": str(tmp_path / "in/q")}}
    cfg = make_config(sources=sources, ingest={"max_quarantine_share": 1.0})
    assert ingest(spark, cfg, now=NOW).ok
    setting = ("twice (Spark reads no JSON object with a repeated key; spark.conf "
               "spark.sql.variant.allowDuplicateKeys: true reads its last value, as most JSON readers do)")
    quarantine = spark.read.format("delta").load(cfg.table_path(T.QUARANTINE))
    assert sorted((r.source, r.raw, r.reasons) for r in quarantine.collect()) == sorted([
        ("lines", twice, [f"line has the key 'customer' {setting}"]),
        ("lines", nested, ["line is not valid JSON"]),
        ("q", envelope_twice, [f"line has the key 'offset' {setting}"]),
        ("q", value_twice, [f"queue record value has the key 'sku' {setting}"])])
    assert table_rows(spark, cfg.table_path(T.INTERACTIONS), ("user_id",)) == [("u5",), ("u6",)]

    again = make_config(lakehouse=str(tmp_path / "lake2"), sources=sources, ingest={"max_quarantine_share": 1.0})
    spark.conf.set("spark.sql.variant.allowDuplicateKeys", "true")
    try:
        assert ingest(spark, again, now=NOW).ok
    finally:
        spark.conf.unset("spark.sql.variant.allowDuplicateKeys")
    assert table_rows(spark, again.table_path(T.INTERACTIONS), ("user_id", "item_id")) == [
        ("u1b", "i1"), ("u2", "i1"), ("u3", "i3"), ("u4", "i1"), ("u5", "i1"), ("u6", "i1")]

    # every record repeats a key (an exporter that writes a field twice): the source says so, not "no fields"
    write(tmp_path / "in/all/a.jsonl", f"{twice}\n")
    write(tmp_path / "in/allq/a.jsonl", f"{value_twice}\n")
    every = make_config(lakehouse=str(tmp_path / "lake3"), sources={
        "all": {**CSV_SOURCE, "format": "jsonl", "path": str(tmp_path / "in/all")},
        "allq": {**QUEUE_SOURCE, "path": str(tmp_path / "in/allq")}})
    fix = ("which Spark's JSON parser refuses: set spark.conf spark.sql.variant.allowDuplicateKeys: true to read its "
           "last value, as most JSON readers do")
    assert [s.message for s in ingest(spark, every, now=NOW).sources] == [
        f"source all: the lines repeat a key ('customer' in {twice[:80]!r}), {fix}",
        f"source allq: the queue records' values repeat a key ('sku' in {json.loads(value_twice)['value'][:80]!r}), "
        f"{fix}"]


def test_a_json_document_with_a_key_given_twice_in_one_record_quarantines_that_record_not_the_file(
        spark, make_config, tmp_path):
    """Spark's parser refuses a whole document when one of its records has a key twice; before 2026-12-03 the file
    was quarantined as one row, "file is not valid JSON", every good record in it with it (and the source's share of
    quarantined rows failed the gate). Now the document's records are split by a parser that keeps repeated keys,
    at ``record_path`` too: the good records land, the one record is quarantined with the key named. A document that
    is no JSON at all stays one row; a one-record document with a key twice names it; a file whose every record
    repeats a key fails the source saying so."""
    rec = {"uid": "u1", "sku": "i1", "action": "view", "ts": "2026-09-21T10:00:00Z"}
    twice = json.dumps(rec, separators=(",", ":"))[:-1] + ',"uid":"u1b"}'
    good = [json.dumps({**rec, "uid": u}) for u in ("u2", "u3")]
    write(tmp_path / "in/docs/a.json", f"[{twice}, {good[0]}, \"text\", {good[1]}]")
    write(tmp_path / "in/docs/b.json", twice)
    write(tmp_path / "in/docs/c.json", f"[{good[0]}, {{\"uid\": ")
    write(tmp_path / "in/api/p1.json", f'{{"data": [{twice}, {json.dumps({**rec, "uid": "u4"})}], "next": "p2"}}')
    docs = {"format": "json", "path": str(tmp_path / "in/docs"), "timestamp_format": "iso8601",
            "fields": {"user_id": "uid", "item_id": "sku", "interaction_type": "action", "timestamp": "ts"}}
    cfg = make_config(sources={"docs": docs, "api": {**docs, "path": str(tmp_path / "in/api"), "record_path": "data"}},
                      ingest={"max_quarantine_share": 1.0})
    result = ingest(spark, cfg, now=NOW)
    assert result.ok
    assert [(f.file.rsplit("/", 1)[-1], f.rows_read, f.rows_accepted, f.rows_quarantined)
            for s in result.sources for f in s.files] == [
        ("a.json", 4, 2, 2), ("b.json", 1, 0, 1), ("c.json", 1, 0, 1), ("p1.json", 2, 1, 1)]
    setting = ("twice (Spark reads no JSON object with a repeated key; spark.conf "
               "spark.sql.variant.allowDuplicateKeys: true reads its last value, as most JSON readers do)")
    assert table_rows(spark, cfg.table_path(T.QUARANTINE), ("source", "raw", "reasons")) == sorted([
        ("docs", twice, [f"record has the key 'uid' {setting}"]),
        ("docs", "text", ["record is not a JSON object"]),
        ("docs", twice, [f"file has the key 'uid' {setting}"]),
        ("docs", f"[{good[0]}, {{\"uid\": ", ["file is not valid JSON"]),
        ("api", twice, [f"record has the key 'uid' {setting}"])])
    assert table_rows(spark, cfg.table_path(T.INTERACTIONS), ("user_id", "source")) == [
        ("u2", "docs"), ("u3", "docs"), ("u4", "api")]

    write(tmp_path / "in/all/a.json", f"[{twice}, {twice}]")
    every = make_config(lakehouse=str(tmp_path / "lake2"), sources={"all": {**docs, "path": str(tmp_path / "in/all")}})
    assert [s.message for s in ingest(spark, every, now=NOW).sources] == [
        f"source all: the records repeat a key ('uid' in {twice[:80]!r}), which Spark's JSON parser refuses: set "
        "spark.conf spark.sql.variant.allowDuplicateKeys: true to read its last value, as most JSON readers do"]

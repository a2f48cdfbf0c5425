"""Helpers for ingestion tests: write small source files, read tables back as sorted rows."""

from __future__ import annotations

import json
import os
from pathlib import Path

from pyspark.sql import functions as F

VOCAB = ("view", "add_to_cart", "purchase")
CSV_SOURCE = {"format": "csv", "options": {"header": "true"},
              "fields": {"user_id": "customer", "item_id": "product", "interaction_type": "event", "timestamp": "time"},
              "interaction_type_map": {"VIEW": "view", "CART": "add_to_cart", "BUY": "purchase"},
              "timestamp_format": "epoch_s"}
QUEUE_SOURCE = {"format": "queue_dump",
                "fields": {"user_id": "uid", "item_id": "sku", "interaction_type": "action", "timestamp": "ts"},
                "timestamp_format": "epoch_ms"}
T0 = 1_790_000_000  # 2026-09-21 UTC, epoch seconds


def write(path: Path, text: str, mtime: float | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return path


def queue_line(uid, sku, action, ts_ms, *, offset=0, as_string=False, extra=None):
    value = {"uid": uid, "sku": sku, "action": action, "ts": ts_ms, **(extra or {})}
    if uid is None:
        value.pop("uid")
    return json.dumps({"topic": "pixel", "partition": 0, "offset": offset, "timestamp": ts_ms, "key": uid,
                       "value": json.dumps(value) if as_string else value})


def table_rows(spark, path, cols=("user_id", "item_id", "interaction_type", "event_ts", "source")):
    return sorted(tuple(r) for r in spark.read.format("delta").load(path).select(*cols).collect())


def ledger_rows(spark, path):
    df = spark.read.format("delta").load(path).select(
        "source", F.element_at(F.split("file", "/"), -1).alias("name"), "rows_read", "rows_accepted",
        "rows_duplicate", "rows_quarantined", "status")
    return sorted(tuple(r) for r in df.collect())

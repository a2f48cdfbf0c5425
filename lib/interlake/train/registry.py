"""Model runs: the ``model_runs`` table, artifacts under ``<lakehouse>/_models/<version>/`` and ``interlake models``."""

from __future__ import annotations

import json
import os

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from interlake.analyst.sql import format_table
from interlake.config import Config
from interlake.fs import exists
from interlake.schemas import tables as T
from interlake.tables.catalog import lakehouse_tables
from interlake.tables.without_spark import local_rows


def current_published(spark: SparkSession, cfg: Config) -> dict | None:
    """The newest published run, or None."""
    path = cfg.table_path(T.MODEL_RUNS)
    if not exists(spark, path + "/_delta_log"):
        return None
    row = (spark.read.format("delta").load(path).where(F.col("published"))
           .orderBy(F.desc("trained_at")).limit(1).collect())
    return row[0].asDict() if row else None


def model_runs(spark: SparkSession | None, cfg: Config, last: int = 10) -> list[dict] | None:
    """The ``last`` runs, oldest first; None if there is no ``model_runs`` table. ``spark`` None: read a local
    lakehouse's table without Spark (``interlake models`` then answers in about a second), ``[]`` when a local
    lakehouse has other tables but no such one (ingested, never trained), and None if that is not certain
    (tables.without_spark.local_rows; a path missing here may be on the cluster's default filesystem): ask again
    with a session."""
    path = cfg.table_path(T.MODEL_RUNS)
    if spark is None:
        if "://" not in path and not os.path.exists(os.path.join(path, "_delta_log")):
            return [] if lakehouse_tables(cfg.lakehouse) else None
        rows = local_rows(path)
        if rows is None:
            return None
        runs = sorted(rows, key=lambda r: r["trained_at"], reverse=True)[:last]
    elif not exists(spark, path + "/_delta_log"):
        return None
    else:
        runs = [r.asDict() for r in spark.read.format("delta").load(path).orderBy(F.desc("trained_at")).limit(last)
                .collect()]
    return runs[::-1]


def _param_text(value):
    """A parameter as a person reads it: the type weights ``view=1, add_to_cart=4, purchase=8``, not a dict."""
    if isinstance(value, dict):
        return ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in value.items())
    return value


def print_models(runs: list[dict] | None) -> None:
    if not runs:
        print("no model runs yet: run `interlake train`")
        return
    keys = sorted({k for r in runs for k in (r["metrics"] or {})})
    params = sorted({k for r in runs for k in json.loads(r["params"] or "{}")})
    header = ["", *[r["model_version"] for r in runs]]
    rows = [["trained_at", *[r["trained_at"].strftime("%Y-%m-%d %H:%M") for r in runs]],
            ["data_version", *[r["data_version"] for r in runs]],
            ["published", *["yes" if r["published"] else "no" for r in runs]]]
    rows += [[f"metric {k}", *[round((r["metrics"] or {}).get(k, float("nan")), 4) for r in runs]] for k in keys]
    rows += [[f"param {p}", *[_param_text(json.loads(r["params"] or "{}").get(p)) for r in runs]] for p in params]
    print(format_table(header, rows))
    for r in runs:
        if r["reason"]:
            print(f"{r['model_version']}: {r['reason']}")

"""The analyst views, as Spark -> pandas frames: shared by the report, the notebooks and anyone in a shell."""

from __future__ import annotations

import pandas as pd
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from interlake.config import Config, duration_seconds
from interlake.fs import exists
from interlake.ingest.validate import reason_kind
from interlake.schemas import tables as T


def _df(spark: SparkSession, cfg: Config, name: str):
    path = cfg.table_path(name)
    return spark.read.format("delta").load(path) if exists(spark, path + "/_delta_log") else None


def daily_volume(spark: SparkSession, cfg: Config, every_day: bool = False) -> pd.DataFrame:
    """Interactions per day and type: a row per (day, type) with interactions.

    ``every_day=True``: every day from the first to the last and every type (the vocabulary's, in its order, then any
    other the table holds), a day or type without interactions as ``n`` 0, so a plot shows a day without data (an
    export that never came) as 0 rather than a line from the day before to the day after.
    """
    df = _df(spark, cfg, T.INTERACTIONS)
    if df is None:
        return pd.DataFrame(columns=["event_date", "interaction_type", "n"])
    rows = (df.groupBy("event_date", "interaction_type").agg(F.count(F.lit(1)).alias("n"))
            .orderBy("event_date", "interaction_type").toPandas())
    if not every_day or rows.empty:
        return rows
    days = pd.date_range(min(rows["event_date"]), max(rows["event_date"]), freq="D").date
    types = list(cfg.interaction_types) + sorted(set(rows["interaction_type"]) - set(cfg.interaction_types))
    every = pd.MultiIndex.from_product([days, types], names=["event_date", "interaction_type"])
    full = rows.set_index(["event_date", "interaction_type"]).reindex(every, fill_value=0).reset_index()
    full["n"] = full["n"].astype("int64")
    return full


def funnel(spark: SparkSession, cfg: Config) -> pd.DataFrame:
    """Users reaching each step: each interaction type of the vocabulary, in the config's order."""
    df = _df(spark, cfg, T.INTERACTIONS)
    if df is None:
        return pd.DataFrame(columns=["step", "users"])
    users = df.groupBy("interaction_type").agg(F.countDistinct("user_id").alias("users")).toPandas()
    order = list(cfg.interaction_types)
    steps = users.set_index("interaction_type").reindex(order, fill_value=0).reset_index().rename(
        columns={"interaction_type": "step"})
    steps["users"] = steps["users"].astype("int64")  # (empty, the column is an object)
    return steps


def quarantine_reasons(spark: SparkSession, cfg: Config) -> pd.DataFrame:
    df = _df(spark, cfg, T.QUARANTINE)
    if df is None:
        return pd.DataFrame(columns=["reason", "n"])
    exploded = df.select("source", F.explode("reasons").alias("reason"))
    generic = reason_kind(F.col("reason"))  # one row per kind of reason, not per bad value
    return (exploded.select("source", generic.alias("reason")).groupBy("source", "reason")
            .agg(F.count(F.lit(1)).alias("n"))
            .orderBy(F.desc("n")).toPandas())


def model_history(spark: SparkSession, cfg: Config, k: int | None = None) -> pd.DataFrame:
    """Every training run's nDCG and the popularity baseline's, at the k the run measured (``train.k`` then: a run
    trained with ``k: 5`` has ``ndcg@5``, not ``ndcg@10``); ``k``: only runs measured at that k."""
    df = _df(spark, cfg, T.MODEL_RUNS)
    if df is None:
        return pd.DataFrame(columns=["model_version", "trained_at", "published", "k", "ndcg", "baseline_ndcg"])
    key = F.element_at(F.map_keys(F.map_filter("metrics", lambda k_, _: k_.startswith("ndcg@"))), 1)  # "ndcg@5"
    runs = df.select("model_version", "trained_at", "published",
                     F.element_at(F.split(key, "@"), 2).cast("int").alias("k"), F.col("metrics")[key].alias("ndcg"),
                     F.col("metrics")[F.concat(F.lit("baseline_"), key)].alias("baseline_ndcg"))
    if k is not None:
        runs = runs.where(F.col("k") == k)
    return runs.orderBy("trained_at").toPandas()


def similar_examples(spark: SparkSession, cfg: Config, n_items: int = 5) -> pd.DataFrame:
    df = _df(spark, cfg, T.ITEM_SIMILARITY)
    if df is None:
        return pd.DataFrame(columns=["item_id", "similar_item_id", "score", "rank", "co_users"])
    top = [r[0] for r in df.groupBy("item_id").agg(F.sum("co_users").alias("c")).orderBy(F.desc("c"))
           .limit(n_items).collect()]
    return df.where(F.col("item_id").isin(top) & (F.col("rank") <= 5)).orderBy("item_id", "rank").toPandas()


def trending_timeline(spark: SparkSession, cfg: Config, item_id: str | None = None,
                      every_window: bool = False) -> pd.DataFrame:
    """One item's windows (counts vs expected, surges marked): the item with the highest score by default.

    ``trending_items`` holds a row only for a window in which the item was counted, so a line drawn through its rows
    joins two windows days apart as if the item had been counted all along. ``every_window=True`` gives every window
    from the item's first to its last (``trending.slide`` apart, else ``trending.window``), a window without a row as
    0 interactions, not trending, with ``expected`` and ``score`` missing (the query scores only counted windows), so
    a plot shows the quiet hours as quiet and breaks the expected line there. The report and the notebook plot it so.
    """
    columns = ["window_start", "item_id", "interactions", "expected", "score", "is_trending"]
    df = _df(spark, cfg, T.TRENDING_ITEMS)
    if df is None:
        return pd.DataFrame(columns=columns)
    if item_id is None:
        top = df.orderBy(F.desc("score"), "item_id").select("item_id").first()  # ties: the same item each time
        if top is None:
            return pd.DataFrame(columns=columns)
        item_id = top[0]
    rows = df.where(F.col("item_id") == item_id).select(*columns).orderBy("window_start").toPandas()
    if not every_window or len(rows) < 2:
        return rows
    step = duration_seconds(cfg.trending.slide or cfg.trending.window, "trending.window")
    grid = pd.date_range(rows["window_start"].iloc[0], rows["window_start"].iloc[-1], freq=pd.Timedelta(seconds=step))
    # the rows' own starts too: windows of an earlier `trending.window` are not on today's grid, and none is dropped
    starts = grid.union(pd.DatetimeIndex(rows["window_start"]))
    full = rows.set_index("window_start").reindex(starts)
    full.index.name = "window_start"
    quiet = full["item_id"].isna()
    full["item_id"] = item_id
    full["interactions"] = full["interactions"].fillna(0).astype("int64")
    full["is_trending"] = full["is_trending"].where(~quiet, False).astype(bool)
    return full.reset_index()[columns]

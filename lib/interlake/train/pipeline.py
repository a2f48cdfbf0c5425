"""``interlake train``: affinity -> time holdout evaluation vs popularity -> ALS on all data -> LSH similarity ->
promotion gate -> artifacts and gold tables.

Example:
    >>> result = train(spark, load_config("conf/local.yaml"))
    >>> print_train_summary(result)
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import subprocess
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime

from delta.tables import DeltaTable
from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

import interlake
from interlake.clock import utc_now
from interlake.config import Config, local_folder
from interlake.errors import TrainingError
from interlake.fs import delete_tree, exists, write_text
from interlake.locks import exclusive
from interlake.log import progress
from interlake.schemas import columns as C
from interlake.schemas import tables as T
from interlake.tables.append_only import refuse_append_only
from interlake.tables.catalog import lakehouse_tables
from interlake.tables.conflicts import with_conflict_retry
from interlake.tables.interactions import check_interactions_columns, ensure_table
from interlake.train.affinity import affinity
from interlake.train.metrics import ranking_metrics
from interlake.train.model import ITEM_IDX, USER_IDX, as_lists, fit_als, fit_indexes, index, popularity, recommend
from interlake.train.registry import current_published
from interlake.train.similarity import exact_similarity, fit_lsh, lsh_similarity, normalize, recall_against_exact
from interlake.train.split import time_holdout

log = logging.getLogger(__name__)
MAX_EXTRA = 200  # extra candidates per user so that k remain after removing seen items


@dataclass
class TrainResult:
    model_version: str
    data_version: int
    published: bool
    reason: str
    metrics: dict[str, float]
    artifact_path: str
    examples: list[dict] = field(default_factory=list)


def _git_commit() -> str | None:
    try:
        root = os.path.dirname(os.path.abspath(interlake.__file__))
        out = subprocess.run(["git", "-C", root, "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5)
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def no_interactions_here(cfg: Config) -> bool:
    """True when the lakehouse has tables on this disk but no ``interactions`` (the trending job's alone, say):
    ``interlake train`` says so before starting Spark (~10 s). Only then is it certain, as for ``interlake models``:
    a path without tables here may be on a cluster's default filesystem (HDFS) even where the runs' lock files are
    local; a URI other than ``file:`` asks Spark."""
    local = local_folder(cfg.lakehouse)
    if local is None:
        return False
    tables = lakehouse_tables(local)
    return bool(tables) and T.INTERACTIONS not in tables


def no_interactions_error(cfg: Config) -> TrainingError:
    return TrainingError(f"no interactions table at {cfg.table_path(T.INTERACTIONS)}: run `interlake ingest` first")


def read_interactions(spark: SparkSession, cfg: Config, data_version: int | None) -> tuple[DataFrame, int]:
    path = cfg.table_path(T.INTERACTIONS)
    if not exists(spark, path + "/_delta_log"):
        raise no_interactions_error(cfg)
    latest = DeltaTable.forPath(spark, path).history(1).first()["version"]
    version = latest if data_version is None else data_version
    if version < 0 or version > latest:
        raise TrainingError(f"--data-version {version}: interactions has versions 0..{latest}")
    df = spark.read.format("delta").option("versionAsOf", version).load(path)
    check_interactions_columns(path, df.columns)
    return df, int(version)


def co_users(pairs: DataFrame, interactions: DataFrame) -> DataFrame:
    """Add ``co_users``: distinct users who interacted with both items of each pair."""
    ui = interactions.select(C.USER_ID, C.ITEM_ID).distinct()
    a = ui.select(F.col(C.ITEM_ID).alias("item_id"), F.col(C.USER_ID).alias("u"))
    b = ui.select(F.col(C.ITEM_ID).alias("similar_item_id"), F.col(C.USER_ID).alias("u"))
    counts = (pairs.select("item_id", "similar_item_id").join(a, "item_id").join(b, ["similar_item_id", "u"])
              .groupBy("item_id", "similar_item_id").agg(F.count(F.lit(1)).alias("co_users")))
    return (pairs.join(counts, ["item_id", "similar_item_id"], "left")
            .withColumn("co_users", F.coalesce(F.col("co_users"), F.lit(0)).cast("long")))


PUBLISHED = (T.ITEM_SIMILARITY, T.USER_RECOMMENDATIONS, T.ITEM_FACTORS)  # replaced by each published model


def train(spark: SparkSession, cfg: Config, *, data_version: int | None = None, force: bool = False,
          now: datetime | None = None) -> TrainResult:
    """Train, evaluate and (if the gate passes, or ``force``) publish. One training per lakehouse at a time: two at
    once could leave the gold tables from different models (one's similarity, the other's recommendations); a second
    one waits for the first (interlake.locks), up to ``train.lock_timeout``."""
    with exclusive(cfg.lakehouse, "train", wait=cfg.train.lock_timeout, setting="train.lock_timeout", what="train"):
        refuse_append_only(spark, {name: (cfg.table_path(name), "a training that passes its gate replaces its rows "
                                          "with the new model's") for name in PUBLISHED})
        # ALS checkpoints its factors under a folder of its own per process (SparkContext.setCheckpointDir) and
        # Spark deletes none of them: each training left its last ones for good. They are needed only while the
        # training runs; one found here is a dead training's (this one holds the lock).
        checkpoints = _checkpoint_root(cfg)
        delete_tree(spark, checkpoints)
        try:
            return _train(spark, cfg, data_version=data_version, force=force, now=now)
        finally:
            with contextlib.suppress(Exception):  # a JVM that died under the training: its error is the one to say
                delete_tree(spark, checkpoints)


def _checkpoint_root(cfg: Config) -> str:
    return f"{cfg.lakehouse.rstrip('/')}/_checkpoints/als"


def _train(spark: SparkSession, cfg: Config, *, data_version: int | None, force: bool,
           now: datetime | None) -> TrainResult:
    t_start = time.time()
    tp, sp = cfg.train, cfg.similarity
    now = utc_now(now)
    model_version = f"m{now:%Y%m%d%H%M%S}"
    events, version = read_interactions(spark, cfg, data_version)
    events = events.select(C.EVENT_ID, C.USER_ID, C.ITEM_ID, C.INTERACTION_TYPE, C.EVENT_TS).persist(
        StorageLevel.MEMORY_AND_DISK)
    try:
        stats = events.agg(F.count(F.lit(1)).alias("n"), F.countDistinct(C.USER_ID).alias("users"),
                           F.countDistinct(C.ITEM_ID).alias("items"), F.max(C.EVENT_TS).alias("as_of")).first()
    except Exception as exc:
        events.unpersist()
        if data_version is not None and "FileNotFoundException" in str(exc):
            raise TrainingError(
                f"--data-version {version}: interactions version {version} can no longer be read: VACUUM "
                "(`interlake maintain`, after maintenance.vacuum_retention_hours) removed files it needs; train on a "
                "later version, or without --data-version") from None
        raise
    if stats["users"] < tp.min_users or stats["items"] < tp.min_items:
        events.unpersist()
        raise TrainingError(
            f"interactions version {version} has {stats['n']:,} interaction{'s' if stats['n'] != 1 else ''} from "
            f"{stats['users']:,} user{'s' if stats['users'] != 1 else ''} on {stats['items']:,} "
            f"item{'s' if stats['items'] != 1 else ''}; training needs at least {tp.min_users} users and "
            f"{tp.min_items} items "
            "(train.min_users / train.min_items): ingest more data first")
    as_of = stats["as_of"]
    spark.sparkContext.setCheckpointDir(_checkpoint_root(cfg))
    weights = dict(cfg.interaction_types)
    aff_kwargs = dict(weights=weights, half_life_days=tp.half_life_days, as_of=as_of)
    als_kwargs = dict(rank=tp.rank, max_iter=tp.max_iter, reg_param=tp.reg_param, alpha=tp.alpha, seed=tp.seed,
                      checkpoint_interval=tp.checkpoint_interval)
    users_ix, items_ix = fit_indexes(events)
    durations = {}

    # 1. evaluation on a time-based holdout, against popularity on the same split
    t = time.time()
    progress(log, "evaluating on a time holdout", data_version=version, interactions=stats["n"])
    train_ev, test_ev = time_holdout(events, share=tp.holdout_share if tp.holdout == "last_share" else None,
                                     cutoff=tp.holdout_cutoff_utc if tp.holdout == "cutoff" else None)
    train_aff = index(train_ev.transform(affinity, **aff_kwargs), users_ix, items_ix).persist()
    seen = train_aff.select(USER_IDX, ITEM_IDX)
    relevant = (index(test_ev, users_ix, items_ix).select(USER_IDX, ITEM_IDX).distinct()
                .join(seen, [USER_IDX, ITEM_IDX], "left_anti")
                .groupBy(USER_IDX).agg(F.collect_set(F.col(ITEM_IDX).cast("string")).alias("relevant")))
    relevant = relevant.join(seen.select(USER_IDX).distinct(), USER_IDX).persist()  # users the model knows
    if relevant.limit(1).count() == 0:
        raise TrainingError(_empty_holdout(tp, train_ev, test_ev))
    max_seen = seen.groupBy(USER_IDX).count().agg(F.max("count")).first()[0] or 0
    extra = min(MAX_EXTRA, int(max_seen))
    catalog = len(items_ix.labels)

    def evaluate(ratings: DataFrame, als: dict) -> dict[str, float]:
        lists = as_lists(recommend(fit_als(ratings, **als), relevant, seen, tp.k, extra)).join(relevant, USER_IDX)
        return ranking_metrics(lists, tp.k, catalog)

    metrics = evaluate(train_aff, als_kwargs)
    base_lists = as_lists(popularity(train_aff, relevant, seen, tp.k, extra)).join(relevant, USER_IDX)
    baseline = ranking_metrics(base_lists, tp.k, catalog)
    durations["evaluate_s"] = time.time() - t

    # 1b. the published model's nDCG to compare with, on this same split (see _published_ndcg)
    ndcg_key = f"ndcg@{tp.k}"
    params = run_params(cfg)
    current = current_published(spark, cfg)

    def refit(recipe: dict) -> float:
        progress(log, "evaluating the published model's parameters on this split",
                 model_version=current["model_version"], **{k: recipe[k] for k in MODEL_PARAMS})
        ratings = index(train_ev.transform(affinity, weights=recipe["weights"],
                                           half_life_days=recipe["half_life_days"], as_of=as_of), users_ix, items_ix)
        als = {**{k: recipe[k] for k in ("rank", "max_iter", "reg_param", "alpha", "seed")},
               "checkpoint_interval": tp.checkpoint_interval}
        return evaluate(ratings, als)[ndcg_key]

    published_ndcg = _published_ndcg(current, params, version, ndcg_key, metrics[ndcg_key], refit)
    train_aff.unpersist()
    relevant.unpersist()

    # 2. the model that is published: same parameters, all data
    t = time.time()
    progress(log, "training on all data", rank=tp.rank, iterations=tp.max_iter)
    all_aff = index(events.transform(affinity, **aff_kwargs), users_ix, items_ix).persist()
    model = fit_als(all_aff, **als_kwargs)
    durations["als_fit_s"] = time.time() - t

    item_labels = spark.createDataFrame([(i, s) for i, s in enumerate(items_ix.labels)], "item_idx INT, item_id STRING")
    user_labels = spark.createDataFrame([(i, s) for i, s in enumerate(users_ix.labels)], "user_idx INT, user_id STRING")
    factors = (model.itemFactors.withColumnRenamed("id", ITEM_IDX).join(F.broadcast(item_labels), ITEM_IDX)
               .select(C.ITEM_ID, F.col("features").cast("array<float>").alias("factors"))).persist()
    unit = normalize(factors.withColumn("factors", F.col("factors").cast("array<double>"))).persist()

    # 3. item similarity
    t = time.time()
    progress(log, "item similarity", method=sp.method, items=catalog)
    lsh_model = fit_lsh(unit, bucket_length=sp.bucket_length, num_hash_tables=sp.num_hash_tables,
                        hashes_per_table=sp.hashes_per_table, seed=tp.seed)
    if sp.method == "lsh":
        similar = lsh_similarity(unit, lsh_model, k=sp.k, hashes_per_table=sp.hashes_per_table)
    else:
        similar = exact_similarity(spark, unit, k=sp.k)
    similar = similar.persist()
    similar.count()
    durations["similarity_s"] = time.time() - t
    sample = [r[0] for r in unit.select(C.ITEM_ID).orderBy(F.xxhash64(C.ITEM_ID, F.lit(tp.seed)))
              .limit(sp.recall_sample).collect()]
    exact_sample = similar if sp.method == "exact" else exact_similarity(spark, unit, k=sp.k, query_ids=sample)
    metrics[f"lsh_recall@{sp.k}"] = recall_against_exact(similar, exact_sample, sample, sp.k)
    similar = co_users(similar, events).withColumn("model_version", F.lit(model_version))

    all_metrics = {**metrics, **{f"baseline_{k}": v for k, v in baseline.items()}}

    # 4. promotion gate
    reasons = []
    if metrics[ndcg_key] <= baseline[ndcg_key]:
        reasons.append(f"{ndcg_key} {metrics[ndcg_key]:.4f} does not beat the popularity baseline "
                       f"{baseline[ndcg_key]:.4f}")
    if data_version is not None and current is not None and version < (current.get("data_version") or 0):
        # --data-version reproduces an old run; publishing it would put a model of older data in place of the live one
        reasons.append(f"trained on interactions version {version} (--data-version), older than the published "
                       f"{current['model_version']}'s version {current['data_version']}")
    if published_ndcg is not None:
        cur, how = published_ndcg
        if metrics[ndcg_key] < cur - tp.promotion_tolerance:
            reasons.append(f"{ndcg_key} {metrics[ndcg_key]:.4f} is worse than the published "
                           f"{current['model_version']} ({cur:.4f}{how}) by more than {tp.promotion_tolerance}")
    published = force or not reasons
    reason = ("forced: " if force and reasons else "") + "; ".join(reasons) if reasons else "passed the gate"

    # 5. artifacts
    artifact = f"{cfg.lakehouse.rstrip('/')}/_models/{model_version}"
    model.write().overwrite().save(f"{artifact}/als")
    lsh_model.write().overwrite().save(f"{artifact}/lsh")
    users_ix.write().overwrite().save(f"{artifact}/user_index")
    items_ix.write().overwrite().save(f"{artifact}/item_index")
    durations["total_s"] = time.time() - t_start
    metadata = {"model_version": model_version, "trained_at": now.isoformat(), "data_version": version,
                "params": params, "metrics": all_metrics, "published": published, "reason": reason,
                "rows": {"interactions": stats["n"], "users": stats["users"], "items": stats["items"]},
                "package_version": interlake.__version__, "git_commit": _git_commit(), "durations": durations,
                "as_of": as_of.isoformat()}
    write_text(spark, f"{artifact}/metadata.json", json.dumps(metadata, indent=2, default=str))

    # 6. publish: each gold table switches in one Delta commit (overwrite); older models stay in time travel
    if published:
        progress(log, "publishing", model_version=model_version)
        recs = recommend(model, all_aff, all_aff.select(USER_IDX, ITEM_IDX), tp.k, extra)
        recs = (recs.join(F.broadcast(user_labels), USER_IDX).join(F.broadcast(item_labels), ITEM_IDX)
                .select(C.USER_ID, C.ITEM_ID, "score", "rank", F.lit(model_version).alias("model_version")))
        publish(spark, cfg, T.ITEM_SIMILARITY, T.ITEM_SIMILARITY_DDL,
                 similar.select("item_id", "similar_item_id", "score", "rank", "co_users", "model_version"))
        publish(spark, cfg, T.USER_RECOMMENDATIONS, T.USER_RECOMMENDATIONS_DDL, recs)
        publish(spark, cfg, T.ITEM_FACTORS, T.ITEM_FACTORS_DDL,
                 factors.withColumn("model_version", F.lit(model_version)))
    ensure_table(spark, cfg.table_path(T.MODEL_RUNS), T.MODEL_RUNS_DDL, database=cfg.database, name=T.MODEL_RUNS)
    spark.createDataFrame([(model_version, now, version, json.dumps(params, default=str), all_metrics, artifact,
                            published, reason)], T.MODEL_RUNS_DDL) \
        .write.format("delta").mode("append").save(cfg.table_path(T.MODEL_RUNS))

    examples = _examples(similar, n_items=3)
    for df in (events, all_aff, factors, unit, similar):
        df.unpersist()
    return TrainResult(model_version, version, published, reason, all_metrics, artifact, examples)


MODEL_PARAMS = ("rank", "max_iter", "reg_param", "alpha", "seed", "half_life_days")  # with the weights: the model
SPLIT_PARAMS = ("holdout", "holdout_share", "holdout_cutoff")  # with the data version: the evaluation's split


def _empty_holdout(tp, train_ev: DataFrame, test_ev: DataFrame) -> str:
    """Why no user of the holdout has new items to predict, and what to change (runs only when none has)."""
    if tp.holdout == "cutoff":  # before 2026-12-06 a cutoff after the data said to set an earlier cutoff, as now,
        # and one before it the same, where only a later one could help
        if test_ev.limit(1).count() == 0:
            newest = train_ev.agg(F.max(C.EVENT_TS)).first()[0]
            return (f"no interaction is at or after train.holdout_cutoff {tp.holdout_cutoff!r} (the newest is "
                    f"{newest:%Y-%m-%d %H:%M:%S} UTC), so nothing is held out to evaluate on: set an earlier cutoff")
        if train_ev.limit(1).count() == 0:
            oldest = test_ev.agg(F.min(C.EVENT_TS)).first()[0]
            return (f"every interaction is at or after train.holdout_cutoff {tp.holdout_cutoff!r} (the oldest is "
                    f"{oldest:%Y-%m-%d %H:%M:%S} UTC), so there is nothing to train on: set a later cutoff")
        return (f"no user with interactions before train.holdout_cutoff {tp.holdout_cutoff!r} has new items after "
                "it to predict: set an earlier cutoff, or more history per user is needed")
    return ("the holdout has no user with new items to predict: more history per user is needed "
            "(or set train.holdout: cutoff with an earlier train.holdout_cutoff)")


def run_params(cfg: Config) -> dict:
    """A run's parameters as ``model_runs.params`` and ``metadata.json`` keep them (JSON values)."""
    tp = cfg.train
    params = {**{k: getattr(tp, k) for k in (*MODEL_PARAMS, *SPLIT_PARAMS, "k")},
              **{f"similarity_{k}": v for k, v in asdict(cfg.similarity).items()},
              "weights": dict(cfg.interaction_types)}
    return json.loads(json.dumps(params, default=str))


def _published_ndcg(current: dict | None, params: dict, version: int, ndcg_key: str, ndcg: float,
                    refit) -> tuple[float, str] | None:
    """The published model's nDCG@k on this run's split, and how it was found (words for the gate's reason), or None
    without a published model.

    A run's metrics compare only with metrics measured on the same holdout: the published run's own figure when it
    was evaluated on this data version with this split; otherwise (the data grew since, as every night) its figure
    is of another holdout (more items or users make nDCG lower or higher whatever the model), so its parameters are
    evaluated again on this split (``refit(recipe)``), which gives this run's own nDCG when they are this run's: a
    gate on the stored figure refused every later model of a lakehouse whose data changed, and kept publishing none.
    A parameter the published run did not record (an older version's run) is taken as this run's."""
    if current is None:
        return None
    try:
        stored = json.loads(current.get("params") or "{}")
    except ValueError:
        stored = {}
    stored = stored if isinstance(stored, dict) else {}
    recipe = {k: stored.get(k, params[k]) for k in (*MODEL_PARAMS, *SPLIT_PARAMS)}
    # the weights of today's vocabulary; a type the published run did not weigh has today's weight
    recipe["weights"] = {t: float((stored.get("weights") or {}).get(t, w)) for t, w in params["weights"].items()}
    same_split = current.get("data_version") == version and all(recipe[k] == params[k] for k in SPLIT_PARAMS)
    measured = (current.get("metrics") or {}).get(ndcg_key)
    if same_split and measured is not None:
        return measured, ""
    if all(recipe[k] == params[k] for k in (*MODEL_PARAMS, "weights")):
        log.info("the published %s was scored on the holdout of interactions version %s; its parameters are this "
                 "run's, so on this run's holdout it scores this run's %s", current["model_version"],
                 current.get("data_version"), ndcg_key)
        return ndcg, ""
    return refit(recipe), ", its parameters on this run's holdout"


def publish(spark: SparkSession, cfg: Config, name: str, ddl: str, df: DataFrame) -> None:
    """Replace a gold table's rows with ``df`` in one commit. A compaction committed meanwhile (an `interlake
    maintain` run by hand next to a training) conflicts with the overwrite, which then writes again."""
    path = cfg.table_path(name)
    ensure_table(spark, path, ddl, database=cfg.database, name=name)
    with_conflict_retry(lambda: df.write.format("delta").mode("overwrite").save(path), cfg.ingest.conflict_retries,
                        f"publish {name}")


def _examples(similar: DataFrame, n_items: int) -> list[dict]:
    top = [r[0] for r in similar.groupBy("item_id").agg(F.sum("co_users").alias("c"))
           .orderBy(F.desc("c"), "item_id").limit(n_items).collect()]
    rows = similar.where(F.col("item_id").isin(top) & (F.col("rank") <= 5)).orderBy("item_id", "rank").collect()
    return [r.asDict() for r in rows]


def print_train_summary(result: TrainResult) -> None:
    k = next((key.split("@")[1] for key in result.metrics if key.startswith("ndcg@")), "10")
    print(f"model {result.model_version} on interactions version {result.data_version}: "
          f"{'PUBLISHED' if result.published else 'not published'} ({result.reason})")
    print(f"{'metric':<16}{'model':>10}{'popularity':>12}")
    for name in ("precision", "recall", "ndcg", "map", "coverage"):
        key = f"{name}@{k}"
        print(f"{key:<16}{result.metrics.get(key, 0):>10.4f}{result.metrics.get('baseline_' + key, 0):>12.4f}")
    print(f"lsh_recall@{k} against exact: {result.metrics.get(f'lsh_recall@{k}', float('nan')):.3f}")
    current = None
    for ex in result.examples:
        if ex["item_id"] != current:
            current = ex["item_id"]
            print(f"items similar to {current}:")
        print(f"  {ex['rank']}. {ex['similar_item_id']}  cosine={ex['score']:.3f}  co_users={ex['co_users']}")
    print(f"artifacts: {result.artifact_path}")

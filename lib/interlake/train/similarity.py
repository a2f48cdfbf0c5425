"""Item-to-item similarity on L2-normalized item factors: LSH candidates + exact cosine, or exact all-pairs.

LSH design. ``BucketedRandomProjectionLSH`` hashes a vector v to floor(a·v / bucket_length) for a random Gaussian a.
Spark draws unit projection vectors, so for unit inputs a·v has standard
deviation 1/sqrt(rank); ``bucket_length`` is given in those units (1.0 = one standard deviation). One hash per table
(Spark's ``approxSimilarityJoin``) with a bucket wide enough for near neighbours to collide puts most pairs of unit
vectors in the same bucket, so it prunes almost nothing. We fit ``num_hash_tables * hashes_per_table`` projections and AND-combine each group of
``hashes_per_table`` into one bucket key: two items are candidates when all hashes of at least one group agree
(OR over the ``num_hash_tables`` groups). AND makes a key selective (collision probability p^m), OR restores recall
(1 - (1 - p^m)^L). Defaults (width 1.5, m=3, L=24) are set for recall: ALS neighbours are often only at cosine
~0.5, where p≈0.51 per hash, so such a pair is a candidate with probability ≈0.96; a random pair (cosine ~0, p≈0.39)
still is one with probability ≈0.75. Narrower buckets (1.0) or more hashes per key prune far more, at a cost in
recall that every training run measures (``lsh_recall@k`` in model_runs).

Exact. Blocked all-pairs: the normalized factor matrix is broadcast once; each task multiplies its block of items
by it with BLAS and keeps the top-k per row (``argpartition``). Ground truth, and the right choice for small catalogs.

Output: ``item_id, similar_item_id, score (cosine), rank (1..k)``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from pyspark.ml.feature import BucketedRandomProjectionLSH, BucketedRandomProjectionLSHModel
from pyspark.ml.functions import array_to_vector
from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F

SIM_DDL = "item_id STRING, similar_item_id STRING, score DOUBLE, rank INT"


def normalize(factors: DataFrame, col: str = "factors") -> DataFrame:
    """L2-normalize an ``ARRAY<FLOAT|DOUBLE>`` column (a zero vector stays zero)."""
    norm = F.sqrt(F.aggregate(F.col(col), F.lit(0.0), lambda a, x: a + x * x))
    return factors.withColumn(col, F.transform(F.col(col), lambda x: F.when(norm > 0, x / norm).otherwise(0.0)))


def _dot(a: str, b: str):
    return F.aggregate(F.zip_with(F.col(a), F.col(b), lambda x, y: x * y), F.lit(0.0), lambda s, x: s + x)


def top_k(pairs: DataFrame, k: int) -> DataFrame:
    w = Window.partitionBy("item_id").orderBy(F.desc("score"), "similar_item_id")
    return (pairs.withColumn("rank", F.row_number().over(w)).where(F.col("rank") <= k)
            .select("item_id", "similar_item_id", "score", F.col("rank").cast("int")))


def fit_lsh(unit_factors: DataFrame, *, bucket_length: float, num_hash_tables: int, hashes_per_table: int,
            seed: int) -> BucketedRandomProjectionLSHModel:
    """``bucket_length`` is in units of the projections' standard deviation: Spark projects on random *unit*
    vectors, so for unit inputs a·v has sd 1/sqrt(rank) and the bucket width given to Spark is scaled by that."""
    vectors = unit_factors.select("item_id", array_to_vector("factors").alias("vec"))
    dim = len(unit_factors.select("factors").first()["factors"])
    lsh = BucketedRandomProjectionLSH(inputCol="vec", outputCol="hashes", bucketLength=bucket_length / dim**0.5,
                                      numHashTables=num_hash_tables * hashes_per_table, seed=seed)
    return lsh.fit(vectors)


def lsh_candidates(unit_factors: DataFrame, model: BucketedRandomProjectionLSHModel, hashes_per_table: int) -> DataFrame:
    """Distinct candidate pairs (item_id < other) sharing at least one AND-combined bucket key."""
    from pyspark.ml.functions import vector_to_array

    hashed = model.transform(unit_factors.select("item_id", array_to_vector("factors").alias("vec")))
    # the hashes are one-element vectors, one per projection; group them m at a time into bucket keys
    values = hashed.select("item_id", F.col("hashes"))
    values = values.select("item_id", F.posexplode("hashes").alias("pos", "vec"))
    values = values.select("item_id", "pos", vector_to_array("vec")[0].cast("long").alias("h"))
    keys = (values.withColumn("table", (F.col("pos") / hashes_per_table).cast("int"))
            .groupBy("item_id", "table").agg(F.sort_array(F.collect_list(F.struct("pos", "h"))).alias("hs"))
            .select("item_id", "table", F.concat_ws(":", F.transform("hs", lambda s: s["h"].cast("string"))).alias("key")))
    a, b = keys.alias("a"), keys.alias("b")
    return (a.join(b, (F.col("a.table") == F.col("b.table")) & (F.col("a.key") == F.col("b.key"))
                   & (F.col("a.item_id") < F.col("b.item_id")))
            .select(F.col("a.item_id").alias("item_id"), F.col("b.item_id").alias("other")).distinct())


def lsh_similarity(unit_factors: DataFrame, model: BucketedRandomProjectionLSHModel, *, k: int,
                   hashes_per_table: int) -> DataFrame:
    pairs = lsh_candidates(unit_factors, model, hashes_per_table)
    fa = unit_factors.select(F.col("item_id").alias("ia"), F.col("factors").alias("fa"))
    fb = unit_factors.select(F.col("item_id").alias("ib"), F.col("factors").alias("fb"))
    scored = (pairs.join(fa, pairs.item_id == fa.ia).join(fb, pairs.other == fb.ib)
              .select("item_id", "other", _dot("fa", "fb").alias("score")))
    both = scored.select("item_id", F.col("other").alias("similar_item_id"), "score").unionByName(
        scored.select(F.col("other").alias("item_id"), F.col("item_id").alias("similar_item_id"), "score"))
    return top_k(both, k)


def exact_similarity(spark: SparkSession, unit_factors: DataFrame, *, k: int, block_size: int = 2048,
                     query_ids: list[str] | None = None) -> DataFrame:
    """Blocked all-pairs cosine with per-item top-k (numpy BLAS per block, the matrix broadcast once).
    ``query_ids``: only these items' lists (all items are still candidates), e.g. to measure LSH recall."""
    pdf = unit_factors.select("item_id", "factors").orderBy("item_id").toPandas()
    ids = pdf["item_id"].to_numpy()
    if query_ids is not None:
        wanted = set(query_ids)
        rows_q = np.array([i for i, x in enumerate(ids) if x in wanted], dtype=np.int64)
    else:
        rows_q = np.arange(len(ids))
    matrix = np.asarray(np.stack(pdf["factors"].to_numpy()) if len(pdf) else np.zeros((0, 1)), dtype=np.float32)
    bc = spark.sparkContext.broadcast((ids, matrix, rows_q))
    n = len(rows_q)
    blocks = spark.createDataFrame([(s,) for s in range(0, n, block_size)], "start INT").repartition(
        max(1, min(64, (n + block_size - 1) // block_size)))
    kk = min(k, max(len(ids) - 1, 0))

    def score(batches):
        ids_, m, rq = bc.value
        for batch in batches:
            for start in batch["start"]:
                q = rq[start:start + block_size]
                block = m[q]
                sims = block @ m.T
                sims[np.arange(len(q)), q] = -np.inf  # not similar to itself
                if kk == 0:
                    continue
                idx = np.argpartition(-sims, kk - 1, axis=1)[:, :kk]
                top = np.take_along_axis(sims, idx, axis=1)
                # ids are sorted, so index order is id order: sort by index, then stably by score (ties by id)
                by_id = np.argsort(idx, axis=1)
                idx, top = np.take_along_axis(idx, by_id, 1), np.take_along_axis(top, by_id, 1)
                order = np.argsort(-top, axis=1, kind="stable")
                idx, top = np.take_along_axis(idx, order, 1), np.take_along_axis(top, order, 1)
                yield pd.DataFrame({"item_id": np.repeat(ids_[q], kk),
                                    "similar_item_id": ids_[idx].ravel(), "score": top.ravel().astype(float),
                                    "rank": np.tile(np.arange(1, kk + 1, dtype=np.int32), len(block))})

    return blocks.mapInPandas(score, SIM_DDL)


def recall_against_exact(approx: DataFrame, exact: DataFrame, items: list[str], k: int) -> float:
    """Mean over ``items`` of |approx top-k ∩ exact top-k| / |exact top-k|."""
    a = approx.where(F.col("item_id").isin(items) & (F.col("rank") <= k)).select("item_id", "similar_item_id")
    e = exact.where(F.col("item_id").isin(items) & (F.col("rank") <= k)).select("item_id", "similar_item_id")
    per = (e.join(a.withColumn("hit", F.lit(1)), ["item_id", "similar_item_id"], "left")
           .groupBy("item_id").agg((F.count("hit") / F.count(F.lit(1))).alias("r")))
    row = per.agg(F.avg("r")).first()
    return float(row[0]) if row and row[0] is not None else 0.0

"""ALS on implicit feedback, id indexing, and top-k recommendation with seen items excluded."""

from __future__ import annotations

from pyspark.ml.feature import StringIndexer, StringIndexerModel
from pyspark.ml.recommendation import ALS, ALSModel
from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from interlake.schemas import columns as C
from interlake.train.affinity import AFFINITY

USER_IDX, ITEM_IDX = "user_idx", "item_idx"


def fit_indexes(df: DataFrame) -> tuple[StringIndexerModel, StringIndexerModel]:
    """String ids -> integer indexes for ALS, alphabetical so the same data gives the same indexes."""
    users = StringIndexer(inputCol=C.USER_ID, outputCol=USER_IDX, stringOrderType="alphabetAsc").fit(df)
    items = StringIndexer(inputCol=C.ITEM_ID, outputCol=ITEM_IDX, stringOrderType="alphabetAsc").fit(df)
    return users, items


def index(df: DataFrame, users: StringIndexerModel, items: StringIndexerModel) -> DataFrame:
    users = users.copy().setHandleInvalid("skip")
    items = items.copy().setHandleInvalid("skip")
    out = items.transform(users.transform(df))
    return out.withColumn(USER_IDX, F.col(USER_IDX).cast("int")).withColumn(ITEM_IDX, F.col(ITEM_IDX).cast("int"))


def fit_als(ratings: DataFrame, *, rank: int, max_iter: int, reg_param: float, alpha: float, seed: int,
            checkpoint_interval: int) -> ALSModel:
    # Sorted inside fixed partitions: the same data and seed then give the same factors (floating-point sums run
    # in the same order), which is what makes `--data-version N` reproduce its metrics.
    ordered = ratings.select(USER_IDX, ITEM_IDX, AFFINITY).repartition(4, USER_IDX).sortWithinPartitions(
        USER_IDX, ITEM_IDX)
    als = ALS(rank=rank, maxIter=max_iter, regParam=reg_param, alpha=alpha, implicitPrefs=True, seed=seed,
              userCol=USER_IDX, itemCol=ITEM_IDX, ratingCol=AFFINITY, coldStartStrategy="drop",
              checkpointInterval=checkpoint_interval, numUserBlocks=4, numItemBlocks=4, nonnegative=False)
    return als.fit(ordered)


def recommend(model: ALSModel, users: DataFrame, seen: DataFrame, k: int, extra: int) -> DataFrame:
    """Top-k items per user (``user_idx``) by ALS score, excluding ``seen`` (user_idx, item_idx) pairs. ``extra``
    more candidates are asked for so that k remain after removing seen items."""
    recs = model.recommendForUserSubset(users.select(USER_IDX).distinct(), k + extra)
    flat = recs.select(USER_IDX, F.explode("recommendations").alias("r")).select(
        USER_IDX, F.col(f"r.{ITEM_IDX}").alias(ITEM_IDX), F.col("r.rating").cast("double").alias("score"))
    unseen = flat.join(seen.select(USER_IDX, ITEM_IDX), [USER_IDX, ITEM_IDX], "left_anti")
    w = Window.partitionBy(USER_IDX).orderBy(F.desc("score"), ITEM_IDX)
    return unseen.withColumn("rank", F.row_number().over(w).cast("int")).where(F.col("rank") <= k)


def popularity(train_affinity: DataFrame, users: DataFrame, seen: DataFrame, k: int, extra: int) -> DataFrame:
    """The baseline: the most popular items (by total affinity) the user has not seen."""
    top = (train_affinity.groupBy(ITEM_IDX).agg(F.sum(AFFINITY).alias("score"))
           .orderBy(F.desc("score"), ITEM_IDX).limit(k + extra))
    cand = users.select(USER_IDX).distinct().crossJoin(F.broadcast(top))
    unseen = cand.join(seen.select(USER_IDX, ITEM_IDX), [USER_IDX, ITEM_IDX], "left_anti")
    w = Window.partitionBy(USER_IDX).orderBy(F.desc("score"), ITEM_IDX)
    return unseen.withColumn("rank", F.row_number().over(w).cast("int")).where(F.col("rank") <= k)


def as_lists(recs: DataFrame, col: str = ITEM_IDX) -> DataFrame:
    """(user_idx, ranked array of items) from ranked rows."""
    return recs.groupBy(USER_IDX).agg(F.sort_array(F.collect_list(F.struct("rank", col))).alias("l")).select(
        USER_IDX, F.transform("l", lambda s: s[col].cast("string")).alias("predicted"))

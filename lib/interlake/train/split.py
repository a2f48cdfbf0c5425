"""Time-based holdout: the last part of each user's history (or everything after a cut-off) is the test set."""

from __future__ import annotations

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from interlake.schemas import columns as C


def time_holdout(df: DataFrame, *, share: float | None = None, cutoff: str | None = None,
                 min_history: int = 3, user_col: str = C.USER_ID, ts_col: str = C.EVENT_TS) -> tuple[DataFrame,
                                                                                                        DataFrame]:
    """(train, test) interactions. ``share``: per user, the latest ``share`` of their interactions (users with fewer
    than ``min_history`` interactions stay whole in train). ``cutoff``: interactions at or after it. Ties in time go
    by event_id, so the split is deterministic."""
    if cutoff is not None:
        test_flag = F.col(ts_col) >= F.lit(cutoff).cast("timestamp")
        flagged = df.withColumn("_test", test_flag)
    else:
        w = Window.partitionBy(user_col).orderBy(ts_col, C.EVENT_ID)
        n = F.count(F.lit(1)).over(Window.partitionBy(user_col))
        rank = F.row_number().over(w)
        flagged = df.withColumn("_test", (n >= min_history) & (rank > F.ceil(n * (1 - share))))
    return flagged.where(~F.col("_test")).drop("_test"), flagged.where(F.col("_test")).drop("_test")

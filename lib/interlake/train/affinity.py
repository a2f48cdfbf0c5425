"""Implicit feedback: one affinity per (user, item) from typed, time-decayed interactions.

affinity(u, i) = sum over u's interactions with i of weight(type) * 0.5 ** (age_days / half_life_days),
age measured from ``as_of`` (the newest interaction of the data set the model is trained on).

Example:
    >>> interactions_df.transform(affinity, weights={"view": 1.0, "purchase": 8.0}, half_life_days=30,
    ...                           as_of=datetime(2026, 11, 1))
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from interlake.schemas import columns as C

AFFINITY = "affinity"


def affinity(df: DataFrame, *, weights: Mapping[str, float], half_life_days: float, as_of: datetime,
             user_col: str = C.USER_ID, item_col: str = C.ITEM_ID, type_col: str = C.INTERACTION_TYPE,
             ts_col: str = C.EVENT_TS) -> DataFrame:
    weight = F.element_at(F.create_map(*[F.lit(x) for kv in weights.items() for x in kv]), F.col(type_col))
    age_days = (F.lit(as_of).cast("timestamp").cast("double") - F.col(ts_col).cast("double")) / 86400.0
    decayed = weight * F.pow(F.lit(0.5), F.greatest(age_days, F.lit(0.0)) / F.lit(float(half_life_days)))
    return (df.where(weight.isNotNull())
            .groupBy(user_col, item_col).agg(F.sum(decayed).alias(AFFINITY)))

"""Ranking metrics at k, with the definitions of Spark's ``RankingMetrics`` (binary relevance):

- precision@k = |top-k ∩ relevant| / k
- recall@k    = |top-k ∩ relevant| / |relevant|
- nDCG@k      = DCG@k / IDCG@k, gains 1/log2(position + 1), IDCG over min(|relevant|, k) positions
- MAP@k       = sum over hits at position i <= k of (hits so far / i), divided by min(|relevant|, k)
averaged over users with at least one relevant item. Coverage = distinct items in all top-k lists / catalog size.

Input: one row per user with ``predicted ARRAY<STRING>`` (ranked) and ``relevant ARRAY<STRING>``.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F


def _hits(pred: Column, rel: Column, k: int) -> Column:
    return F.transform(F.slice(pred, 1, k), lambda p: F.array_contains(rel, p).cast("int"))


def per_user_metrics(df: DataFrame, k: int, pred_col: str = "predicted", rel_col: str = "relevant") -> DataFrame:
    pred, rel = F.col(pred_col), F.array_distinct(F.col(rel_col))
    hits = _hits(pred, rel, k)
    n_hits = F.aggregate(hits, F.lit(0), lambda acc, h: acc + h)
    n_rel = F.size(rel)
    dcg = F.aggregate(F.zip_with(hits, F.sequence(F.lit(1), F.greatest(F.size(hits), F.lit(1))),
                                 lambda h, i: h / F.log2(i + 1)), F.lit(0.0), lambda a, x: a + x)
    ideal_n = F.least(n_rel, F.lit(k))
    idcg = F.aggregate(F.transform(F.sequence(F.lit(1), F.greatest(ideal_n, F.lit(1))), lambda i: 1.0 / F.log2(i + 1)),
                       F.lit(0.0), lambda a, x: a + x)
    cum_hits = F.transform(hits, lambda h, i: F.aggregate(F.slice(hits, 1, i + 1), F.lit(0), lambda a, x: a + x))
    ap = F.aggregate(F.zip_with(F.zip_with(hits, cum_hits, lambda h, c: h * c),
                                F.sequence(F.lit(1), F.greatest(F.size(hits), F.lit(1))), lambda hc, i: hc / i),
                     F.lit(0.0), lambda a, x: a + x) / ideal_n
    return (df.where(n_rel > 0)
            .select("*", (n_hits / F.lit(k)).alias("precision"), (n_hits / n_rel).alias("recall"),
                    (dcg / idcg).alias("ndcg"), ap.alias("map")))


def ranking_metrics(df: DataFrame, k: int, catalog_size: int, pred_col: str = "predicted",
                    rel_col: str = "relevant") -> dict[str, float]:
    """{precision@k, recall@k, ndcg@k, map@k, coverage@k, users} averaged over users with relevant items."""
    m = per_user_metrics(df, k, pred_col, rel_col).agg(
        F.avg("precision").alias("p"), F.avg("recall").alias("r"), F.avg("ndcg").alias("n"), F.avg("map").alias("m"),
        F.count(F.lit(1)).alias("users")).first()
    covered = df.select(F.explode(F.slice(F.col(pred_col), 1, k))).distinct().count()
    return {f"precision@{k}": float(m["p"] or 0.0), f"recall@{k}": float(m["r"] or 0.0),
            f"ndcg@{k}": float(m["n"] or 0.0), f"map@{k}": float(m["m"] or 0.0),
            f"coverage@{k}": covered / catalog_size if catalog_size else 0.0, "users": float(m["users"])}

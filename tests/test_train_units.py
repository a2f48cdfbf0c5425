"""Training building blocks on hand-made inputs: affinity, holdout, metrics vs Spark, LSH vs exact."""

import datetime as dt
import math

import numpy as np
import pytest
from chispa import assert_approx_df_equality
from interlake.train.affinity import affinity
from interlake.train.metrics import ranking_metrics
from interlake.train.similarity import exact_similarity, fit_lsh, lsh_similarity, normalize, recall_against_exact
from interlake.train.split import time_holdout
from pyspark.mllib.evaluation import RankingMetrics
from pyspark.sql import functions as F

AS_OF = dt.datetime(2026, 11, 1)
EV_DDL = "event_id STRING, user_id STRING, item_id STRING, interaction_type STRING, event_ts TIMESTAMP"


def test_affinity_weights_and_half_life_decay(spark):
    df = spark.createDataFrame([
        ("e1", "u1", "i1", "view", AS_OF),                              # 1 * 1
        ("e2", "u1", "i1", "purchase", AS_OF - dt.timedelta(days=10)),  # 8 * 0.5 (one half-life)
        ("e3", "u1", "i2", "add_to_cart", AS_OF - dt.timedelta(days=20)),  # 4 * 0.25
        ("e4", "u2", "i1", "view", AS_OF - dt.timedelta(days=5)),       # 1 * 2**-0.5
        ("e5", "u2", "i1", "unknown", AS_OF),                           # no weight: ignored
    ], EV_DDL)
    got = df.transform(affinity, weights={"view": 1.0, "add_to_cart": 4.0, "purchase": 8.0}, half_life_days=10,
                       as_of=AS_OF)
    expected = spark.createDataFrame([("u1", "i1", 5.0), ("u1", "i2", 1.0), ("u2", "i1", 2 ** -0.5)],
                                     "user_id STRING, item_id STRING, affinity DOUBLE")
    assert_approx_df_equality(got, expected, 1e-9, ignore_row_order=True, ignore_nullable=True)


def test_time_holdout_takes_each_users_latest_share(spark):
    rows = [(f"u1-{i}", "u1", f"i{i}", "view", AS_OF + dt.timedelta(hours=i)) for i in range(10)]
    rows += [(f"u2-{i}", "u2", f"i{i}", "view", AS_OF + dt.timedelta(hours=i)) for i in range(2)]  # too short
    train, test = time_holdout(spark.createDataFrame(rows, EV_DDL), share=0.2, min_history=3)
    assert sorted(r.event_id for r in test.collect()) == ["u1-8", "u1-9"]
    assert train.count() == 10
    train_c, test_c = time_holdout(spark.createDataFrame(rows, EV_DDL), cutoff="2026-11-01 05:00:00")
    assert sorted(r.event_id for r in test_c.collect()) == [f"u1-{i}" for i in range(5, 10)]


def test_metrics_equal_sparks_ranking_metrics(spark):
    data = [
        (["a", "b", "c", "d", "e"], ["a", "c", "z"]),
        (["x", "y", "z"], ["z"]),
        (["p", "q"], ["q", "r", "s", "t"]),
        (["m", "n", "o", "p"], ["k"]),
    ]
    df = spark.createDataFrame(data, "predicted ARRAY<STRING>, relevant ARRAY<STRING>")
    for k in (1, 3, 5):
        ours = ranking_metrics(df, k, catalog_size=26)
        theirs = RankingMetrics(spark.sparkContext.parallelize(data))
        assert ours[f"precision@{k}"] == pytest.approx(theirs.precisionAt(k), abs=1e-12)
        assert ours[f"recall@{k}"] == pytest.approx(theirs.recallAt(k), abs=1e-12)
        assert ours[f"ndcg@{k}"] == pytest.approx(theirs.ndcgAt(k), abs=1e-12)
        assert ours[f"map@{k}"] == pytest.approx(theirs.meanAveragePrecisionAt(k), abs=1e-12)
    assert ranking_metrics(df, 2, catalog_size=26)["coverage@2"] == pytest.approx(8 / 26)


def test_ndcg_by_hand(spark):
    df = spark.createDataFrame([(["a", "b", "c"], ["b", "c"])], "predicted ARRAY<STRING>, relevant ARRAY<STRING>")
    dcg = 1 / math.log2(3) + 1 / math.log2(4)
    idcg = 1 + 1 / math.log2(3)
    assert ranking_metrics(df, 3, 3)["ndcg@3"] == pytest.approx(dcg / idcg)


@pytest.fixture(scope="module")
def clustered_factors(spark):
    """40 clusters of 25 items each around random centres: an item's true neighbours are its cluster."""
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(40, 16))
    rows = []
    for c in range(40):
        for j in range(25):
            rows.append((f"c{c:02d}-{j:02d}", (centres[c] + rng.normal(scale=0.15, size=16)).tolist()))
    return normalize(spark.createDataFrame(rows, "item_id STRING, factors ARRAY<DOUBLE>")).persist()


def test_exact_similarity_finds_the_cluster_and_ranks_by_cosine(spark, clustered_factors):
    exact = exact_similarity(spark, clustered_factors, k=5, block_size=128)
    rows = exact.collect()
    assert len(rows) == 1000 * 5
    assert all(r.item_id[:3] == r.similar_item_id[:3] and r.item_id != r.similar_item_id for r in rows)
    by_item = {}
    for r in rows:
        by_item.setdefault(r.item_id, []).append((r.rank, r.score))
    for ranked in by_item.values():
        scores = [s for _, s in sorted(ranked)]
        assert scores == sorted(scores, reverse=True) and sorted(ranked)[0][0] == 1
    # a pair checked by hand
    f = {r.item_id: np.array(r.factors) for r in clustered_factors.collect()}
    r = rows[0]
    assert r.score == pytest.approx(float(f[r.item_id] @ f[r.similar_item_id]), abs=1e-6)


def test_lsh_recall_against_exact_on_known_neighbours(spark, clustered_factors):
    model = fit_lsh(clustered_factors, bucket_length=1.0, num_hash_tables=20, hashes_per_table=3, seed=1)
    work: list[int] = []
    approx = lsh_similarity(clustered_factors, model, k=10, hashes_per_table=3, work=work)
    exact = exact_similarity(spark, clustered_factors, k=10)
    items = [r.item_id for r in clustered_factors.select("item_id").collect()]
    assert recall_against_exact(approx, exact, items, 10) >= 0.9
    same_cluster = approx.where(F.substring("item_id", 1, 3) == F.substring("similar_item_id", 1, 3)).count()
    assert same_cluster / approx.count() >= 0.95
    # and the AND-combined keys really prune: far fewer candidates than all pairs, and fewer scorings (counted
    # once per table a pair shares) than the n·(n-1) of the exact method
    from interlake.train.similarity import lsh_candidates

    assert lsh_candidates(clustered_factors, model, 3).count() < 0.5 * (1000 * 999 / 2)
    assert 0 < work[0] < 1000 * 999


def test_lsh_lists_are_ranked_exact_cosines_without_repeats(spark, clustered_factors):
    model = fit_lsh(clustered_factors, bucket_length=3.0, num_hash_tables=8, hashes_per_table=4, seed=3)
    rows = lsh_similarity(clustered_factors, model, k=5, hashes_per_table=4).collect()
    f = {r.item_id: np.array(r.factors) for r in clustered_factors.collect()}
    lists = {}
    for r in rows:
        assert r.item_id != r.similar_item_id
        assert r.score == pytest.approx(float(f[r.item_id] @ f[r.similar_item_id]), abs=1e-5)
        lists.setdefault(r.item_id, []).append(r)
    for ranked in lists.values():
        ranked.sort(key=lambda r: r.rank)
        assert [r.rank for r in ranked] == list(range(1, len(ranked) + 1))
        assert len({r.similar_item_id for r in ranked}) == len(ranked)  # found via several tables, listed once
        assert [r.score for r in ranked] == sorted((r.score for r in ranked), reverse=True)


def test_lsh_hashes_are_the_spark_models_own(spark, clustered_factors):
    from interlake.train.similarity import bucket_hashes, projection_matrix
    from pyspark.ml.functions import array_to_vector

    model = fit_lsh(clustered_factors, bucket_length=3.0, num_hash_tables=4, hashes_per_table=5, seed=2)
    rows = (model.transform(clustered_factors.select("item_id", "factors", array_to_vector("factors").alias("vec")))
            .orderBy("item_id").limit(40).collect())
    theirs = np.array([[v[0] for v in r.hashes] for r in rows])
    ours = bucket_hashes(np.array([r.factors for r in rows]), projection_matrix(model), model.getBucketLength())
    assert ours.shape == (40, 20)
    np.testing.assert_array_equal(ours, theirs)

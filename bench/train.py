"""Training benchmark on generated data: ALS fit time, LSH vs exact similarity time, LSH recall@10, holdout
nDCG@10 vs popularity; and, where `implicit` is installed (pip install -e '.[bench]'), its ALS on the same matrix.

    python bench/train.py [--events 1000000 5000000]

The `implicit` comparison rebuilds the training job's own holdout split and affinity matrix, fits Spark ALS and
implicit's ALS on it with the same rank, iterations, regularization and alpha (implicit's confidence is
alpha * affinity, Spark's 1 + alpha * affinity), and scores both top-10 lists with the same metric code.
"""

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import cleanup, exact_vs_lsh, setup  # noqa: E402
from interlake.ingest.pipeline import ingest  # noqa: E402
from interlake.schemas import columns as C  # noqa: E402
from interlake.schemas import tables as T  # noqa: E402
from interlake.train.affinity import AFFINITY, affinity  # noqa: E402
from interlake.train.metrics import ranking_metrics  # noqa: E402
from interlake.train.model import ITEM_IDX, USER_IDX, as_lists, fit_als, fit_indexes, index, recommend  # noqa: E402
from interlake.train.pipeline import train  # noqa: E402
from interlake.train.split import time_holdout  # noqa: E402
from pyspark.sql import functions as F  # noqa: E402


def similarity_times(spark, cfg) -> str:
    """Exact and LSH (default settings) side by side on the published model's item factors."""
    from interlake.train.similarity import normalize, recall_against_exact

    sp = cfg.similarity
    unit = normalize(spark.read.format("delta").load(cfg.table_path(T.ITEM_FACTORS)).select(
        C.ITEM_ID, F.col("factors").cast("array<double>").alias("factors"))).persist()
    items = [r[0] for r in unit.select(C.ITEM_ID).collect()]
    exact, approx, exact_s, lsh_s, _ = exact_vs_lsh(spark, unit, sp, sp.k)
    recall = recall_against_exact(approx, exact, items, sp.k)
    return (f"  similarity on {len(items):,} items: exact {exact_s:.1f}s, LSH {lsh_s:.1f}s "
            f"({lsh_s / exact_s:.2f}x), LSH recall@{sp.k} over all items {recall:.3f}")


def compare_implicit(spark, cfg) -> str:
    try:
        import implicit
        import scipy.sparse as sparse
    except ImportError:
        return "  (implicit not installed: pip install -e '.[bench]' to compare its ALS)"
    tp, k = cfg.train, cfg.train.k
    events = spark.read.format("delta").load(cfg.table_path(T.INTERACTIONS)).select(
        C.EVENT_ID, C.USER_ID, C.ITEM_ID, C.INTERACTION_TYPE, C.EVENT_TS).persist()
    as_of = events.agg(F.max(C.EVENT_TS)).first()[0]
    users_ix, items_ix = fit_indexes(events)
    train_ev, test_ev = time_holdout(events, share=tp.holdout_share if tp.holdout == "last_share" else None,
                                     cutoff=tp.holdout_cutoff if tp.holdout == "cutoff" else None)
    aff = index(train_ev.transform(affinity, weights=dict(cfg.interaction_types), half_life_days=tp.half_life_days,
                                   as_of=as_of), users_ix, items_ix).persist()
    seen = aff.select(USER_IDX, ITEM_IDX)
    relevant = (index(test_ev, users_ix, items_ix).select(USER_IDX, ITEM_IDX).distinct()
                .join(seen, [USER_IDX, ITEM_IDX], "left_anti")
                .groupBy(USER_IDX).agg(F.collect_set(F.col(ITEM_IDX).cast("string")).alias("relevant"))
                .join(seen.select(USER_IDX).distinct(), USER_IDX)).persist()
    catalog = len(items_ix.labels)
    t = time.time()
    model = fit_als(aff, rank=tp.rank, max_iter=tp.max_iter, reg_param=tp.reg_param, alpha=tp.alpha, seed=tp.seed,
                    checkpoint_interval=tp.checkpoint_interval)
    model.itemFactors.count()
    spark_s = time.time() - t
    spark_ndcg = ranking_metrics(as_lists(recommend(model, relevant, seen, k, 50)).join(relevant, USER_IDX), k,
                                 catalog)[f"ndcg@{k}"]

    pdf = aff.select(USER_IDX, ITEM_IDX, AFFINITY).toPandas()
    matrix = sparse.csr_matrix((pdf[AFFINITY].to_numpy(np.float32), (pdf[USER_IDX], pdf[ITEM_IDX])),
                               shape=(len(users_ix.labels), catalog))
    als = implicit.als.AlternatingLeastSquares(factors=tp.rank, regularization=tp.reg_param, alpha=tp.alpha,
                                               iterations=tp.max_iter, random_state=tp.seed)
    t = time.time()
    als.fit(matrix, show_progress=False)
    implicit_s = time.time() - t
    users = np.array([r[USER_IDX] for r in relevant.select(USER_IDX).collect()], dtype=np.int32)
    ids, _ = als.recommend(users, matrix[users], N=k, filter_already_liked_items=True)
    rows = [(int(u), [str(i) for i in row if i >= 0]) for u, row in zip(users, ids, strict=True)]
    lists = spark.createDataFrame(rows, f"{USER_IDX} INT, predicted ARRAY<STRING>")
    implicit_ndcg = ranking_metrics(lists.join(relevant, USER_IDX), k, catalog)[f"ndcg@{k}"]
    for d in (events, aff, relevant):
        d.unpersist()
    return (f"  same matrix ({matrix.nnz:,} user-item values): Spark ALS fit {spark_s:.1f}s nDCG@{k} {spark_ndcg:.5f}; "
            f"implicit {implicit.__version__} fit {implicit_s:.1f}s nDCG@{k} {implicit_ndcg:.5f}; "
            f"time Spark/implicit {spark_s / implicit_s:.1f}x, nDCG Spark/implicit {spark_ndcg / implicit_ndcg:.2f}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, nargs="+", default=[1_000_000, 5_000_000])
    args = ap.parse_args()
    for n in args.events:
        work, cfg, spark, truth, _ = setup(n)
        assert ingest(spark, cfg).ok
        t = time.time()
        result = train(spark, cfg, force=True)
        total = time.time() - t
        meta = json.loads(Path(result.artifact_path, "metadata.json").read_text())
        d = meta["durations"]
        m = result.metrics
        print(f"{n:,} events ({meta['rows']['users']:,} users, {meta['rows']['items']:,} items): train {total:.0f}s; "
              f"ALS fit {d['als_fit_s']:.1f}s; similarity ({cfg.similarity.method}) {d['similarity_s']:.1f}s; "
              f"LSH recall@10 {m['lsh_recall@10']:.3f}; nDCG@10 {m['ndcg@10']:.4f} vs popularity "
              f"{m['baseline_ndcg@10']:.4f} ({m['ndcg@10'] / max(m['baseline_ndcg@10'], 1e-9):.1f}x)", flush=True)
        print(similarity_times(spark, cfg), flush=True)
        print(compare_implicit(spark, cfg), flush=True)
        spark.stop()
        cleanup(work)


if __name__ == "__main__":
    main()

"""Similarity benchmark: LSH vs exact on random unit item factors (rank 64), time and recall@10, side by side.

    python bench/similarity.py [--items 10000 50000 200000] [--rank 64]

Random factors are the hard case for LSH: with no cluster structure, an item's 10 nearest neighbours among n are
barely closer than a random item (cosine ~0.45 at 64 dimensions), so pruning and recall pull against each other.
"""

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import exact_vs_lsh  # noqa: E402
from interlake.config import SimilaritySettings, SparkSettings  # noqa: E402
from interlake.session import build_session  # noqa: E402
from interlake.train.similarity import recall_against_exact  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--items", type=int, nargs="+", default=[10_000, 50_000, 200_000])
    ap.add_argument("--rank", type=int, default=64)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--sample", type=int, default=200)
    args = ap.parse_args()
    s = SimilaritySettings()
    spark = build_session(SparkSettings("local[*]", {"spark.sql.shuffle.partitions": "8", "spark.driver.memory": "12g",
                                                     "spark.driver.maxResultSize": "4g",
                                                     "spark.sql.catalogImplementation": "in-memory"}),
                          "/tmp/interlake-bench-sim", register=False)
    print(f"LSH: bucket_length={s.bucket_length} sd, {s.hashes_per_table} hashes AND-ed per key, "
          f"{s.num_hash_tables} keys OR-ed")
    print(f"{'items':>8} {'exact s':>9} {'lsh s':>9} {'lsh/exact':>10} {'pairs scored':>13} {'recall@10':>10}")
    for n in args.items:
        rng = np.random.default_rng(n)
        m = rng.normal(size=(n, args.rank))
        m /= np.linalg.norm(m, axis=1, keepdims=True)
        df = spark.createDataFrame([(f"i{i:07d}", row.tolist()) for i, row in enumerate(m)],
                                   "item_id STRING, factors ARRAY<DOUBLE>").repartition(8).persist()
        df.count()
        sample = [f"i{i:07d}" for i in rng.choice(n, args.sample, replace=False)]
        exact, approx, exact_s, lsh_s, pairs = exact_vs_lsh(spark, df, s, args.k)
        recall = recall_against_exact(approx, exact, sample, args.k)
        print(f"{n:>8,} {exact_s:>9.1f} {lsh_s:>9.1f} {lsh_s / exact_s:>9.2f}x {pairs / (n * (n - 1)):>12.1%} "
              f"{recall:>10.3f}", flush=True)
        for d in (df, exact, approx):
            d.unpersist()
    spark.stop()


if __name__ == "__main__":
    main()

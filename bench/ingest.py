"""Ingest benchmark: full `interlake ingest` vs a plain Spark read written straight to Parquet, same files, one run.

    python bench/ingest.py [--events 5000000]

Prints rows/s of both, their ratio (target: ingest within 2x), and the time of a no-op re-run (target < 15 s).
"""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import cleanup, setup, timer  # noqa: E402
from interlake.ingest.pipeline import ingest  # noqa: E402
from interlake.log import setup_logging  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=5_000_000)
    args = ap.parse_args()
    setup_logging()  # progress lines with times: where a run spends them
    work, cfg, spark, truth, gen_s = setup(args.events)
    lines = truth["export_rows_valid"] + truth["queue_records_valid"] + truth["queue_redeliveries"]
    print(f"generated {truth['unique_events']:,} events ({lines:,} records in CSV + queue dumps) in {gen_s:.1f}s")
    t = {}
    shop, queue = cfg.sources["shop_export"], cfg.sources["pixel_queue"]
    with timer(t, "parquet"):  # the floor: read the same files, write Parquet, nothing else
        spark.read.option("header", "true").csv(shop.path).write.mode("overwrite").parquet(f"{work}/plain/shop")
        spark.read.json(queue.path).write.mode("overwrite").parquet(f"{work}/plain/queue")
    with timer(t, "ingest"):
        result = ingest(spark, cfg)
    assert result.ok, [s.message for s in result.sources]
    read = sum(f.rows_read for s in result.sources for f in s.files)
    with timer(t, "noop"):
        again = ingest(spark, cfg)
    assert all(s.status == "no new files" for s in again.sources)
    print(f"plain read + Parquet write : {t['parquet']:7.1f}s  {read / t['parquet']:>10,.0f} rows/s")
    print(f"full interlake ingest      : {t['ingest']:7.1f}s  {read / t['ingest']:>10,.0f} rows/s")
    print(f"ratio ingest / parquet     : {t['ingest'] / t['parquet']:7.2f}x   (target <= 2x)")
    print(f"no-op re-run               : {t['noop']:7.1f}s   (target < 15 s)")
    spark.stop()
    cleanup(work)


if __name__ == "__main__":
    main()

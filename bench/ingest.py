"""Ingest benchmark: full `interlake ingest` vs a plain Spark read written straight to Parquet, same files, one run.

    python bench/ingest.py [--events 5000000]

Prints rows/s of both, their ratio (target: ingest within 2x), and the time of a no-op re-run (target < 15 s),
three ways: in this process (Spark warm, the job's own check), as a schedule runs it (``interlake ingest`` in a new
process: answered from the ledger without starting Spark, see lib/interlake/ingest/noop.py), and in a new process
that goes through Spark (what a re-run pays when that check cannot decide, e.g. a lakehouse on object storage).
"""

import argparse
import subprocess
import sys
import time
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
    conf = str(work / "bench.yaml")
    t0 = time.time()
    cli = subprocess.run([sys.executable, "-m", "interlake", "ingest", "--conf", conf], capture_output=True, text=True)
    t["noop_cli"] = time.time() - t0
    assert cli.returncode == 0 and ": ok; 0 files" in cli.stdout, cli.stderr[-2000:]
    spark.stop()  # the process below takes the lakehouse as a job would (one JVM at a time on a local metastore)
    t0 = time.time()
    code = ("import sys; from interlake.config import load_config; from interlake.session import build_session; "
            "from interlake.ingest.pipeline import ingest; cfg = load_config(sys.argv[1]); "
            "r = ingest(build_session(cfg.spark, cfg.lakehouse, database=cfg.database), cfg); "
            "sys.exit(0 if all(s.status == 'no new files' for s in r.sources) else 1)")
    spark_path = subprocess.run([sys.executable, "-c", code, conf], capture_output=True, text=True)
    t["noop_spark"] = time.time() - t0
    assert spark_path.returncode == 0, spark_path.stderr[-2000:]
    print(f"plain read + Parquet write : {t['parquet']:7.1f}s  {read / t['parquet']:>10,.0f} rows/s")
    print(f"full interlake ingest      : {t['ingest']:7.1f}s  {read / t['ingest']:>10,.0f} rows/s")
    print(f"ratio ingest / parquet     : {t['ingest'] / t['parquet']:7.2f}x   (target <= 2x)")
    print(f"no-op re-run               : {t['noop_cli']:7.1f}s   (target < 15 s; `interlake ingest` in a new process, "
          f"as a schedule runs it)")
    print(f"  in this process (Spark)  : {t['noop']:7.1f}s")
    print(f"  new process through Spark: {t['noop_spark']:7.1f}s   (JVM start, session, Delta's first snapshot)")
    cleanup(work)


if __name__ == "__main__":
    main()

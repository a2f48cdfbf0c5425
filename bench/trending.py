"""Trending benchmark: N events (default 2,000,000, 10,000 items) as queue-dump files through the trending job.

    python bench/trending.py [--events 2000000] [--items 10000] [--files 20] [--files-per-batch 5]

Two phases on one lakehouse, one session:
  1. throughput: all but the last ``--latency-files`` files land as a backlog and the job drains it
     (``--once``, ``max_files_per_trigger`` files per micro-batch): sustained events/s = events / wall time,
     including query start, parsing, validation, counting, scoring and every Delta commit.
  2. latency: the continuous query runs (trigger ``--trigger``); the remaining files land one at a time and the
     delay from a file landing to its batch's counts being in ``trending_items`` is measured.
Also a floor: the same backlog files read by a plain ``spark.read.json`` into a no-op sink (what parsing alone
costs on this machine). Micro-batch processing time p50/p95 comes from ``stream_progress`` (all batches of both
phases). Also prints the surges found and false flags per item-week against the generator's truth.
"""

import argparse
import json
import os
import shutil
import sys
import threading
import time
from pathlib import Path

import numpy as np
import yaml
from deltalake import DeltaTable

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import cleanup, setup  # noqa: E402
from interlake.config import parse_config  # noqa: E402
from interlake.log import setup_logging  # noqa: E402
from interlake.schemas import tables as T  # noqa: E402
from interlake.trending.pipeline import run_trending  # noqa: E402


def progress_rows(cfg) -> int:
    try:
        return len(DeltaTable(cfg.table_path(T.STREAM_PROGRESS)).to_pyarrow_table(columns=["batch_id"]))
    except Exception:  # noqa: BLE001  (the table is created by the first run)
        return 0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=2_000_000)
    ap.add_argument("--items", type=int, default=10_000)
    ap.add_argument("--files", type=int, default=20, help="cut the dumps into this many files, in time order")
    ap.add_argument("--files-per-batch", type=int, default=5,
                    help="trending.max_files_per_trigger in phase 1 (0: no cap, the job's default)")
    ap.add_argument("--latency-files", type=int, default=3)
    ap.add_argument("--trigger", default="10 seconds", help="trigger of the continuous query in phase 2")
    args = ap.parse_args()
    setup_logging()  # one line per micro-batch, with the time of each step
    t = time.time()
    work, cfg, spark, truth, _ = setup(args.events, days=14, items=args.items)
    print(f"generated in {time.time() - t:.0f}s")
    src = Path(cfg.sources["pixel_queue"].path)
    lines = [ln for f in sorted(src.glob("*.jsonl")) for ln in f.read_text().splitlines()]
    shutil.rmtree(src)
    landing = work / "landing"
    landing.mkdir()
    staged = []
    for i, idx in enumerate(np.array_split(np.arange(len(lines)), args.files)):
        p = work / f"staged-{i:03d}.jsonl"
        p.write_text("\n".join(lines[j] for j in idx) + "\n")
        staged.append((p, len(idx)))
    doc = yaml.safe_load(Path(cfg.path).read_text())
    doc["sources"]["pixel_queue"]["path"] = str(landing)
    doc["trending"] = {"source": "pixel_queue", "window": "1 hour", "watermark": "2 hours", "trigger": args.trigger}
    if args.files_per_batch:  # 0: the job's default, every file available in one micro-batch
        doc["trending"]["max_files_per_trigger"] = args.files_per_batch
    cfg = parse_config(doc, cfg.path)

    # phase 1: drain a backlog
    backlog, later = staged[:-args.latency_files], staged[-args.latency_files:]
    for i, (p, _) in enumerate(backlog):
        dest = landing / p.name
        shutil.move(str(p), dest)
        mtime = time.time() - 3600 + i  # the file stream takes files in modification-time order
        os.utime(dest, (mtime, mtime))
    t = time.time()
    result = run_trending(spark, cfg, once=True)
    drain_s = time.time() - t
    drained = result.input_rows
    # the floor on this machine: a plain Spark read of the same backlog files, parsed and thrown away
    t = time.time()
    spark.read.json(str(landing)).write.format("noop").mode("overwrite").save()
    floor_s = time.time() - t

    # phase 2: land files one at a time under the continuous query
    delays: list[float] = []
    stop = threading.Event()

    def feeder() -> None:
        time.sleep(15)  # let the query start
        for p, _ in later:
            before = progress_rows(cfg)
            landed = time.time()
            shutil.move(str(p), landing / p.name)
            while progress_rows(cfg) == before:
                time.sleep(0.25)
            delays.append(time.time() - landed)
        stop.set()

    threading.Thread(target=feeder, daemon=True).start()
    run_trending(spark, cfg, once=False, stop_event=stop)

    prog = spark.read.format("delta").load(cfg.table_path(T.STREAM_PROGRESS)).orderBy("batch_id").collect()
    ms = np.array([r.processing_ms for r in prog])
    items = spark.read.format("delta").load(cfg.table_path(T.TRENDING_ITEMS))
    flagged = {(r.item_id, r.window_start.strftime("%Y-%m-%dT%H:%M:%SZ")) for r in items.where("is_trending").collect()}
    surges = {(s["item_id"], s["window_start"]) for s in truth["surges"]}
    found, false = len(surges & flagged), len(flagged - surges)
    n_items = items.select("item_id").distinct().count()
    weeks = truth["days"] / 7
    print(f"{sum(r.input_rows for r in prog):,} queue records in {len(staged)} files, {n_items:,} items, "
          f"{len(prog)} micro-batches")
    print(f"sustained throughput      : {drained / drain_s:,.0f} events/s ({drained:,} events of a backlog in "
          f"{drain_s:.1f}s, {args.files_per_batch or 'all available'} files per micro-batch, query start included)")
    print(f"floor, same files         : {drained / floor_s:,.0f} events/s (plain spark.read.json to a no-op sink, "
          f"{floor_s:.1f}s): the job takes {drain_s / floor_s:.1f}x the time of parsing alone")
    p50, p95 = np.percentile(ms, 50) / 1000, np.percentile(ms, 95) / 1000
    print(f"micro-batch processing    : p50 {p50:.1f}s  p95 {p95:.1f}s "
          f"(trigger {cfg.trending.trigger}; production default 1 minute)")
    print("file landed -> in table   : " + ("  ".join(f"{d:.1f}s" for d in delays) or "n/a")
          + f" ({len(later)} files of ~{later[0][1]:,} events under the continuous query)")
    print(f"surges found              : {found}/{len(surges)}; false flags: {false} "
          f"({false / max(1, n_items) / weeks:.4f} per item-week)")
    print(json.dumps({"events_per_s": drained / drain_s, "p50_s": float(np.percentile(ms, 50) / 1000),
                      "p95_s": float(np.percentile(ms, 95) / 1000), "delays_s": delays, "surges_found": found,
                      "surges": len(surges), "false_flags": false,
                      "floor_events_per_s": drained / floor_s}))
    spark.stop()
    cleanup(work)


if __name__ == "__main__":
    main()

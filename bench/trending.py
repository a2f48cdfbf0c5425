"""Trending benchmark: N events (default 2,000,000, 10,000 items) as queue-dump files through the trending job.

    python bench/trending.py [--events 2000000] [--items 10000] [--files 20]

Reports sustained events/s, micro-batch processing time p50/p95 (from stream_progress) and the end-to-end delay
from a file landing to its counts being in trending_items, plus surges found and false flags per item-week.
"""

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import cleanup, setup  # noqa: E402
from interlake.config import parse_config  # noqa: E402
from interlake.schemas import tables as T  # noqa: E402
from interlake.trending.pipeline import run_trending  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=2_000_000)
    ap.add_argument("--files", type=int, default=20, help="split the dumps into this many micro-batches")
    args = ap.parse_args()
    work, cfg, spark, truth, gen_s = setup(args.events, days=14)
    src = Path(cfg.sources["pixel_queue"].path)
    files = sorted(src.glob("*.jsonl"))
    # re-cut the daily dumps into --files files, in time order
    lines = [ln for f in files for ln in f.read_text().splitlines()]
    shutil.rmtree(src)
    landing = work / "landing"
    landing.mkdir()
    chunks = np.array_split(np.arange(len(lines)), args.files)
    staged = []
    for i, idx in enumerate(chunks):
        p = work / f"staged-{i:03d}.jsonl"
        p.write_text("\n".join(lines[j] for j in idx) + "\n")
        staged.append(p)
    import yaml

    doc = yaml.safe_load(Path(cfg.path).read_text())
    doc["sources"]["pixel_queue"]["path"] = str(landing)
    doc["trending"] = {"source": "pixel_queue", "window": "1 hour", "watermark": "2 hours", "trigger": "1 minute",
                       "max_files_per_trigger": 1}
    cfg = parse_config(doc, cfg.path)
    delays = []
    total_s = 0.0
    for p in staged:  # a file lands, the job runs until it is counted: end-to-end delay per file
        landed = time.time()
        shutil.move(str(p), landing / p.name)
        run_trending(spark, cfg, once=True)
        delays.append(time.time() - landed)
        total_s += delays[-1]
    prog = spark.read.format("delta").load(cfg.table_path(T.STREAM_PROGRESS)).select("processing_ms", "input_rows")
    ms = np.array([r.processing_ms for r in prog.collect()])
    events = sum(r.input_rows for r in prog.collect())
    items = spark.read.format("delta").load(cfg.table_path(T.TRENDING_ITEMS))
    flagged = {(r.item_id, r.window_start.strftime("%Y-%m-%dT%H:%M:%SZ")) for r in items.where("is_trending").collect()}
    surges = {(s["item_id"], s["window_start"]) for s in truth["surges"]}
    found = len(surges & flagged)
    false = len(flagged - surges)
    n_items = items.select("item_id").distinct().count()
    weeks = truth["days"] / 7
    print(f"{events:,} queue records in {len(staged)} files, {n_items:,} items")
    print(f"sustained throughput      : {events / total_s:,.0f} events/s (all batches incl. Delta writes)")
    print(f"micro-batch processing    : p50 {np.percentile(ms, 50) / 1000:.1f}s  p95 {np.percentile(ms, 95) / 1000:.1f}s "
          f"(trigger 60s)")
    print(f"file landed -> in table   : p50 {np.percentile(delays, 50):.1f}s  p95 {np.percentile(delays, 95):.1f}s "
          f"(includes query start per file)")
    print(f"surges found              : {found}/{len(surges)}; false flags: {false} "
          f"({false / max(1, n_items) / weeks:.4f} per item-week)")
    print(json.dumps({"events_per_s": events / total_s, "p50_s": float(np.percentile(ms, 50) / 1000),
                      "p95_s": float(np.percentile(ms, 95) / 1000), "surges_found": found, "surges": len(surges),
                      "false_flags": false}))
    spark.stop()
    cleanup(work)


if __name__ == "__main__":
    main()

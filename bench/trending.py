"""Trending benchmark: N events (default 2,000,000, 10,000 items) as queue-dump files through the trending job.

    python bench/trending.py [--events 2000000] [--items 10000] [--files 20] [--files-per-batch 5]
                             [--rate 50000] [--minutes 4]

Three phases on one lakehouse, one session (phase 3 writes ~3 GB of staged files and runs ~7 minutes; --rate 0 skips
it):
  1. backlog throughput: all but the last ``--latency-files`` files land as a backlog and the job drains it
     (``--once``, ``max_files_per_trigger`` files per micro-batch): sustained events/s = events / wall time,
     including query start, parsing, validation, counting, scoring and every Delta commit. Then the same backlog
     again into a fresh lakehouse in the same process: the rate once the JVM is warm (a new process spends about
     half of a one-batch drain warming up its JVM: JIT compilation, class loading, Spark's generated code).
  2. latency: the continuous query runs (trigger ``--trigger``); the remaining files land one at a time and the
     delay from a file landing to its batch's counts being in ``trending_items`` is measured.
  3. live, at the production trigger: ``--rate`` events/s (default 50,000) for ``--minutes`` minutes (default 4:
     12,000,000 queue records, re-stamped copies of the generator's records whose event times follow the arrival
     clock, right after the data's last event) land as one file every 10 seconds, in real time, while the query runs
     with its production trigger (1 minute). In phases 1-2 a micro-batch holds days of event time (the generator's
     14 days replayed in minutes), so every batch re-scores dozens of windows per item; in a live stream, as here, a
     batch holds a minute of it. The job sustains the rate if every micro-batch ends within the trigger interval and
     the last file's events are in the table soon after it lands; capacity = events / processing time.
Also a floor: the same backlog files read by a plain ``spark.read.json`` into a no-op sink (what parsing alone
costs on this machine). Micro-batch processing time p50/p95 comes from ``stream_progress`` (all batches of phases
1 and 2; phase 3 prints each of its batches, their p50/p95 and each file's delay from landing to its batch's
progress row). Also prints the surges found and false flags per item-week against
the generator's truth.
"""

import argparse
import copy
import json
import os
import re
import shutil
import sys
import threading
import time
from datetime import UTC
from pathlib import Path

import numpy as np
import yaml
from deltalake import DeltaTable

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import cleanup, setup  # noqa: E402
from interlake.config import parse_config  # noqa: E402
from interlake.log import setup_logging  # noqa: E402
from interlake.schemas import tables as T  # noqa: E402
from interlake.tables.without_spark import to_arrow  # noqa: E402
from interlake.trending.pipeline import run_trending  # noqa: E402


def progress_rows(cfg) -> int:
    try:
        path = cfg.table_path(T.STREAM_PROGRESS)
        return len(to_arrow(DeltaTable(path), path, ["batch_id"]))
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
    ap.add_argument("--rate", type=int, default=50_000, help="events/s arriving in phase 3 (0: skip phase 3)")
    ap.add_argument("--minutes", type=int, default=4, help="how long phase 3 feeds files at --rate")
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
    warm_s = warm_backlog(spark, doc, landing, work / "warm", cfg.path)

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

    # phase 3: live, --rate events/s for --minutes, under the production trigger
    live = None
    if args.rate:
        last_ms = int(max(r.max_event_ts for r in prog if r.max_event_ts).timestamp() * 1000)
        live = live_feed(spark, cfg, doc, lines, landing, work, args.rate, args.minutes, last_ms)
    weeks = truth["days"] / 7
    print(f"{sum(r.input_rows for r in prog):,} queue records in {len(staged)} files, {n_items:,} items, "
          f"{len(prog)} micro-batches")
    print(f"sustained throughput      : {drained / drain_s:,.0f} events/s ({drained:,} events of a backlog in "
          f"{drain_s:.1f}s, {args.files_per_batch or 'all available'} files per micro-batch, query start included)")
    print(f"same backlog, JVM warm    : {drained / warm_s:,.0f} events/s ({warm_s:.1f}s: again into a fresh lakehouse "
          f"in this process, as a long-running process drains it, without the first run's JVM warm-up)")
    print(f"floor, same files         : {drained / floor_s:,.0f} events/s (plain spark.read.json to a no-op sink, "
          f"{floor_s:.1f}s): the job takes {drain_s / floor_s:.1f}x the time of parsing alone")
    p50, p95 = np.percentile(ms, 50) / 1000, np.percentile(ms, 95) / 1000
    print(f"micro-batch processing    : p50 {p50:.1f}s  p95 {p95:.1f}s "
          f"(trigger {cfg.trending.trigger}; production default 1 minute)")
    print("file landed -> in table   : " + ("  ".join(f"{d:.1f}s" for d in delays) or "n/a")
          + f" ({len(later)} files of ~{later[0][1]:,} events under the continuous query)")
    print(f"surges found              : {found}/{len(surges)}; false flags: {false} "
          f"({false / max(1, n_items) / weeks:.4f} per item-week)")
    if live:
        total, batches, after_last_s, live_delays = live
        secs = np.array([b[1] for b in batches])
        print(f"live, trigger 1 minute    : {total:,} events landed at {args.rate:,} events/s over {args.minutes} min "
              f"(a file every 10 s): {len(batches)} micro-batches of "
              f"{', '.join(f'{b[0]:,}' for b in batches)} events; processing "
              f"{', '.join(f'{x:.1f}s' for x in secs)} (max {secs.max():.1f}s = {secs.max() / 60:.0%} of the trigger); "
              f"all in the table {after_last_s:.0f}s after the last file landed; capacity "
              f"{total / secs.sum():,.0f} events/s (events / processing time)")
        print(f"live micro-batch processing: p50 {np.percentile(secs, 50):.1f}s  p95 {np.percentile(secs, 95):.1f}s "
              f"({np.percentile(secs, 95) / 60:.0%} of the 1-minute trigger); file landed -> in table: p50 "
              f"{np.percentile(live_delays, 50):.1f}s  p95 {np.percentile(live_delays, 95):.1f}s  max "
              f"{max(live_delays):.1f}s ({len(live_delays)} files; a file waits for the next trigger, then for its "
              f"batch)")
    print(json.dumps({"events_per_s": drained / drain_s, "warm_events_per_s": drained / warm_s,
                      "p50_s": float(np.percentile(ms, 50) / 1000),
                      "p95_s": float(np.percentile(ms, 95) / 1000), "delays_s": delays, "surges_found": found,
                      "surges": len(surges), "false_flags": false,
                      "floor_events_per_s": drained / floor_s,
                      "live_events": live[0] if live else None,
                      "live_batches": live[1] if live else None,
                      "live_after_last_file_s": live[2] if live else None,
                      "live_delays_s": live[3] if live else None}))
    spark.stop()
    cleanup(work)


TS = re.compile(r'(\\?"ts\\?":)\d+')  # in an object value, or in a value that is a string holding JSON


def warm_backlog(spark, doc, landing: Path, folder: Path, path: str) -> float:
    """Phase 1 again, timed the same way, in this process whose JVM phase 1 warmed up: the backlog's files (same
    modification times) into a fresh lakehouse and catalog database. A new process pays its JVM's warm-up (JIT
    compilation, class loading, Spark's generated code) during its first micro-batches; a query that keeps running,
    or a second run in one process, does not."""
    (folder / "landing").mkdir(parents=True)
    for f in sorted(landing.glob("*.jsonl")):
        shutil.copy2(f, folder / "landing" / f.name)
    warm = copy.deepcopy(doc)
    warm["lakehouse"], warm["database"] = str(folder / "lake"), "interlake_warm"
    warm["sources"]["pixel_queue"]["path"] = str(folder / "landing")
    t = time.time()
    run_trending(spark, parse_config(warm, path), once=True)
    seconds = time.time() - t
    shutil.rmtree(folder, ignore_errors=True)
    return seconds


def processed(cfg, since: int) -> int:
    """Input rows of the stream_progress rows after the first ``since`` (batch ids count from 0, one row each)."""
    path = cfg.table_path(T.STREAM_PROGRESS)
    t = to_arrow(DeltaTable(path), path, ["batch_id", "input_rows"])
    return sum(n for b, n in zip(t["batch_id"].to_pylist(), t["input_rows"].to_pylist(), strict=True) if b >= since)


def live_feed(spark, cfg, doc, lines, landing, work, rate, minutes, last_ms):
    """Phase 3: files of ``rate`` * 10 records (the generator's records cycled, the event time of the j-th one
    re-stamped to ``last_ms`` + 1 s + j / rate; records whose ts is not a number stay as they are and are quarantined)
    are written first, then land one every 10 s while the query runs with a 1-minute trigger. Returns (records,
    [(input rows, processing s) per micro-batch], s from the last landing to its rows being processed, [s from each
    file landing to its micro-batch's progress row])."""
    per_file, n_files = rate * 10, minutes * 6
    staged = []
    for f in range(n_files):
        out = []
        for j in range(f * per_file, (f + 1) * per_file):
            ts = last_ms + 1000 + j * 1000 // rate
            out.append(TS.sub(lambda m, ts=ts: f"{m.group(1)}{ts}", lines[j % len(lines)], count=1))
        p = work / f"live-{f:03d}.jsonl"
        p.write_text("\n".join(out) + "\n")
        staged.append(p)
    doc = copy.deepcopy(doc)
    doc["trending"]["trigger"] = "1 minute"
    doc["trending"].pop("max_files_per_trigger", None)  # a micro-batch takes whatever arrived since the last one
    live_cfg = parse_config(doc, cfg.path)
    since = progress_rows(live_cfg)  # the batch id of the first live batch
    total = per_file * n_files
    stop = threading.Event()
    waited: list[float] = []
    landed_at: dict[str, float] = {}

    def feeder() -> None:
        time.sleep(15)  # let the query start
        start = time.time()
        for k, p in enumerate(staged):
            time.sleep(max(0.0, start + 10 * k - time.time()))
            dest = landing / p.name
            shutil.move(str(p), dest)
            os.utime(dest, None)
            landed_at[p.name] = time.time()
        landed = time.time()
        while processed(live_cfg, since) < total:  # input rows count every record, quarantined ones too
            time.sleep(1)
        waited.append(time.time() - landed)
        stop.set()

    threading.Thread(target=feeder, daemon=True).start()
    run_trending(spark, live_cfg, once=False, stop_event=stop)
    prog = (spark.read.format("delta").load(cfg.table_path(T.STREAM_PROGRESS)).where(f"batch_id >= {since}")
            .orderBy("batch_id").collect())
    done = {r.batch_id: r.updated_at.replace(tzinfo=UTC).timestamp() for r in prog}
    batch_of = file_batches(f"{cfg.lakehouse}/_checkpoints/trending")
    delays = [done[batch_of[name]] - t for name, t in sorted(landed_at.items())]
    return (sum(r.input_rows for r in prog), [(r.input_rows, r.processing_ms / 1000) for r in prog], waited[0],
            delays)


def file_batches(checkpoint: str) -> dict[str, int]:
    """File name -> the micro-batch that took it, from the file stream source's log in the query's checkpoint
    (``sources/0/<batch>``, and the ``.compact`` files that fold earlier batches in: a version line, then a JSON
    entry per file)."""
    out = {}
    for f in Path(checkpoint, "sources", "0").iterdir():
        if not f.name.split(".")[0].isdigit():  # "<batch>" and "<batch>.compact"; not the hidden ".<batch>.crc"
            continue
        for line in f.read_text().splitlines()[1:]:
            entry = json.loads(line)
            out[entry["path"].rsplit("/", 1)[-1]] = entry["batchId"]
    return out


if __name__ == "__main__":
    main()

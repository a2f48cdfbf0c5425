"""Shared bench set-up: a local session from the one builder, a lakehouse in a temp folder, sample data."""

from __future__ import annotations

import shutil
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import yaml
from interlake.config import load_config
from interlake.sample.generator import generate
from interlake.session import build_session

ROOT = Path(__file__).resolve().parents[1]


def users_items_for(events: int, days: int = 14) -> tuple[int, int]:
    """The generator makes ~2.9 events per session and 0.6 sessions per user-day."""
    users = max(200, int(events / (days * 0.6 * 2.9)))
    return users, max(100, users // 10)


def setup(events: int, days: int = 14, seed: int = 1, shuffle: str = "8", items: int | None = None):
    work = Path(tempfile.mkdtemp(prefix="interlake-bench-"))
    users, default_items = users_items_for(events, days)
    items = items or default_items
    t = time.time()
    truth = generate(str(work / "sample"), users=users, items=items, days=days, seed=seed, start="2026-10-01")
    gen_s = time.time() - t
    doc = yaml.safe_load((ROOT / "conf/local.yaml").read_text())
    doc["lakehouse"] = str(work / "lake")
    doc["spark"] = {"master": "local[*]", "conf": {"spark.sql.shuffle.partitions": shuffle,
                                                   "spark.driver.memory": "12g",
                                                   "spark.sql.catalogImplementation": "in-memory"}}
    for src in doc["sources"].values():
        src["path"] = str(work / "sample" / Path(src["path"]).name)
    (work / "bench.yaml").write_text(yaml.safe_dump(doc))
    cfg = load_config(str(work / "bench.yaml"))
    spark = build_session(cfg.spark, cfg.lakehouse, database=cfg.database, app_name="interlake-bench")
    return work, cfg, spark, truth, gen_s


@contextmanager
def timer(results: dict, name: str):
    t = time.time()
    yield
    results[name] = time.time() - t


def cleanup(work: Path) -> None:
    shutil.rmtree(work, ignore_errors=True)


def exact_vs_lsh(spark, unit, settings, k: int):
    """Exact and LSH (``settings``: SimilaritySettings) on the same unit factors, timed side by side.
    Returns (exact, approx, exact_s, lsh_s, pairs scored by LSH); both results are materialized."""
    from interlake.train.similarity import exact_similarity, fit_lsh, lsh_similarity

    t = time.time()
    exact = exact_similarity(spark, unit, k=k).persist()
    exact.count()
    exact_s = time.time() - t
    t = time.time()
    model = fit_lsh(unit, bucket_length=settings.bucket_length, num_hash_tables=settings.num_hash_tables,
                    hashes_per_table=settings.hashes_per_table, seed=1)
    work: list[int] = []
    approx = lsh_similarity(unit, model, k=k, hashes_per_table=settings.hashes_per_table, work=work)
    return exact, approx, exact_s, time.time() - t, work[0]

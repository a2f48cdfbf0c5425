"""Parquet footers benchmark: what reading every file's footer first (to group the files by schema, each group read
with its own: lib/interlake/ingest/readers.py ``_read_parquet``) adds to the ingest of a Parquet source.

    python bench/parquet_footers.py [--files 200] [--rows 1000000]

Writes ``--rows`` interactions as ``--files`` Parquet files of one schema, then times side by side in one process:
the footer pass as ingest makes it (first in the process, then again), a plain Spark read of the same files (a
count), and a full ``interlake ingest`` of them; prints each, the footer pass per file, and its share of the ingest.
"""

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import timer  # noqa: E402
from interlake.config import parse_config  # noqa: E402
from interlake.fs import parquet_schema_reader  # noqa: E402
from interlake.ingest.files import list_files  # noqa: E402
from interlake.ingest.pipeline import ingest  # noqa: E402
from interlake.ingest.readers import literal_path, reader_path  # noqa: E402
from interlake.session import build_session  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=200)
    ap.add_argument("--rows", type=int, default=1_000_000)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="interlake-bench-"))
    try:
        cfg = parse_config({
            "lakehouse": str(work / "lake"),
            "spark": {"master": "local[*]", "conf": {"spark.sql.shuffle.partitions": "8",
                                                     "spark.driver.memory": "8g",
                                                     "spark.sql.catalogImplementation": "in-memory"}},
            "interaction_types": {"view": {"weight": 1.0}, "purchase": {"weight": 8.0}},
            "sources": {"pq": {"format": "parquet", "path": str(work / "in"), "timestamp_format": "epoch_s",
                               "fields": {"user_id": "uid", "item_id": "sku", "interaction_type": "ev",
                                          "timestamp": "ts"}}}}, "bench")
        spark = build_session(cfg.spark, cfg.lakehouse, database=cfg.database, app_name="interlake-bench")
        (spark.range(args.rows)
         .selectExpr("concat('u', id % 50000) AS uid", "concat('i', id % 5000) AS sku",
                     "IF(id % 10 = 0, 'purchase', 'view') AS ev", "1790000000 + id AS ts")
         .repartition(args.files).write.parquet(str(work / "in")))
        files = [reader_path(f.file) for f in list_files(spark, str(work / "in"))]
        print(f"{args.rows:,} rows in {len(files)} Parquet files")
        t = {}
        for name in ("footers (first)", "footers (again)"):
            with timer(t, name):
                schema = parquet_schema_reader(spark)
                schemas = {schema(literal_path(f)) for f in files}
        assert len(schemas) == 1, schemas
        with timer(t, "spark read (count)"):
            spark.read.parquet(*files).count()
        with timer(t, "interlake ingest"):
            result = ingest(spark, cfg)
        assert result.ok and result.sources[0].files and sum(f.rows_accepted for f in result.sources[0].files) == \
            args.rows, [s.message for s in result.sources]
        for name, seconds in t.items():
            print(f"{name:20s}: {seconds:7.2f}s")
        footers = t["footers (first)"]
        print(f"{'footer pass':20s}: {footers / len(files) * 1000:.1f} ms a file (first), "
              f"{t['footers (again)'] / len(files) * 1000:.1f} ms (again); "
              f"{footers / t['interlake ingest']:.1%} of the ingest, "
              f"{footers / t['spark read (count)']:.2f}x a plain read of the files")
        spark.stop()
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

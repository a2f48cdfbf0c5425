"""`interlake sql --out` benchmark: the result written by Spark as one file vs collected through pandas (what `--out`
did before 2026-11-30), same query, side by side, each in a process of its own so its memory is its own, with the
shipped config's Spark settings.

    python bench/sql_out.py [--rows 4000000] [--width 300]

Prints each way's time and the peak memory of its Python process, and their ratios. The query makes ``rows`` rows of
an id and a ``width``-character text (4M x 300: a 1.2 GB result).
"""

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = """
import dataclasses, resource, sys, time
from interlake.config import load_config
from interlake.session import build_session
from interlake.analyst.sql import write_result
way, query, out = sys.argv[1:4]
settings = load_config("conf/local.yaml").spark  # what `interlake sql` gets from the shipped config (4g driver)
settings = dataclasses.replace(settings, conf={**settings.conf, "spark.sql.catalogImplementation": "in-memory"})
spark = build_session(settings, sys.argv[4], register=False)
spark.sql("SELECT 1").collect()  # the session's start is not what is measured
t = time.time()
df = spark.sql(query)
if way == "spark":
    rows = write_result(spark, df, out, "parquet")
else:  # the old --out: every row into the driver, then pandas writes the file
    pdf = df.toPandas()
    pdf.to_parquet(out, index=False)
    rows = len(pdf)
print(rows, time.time() - t, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
"""


def run(way: str, query: str, work: Path) -> tuple[int, float, float] | str:
    proc = subprocess.run([sys.executable, "-c", CHILD, way, query, str(work / f"{way}.parquet"), str(work / "lake")],
                          capture_output=True, text=True, cwd=ROOT)
    if proc.returncode != 0:
        cause = [line for line in proc.stderr.splitlines() if "Error" in line or "Exception" in line][-1:]
        return f"failed: {(cause or proc.stderr.strip().splitlines()[-1:])[0].strip()[:200]}"
    rows, seconds, mb = proc.stdout.split()[-3:]
    return int(rows), float(seconds), float(mb)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=4_000_000)
    ap.add_argument("--width", type=int, default=300)
    args = ap.parse_args()
    query = f"SELECT id, repeat('x', {args.width}) AS s FROM range({args.rows})"
    with tempfile.TemporaryDirectory(prefix="interlake-bench-") as tmp:
        work = Path(tmp)
        before = run("pandas", query, work)
        now = run("spark", query, work)
    print(f"result: {args.rows:,} rows, ~{args.rows * (args.width + 8) / 1e9:.1f} GB")
    for label, got in (("through pandas (before)", before), ("written by Spark (--out)", now)):
        if isinstance(got, str):
            print(f"{label:26}: {got}")
        else:
            assert got[0] == args.rows, got
            print(f"{label:26}: {got[1]:6.1f}s  peak Python memory {got[2]:8,.0f} MB")
    if not isinstance(before, str) and not isinstance(now, str):
        print(f"ratio pandas / Spark      : {before[1] / now[1]:6.1f}x time, {before[2] / now[2]:.0f}x memory")


if __name__ == "__main__":
    main()

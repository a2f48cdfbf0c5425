"""``interlake sql`` and ``interlake tables``: the lakehouse by name, without knowing paths."""

from __future__ import annotations

import os

from delta.tables import DeltaTable
from pyspark.sql import SparkSession

from interlake.config import Config
from interlake.errors import InterlakeError
from interlake.tables.catalog import lakehouse_tables


def format_table(header: list[str], rows: list[list]) -> str:
    """A plain, aligned text table (numbers right-aligned)."""
    text = [[("" if v is None else f"{v:,.4f}".rstrip("0").rstrip(".") if isinstance(v, float) else str(v))
             for v in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in text]) for i, h in enumerate(header)]
    numeric = [all(isinstance(r[i], (int, float)) or r[i] is None for r in rows) and rows for i in range(len(header))]

    def line(values: list[str]) -> str:
        return "  ".join(v.rjust(w) if numeric[i] else v.ljust(w)
                         for i, (v, w) in enumerate(zip(values, widths, strict=True)))

    lines = [line(header)]
    lines.append("  ".join("-" * w for w in widths))
    for r in text:
        lines.append(line(r))
    return "\n".join(lines)


def run_sql(spark: SparkSession, query: str, *, out: str | None = None, limit: int = 50) -> None:
    try:
        df = spark.sql(query)
    except Exception as exc:
        first = str(exc).strip().splitlines()[0]
        raise InterlakeError(f"query failed: {first}. `interlake tables` lists the tables you can query") from None
    if out:
        pdf = df.toPandas()
        if out.endswith(".parquet"):
            pdf.to_parquet(out, index=False)
        elif out.endswith(".csv"):
            pdf.to_csv(out, index=False)
        else:
            raise InterlakeError(f"--out {out}: the file name must end in .csv or .parquet")
        print(f"wrote {len(pdf):,} rows to {out}")
        return
    rows = df.limit(limit + 1).collect()
    print(format_table(df.columns, [list(r) for r in rows[:limit]]))
    more = " (more rows not shown; use --limit or --out)" if len(rows) > limit else ""
    print(f"({min(len(rows), limit)} rows{more})")


def table_summaries(spark: SparkSession, cfg: Config) -> list[dict]:
    summaries = []
    for name, path in lakehouse_tables(cfg.lakehouse).items():
        table = DeltaTable.forPath(spark, path)
        detail = table.detail().first()
        last = table.history(1).first()
        summaries.append({"table": f"{cfg.database}.{name}", "rows": table.toDF().count(),
                          "version": last["version"], "size_mb": round((detail["sizeInBytes"] or 0) / 2**20, 2),
                          "last_operation": last["operation"],
                          "at": last["timestamp"].strftime("%Y-%m-%d %H:%M:%S")})
    return summaries


def print_tables(spark: SparkSession, cfg: Config) -> None:
    summaries = table_summaries(spark, cfg)
    if not summaries:
        print(f"no tables under {cfg.lakehouse} yet: run `interlake ingest` first")
        return
    header = ["table", "rows", "version", "size_mb", "last_operation", "at"]
    print(format_table(header, [[s[h] for h in header] for s in summaries]))
    print(f"lakehouse: {os.path.relpath(cfg.lakehouse) if '://' not in cfg.lakehouse else cfg.lakehouse}")

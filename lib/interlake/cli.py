"""The ``interlake`` command. Each subcommand parses its flags, loads the config, builds the session and calls
one pipeline function. A user mistake ends in one line on stderr and a non-zero exit, never a traceback."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import traceback

from interlake.errors import InterlakeError, failure_line

log = logging.getLogger("interlake")


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--conf", metavar="PATH",
                   help="YAML config (default: $INTERLAKE_CONF or the packaged conf/local.yaml)")
    p.add_argument("--log-format", choices=("text", "json"), default="text", help="json: one JSON object per log line")
    p.add_argument("--debug", action="store_true", help="show tracebacks and debug logs")


def _at_least(least: int):
    """An argparse type: an integer no smaller than ``least`` (argparse then names the flag: exit 2, one line)."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < least:
            raise argparse.ArgumentTypeError(f"{value} is below {least}")
        return value

    parse.__name__ = "number"  # argparse names the type in its messages
    return parse


def _version() -> str:
    """``interlake 0.1.0 (pyspark 4.1.1, delta-spark 4.4.0)``: what a bug report needs, read without starting Spark."""
    from importlib.metadata import PackageNotFoundError, version

    from interlake import __version__

    def of(package: str) -> str:
        try:
            return version(package)
        except PackageNotFoundError:
            return "not installed"

    return f"interlake {__version__} (pyspark {of('pyspark')}, delta-spark {of('delta-spark')})"


# What each command does, shown by `interlake COMMAND --help` above its options (the README has the whole story).
DESCRIPTIONS = {
    "generate": "Write a seeded e-commerce sample data set: a CSV export and queue dumps per day, items.csv, "
                "users.csv and truth.json (counts and the known surges), for the demo and the benchmarks.",
    "ingest": "Take each source's new or changed files, standardize and validate their records, quarantine bad ones "
              "with their reasons, gate each source with Great Expectations and MERGE its new events into Delta "
              "`interactions`; print each file's read = accepted + duplicate + quarantined. Safe to re-run: files "
              "already taken are skipped. Exit 1 when a source failed.",
    "train": "Train ALS on implicit feedback (type weights, time decay) from `interactions`, find similar items with "
             "LSH, evaluate against a popularity baseline, and publish `item_similarity`, `user_recommendations` and "
             "`item_factors` when the model passes the promotion gate; every run is kept in `model_runs`.",
    "models": "Print the newest model runs side by side: metrics, parameters, data version, published or not.",
    "trending": "The Structured Streaming job: interactions per item and event-time window, scored against each "
                "item's forecast into `trending_items`, with `item_popularity` and `stream_progress`. Runs until "
                "stopped (SIGTERM or Ctrl-C end the batch in progress first); --once takes what is there and stops.",
    "sql": "Run one SQL statement over the lakehouse tables by name; print the result as a table or write it to one "
           "file with --out.",
    "tables": "List every table of the lakehouse: rows, Delta version, size, last operation and its time, and when "
              "its rows last changed.",
    "report": "Write a static HTML page with plots (daily volume per type, funnel, models against the baseline, the "
              "top trending item's counts against its forecast) and tables (quarantine reasons, similar items).",
    "maintain": "OPTIMIZE every table (Z-ordered where readers filter), VACUUM it with the configured retention, and "
                "trim quarantine and ledger rows older than theirs; print what was done.",
    "run-job": "Run a job of the Databricks Asset Bundle (databricks.yml) on this machine: its tasks in dependency "
               "order, each through its jobs/*.py entry point with the bundle's parameters.",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="interlake", description="Spark + Delta jobs for interaction data")
    parser.add_argument("--version", action="version", version=_version())
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    parser.set_defaults(_commands=sub.choices)

    g = sub.add_parser("generate", help="write a seeded sample data set (CSV export + queue dumps + truth)")
    g.add_argument("--out", required=True, metavar="DIR",
                   help="folder to write into (shop_export/, pixel_queue/, truth.json)")
    g.add_argument("--users", type=int, default=2000, metavar="N", help="users (default 2000)")
    g.add_argument("--items", type=int, default=400, metavar="N", help="items (default 400)")
    g.add_argument("--days", type=int, default=14, metavar="N", help="days of events (default 14)")
    g.add_argument("--seed", type=int, default=7, metavar="N",
                   help="random seed: the same seed and --start write the same files (default 7)")
    g.add_argument("--start", metavar="YYYY-MM-DD", help="first day (default: DAYS days before today, UTC)")
    g.add_argument("--log-format", choices=("text", "json"), default="text", help="json: one JSON object per log line")
    g.add_argument("--debug", action="store_true", help="show tracebacks and debug logs")

    i = sub.add_parser("ingest", help="ingest new files of every (or the named) source into Delta `interactions`")
    _common(i)
    i.add_argument("--source", action="extend", nargs="+", metavar="NAME",
                   help="only these sources (--source a b, or --source a --source b)")
    i.add_argument("--dry-run", action="store_true",
                   help="read, validate, gate and classify the new files and print the report; write nothing")
    i.add_argument("--retake-quarantined", action="store_true",
                   help="also take again the files whose last take quarantined records (after fixing the config: "
                        "the records valid now are added, the rest replace the files' quarantine rows)")

    t = sub.add_parser("train", help="train ALS + LSH similarity, evaluate, publish if it passes the gate")
    _common(t)
    t.add_argument("--data-version", type=_at_least(0), metavar="N", help="train on this Delta version of interactions")
    t.add_argument("--force", action="store_true", help="publish even if the promotion gate refuses the model")

    m = sub.add_parser("models", help="print model runs side by side")
    _common(m)
    m.add_argument("--last", type=_at_least(1), default=10, metavar="N", help="the newest N runs (default 10)")

    tr = sub.add_parser("trending", help="the streaming trending job")
    _common(tr)
    tr.add_argument("--once", action="store_true", help="process everything available, then stop")

    s = sub.add_parser("sql", help="run a SQL query over the lakehouse tables")
    _common(s)
    s.add_argument("query", nargs="?",
                   help='one SQL statement; tables by name, e.g. "SELECT * FROM interactions LIMIT 5"')
    s.add_argument("-f", "--file", metavar="PATH",
                   help="read the statement from this file instead (-: from standard input), as spark-sql -f does")
    s.add_argument("--out", metavar="PATH", help="write the result (.csv or .parquet) instead of printing")
    s.add_argument("--limit", type=_at_least(1), default=50, metavar="N", help="rows to print (default 50)")
    s.add_argument("--engine", choices=("spark", "duckdb"), default="spark",
                   help="spark (default): Spark SQL through the catalog; duckdb: DuckDB's SQL over a local "
                        "lakehouse, answered in about a second without starting Spark")

    tb = sub.add_parser("tables", help="list every table: rows, version, size, last operation")
    _common(tb)

    r = sub.add_parser("report", help="write a static HTML report with plots")
    _common(r)
    r.add_argument("--out", default="report", metavar="DIR",
                   help="folder for index.html and its images (default report)")

    mt = sub.add_parser("maintain", help="OPTIMIZE, VACUUM and retention trimming")
    _common(mt)
    mt.add_argument("--force", action="store_true", help="allow a VACUUM retention below Delta's safety default")

    rj = sub.add_parser("run-job", help="run a job of databricks.yml locally, tasks in dependency order")
    _common(rj)
    rj.add_argument("name", help="a job of the bundle: nightly or trending in the shipped databricks.yml")
    rj.add_argument("--bundle", default=None, metavar="PATH", help="path of databricks.yml")
    for name, command in sub.choices.items():
        command.description = DESCRIPTIONS[name]
    return parser


def _session(cfg, app: str):
    from interlake.interrupts import install
    from interlake.log import quiet_query_context_loggers
    from interlake.session import build_session

    quiet_query_context_loggers()
    spark = build_session(cfg.spark, cfg.lakehouse, database=cfg.database, app_name=f"interlake-{app}")
    install(spark)  # Ctrl-C: PySpark's handler (installed with the context) re-enters py4j; see interlake.interrupts
    return spark


def run(args: argparse.Namespace) -> int:
    from interlake.config import load_config

    if args.command == "generate":
        from interlake.sample.generator import generate

        truth = generate(args.out, users=args.users, items=args.items, days=args.days, seed=args.seed,
                         start=args.start)
        days = f"{truth['days']} day{'s' if truth['days'] != 1 else ''}"
        print(f"generated {truth['unique_events']:,} interactions ({days}, {truth['users']:,} users, "
              f"{truth['items']:,} items, {len(truth['surges'])} surges) under {args.out}")
        return 0

    cfg = load_config(args.conf)
    if args.command == "ingest":
        from interlake.ingest.noop import no_source_folder, nothing_new
        from interlake.ingest.pipeline import ingest, print_report

        cfg.selected_sources(args.source)  # no source, or an unknown name: a config error before anything starts
        # a re-run that finds nothing new is answered without starting Spark (see ingest/noop.py)
        result = (no_source_folder(cfg, args.source, dry_run=args.dry_run)
                  or nothing_new(cfg, args.source, retake_quarantined=args.retake_quarantined))
        if result is None:
            result = ingest(_session(cfg, "ingest"), cfg, sources=args.source, dry_run=args.dry_run,
                            retake_quarantined=args.retake_quarantined)
        result.dry_run = args.dry_run
        print_report(result)
        return 0 if result.ok else 1
    if args.command == "train":
        from interlake.train.pipeline import no_interactions_error, no_interactions_here, print_train_summary, train

        if no_interactions_here(cfg):  # said before Spark starts
            raise no_interactions_error(cfg)
        result = train(_session(cfg, "train"), cfg, data_version=args.data_version, force=args.force)
        print_train_summary(result)
        return 0
    if args.command == "models":
        from interlake.train.registry import model_runs, print_models

        # a local lakehouse is answered without starting Spark
        runs = model_runs(None, cfg, last=args.last)
        print_models(runs if runs is not None else model_runs(_session(cfg, "models"), cfg, last=args.last))
        return 0
    if args.command == "trending":
        from interlake.config import check_trending_source
        from interlake.trending.pipeline import print_trending_summary, run_trending

        # said before Spark starts, not 25 s after; the queue folder is checked through Spark's filesystem (a path
        # without a scheme may be on a cluster's default filesystem, not on this machine's disk)
        check_trending_source(cfg.trending, cfg.sources)
        spark = _session(cfg, "trending")
        print_trending_summary(spark, cfg, run_trending(spark, cfg, once=args.once))
        return 0
    if args.command == "sql":
        if args.file:
            args.query = _read_query(args.file)
        if args.out:  # said before Spark starts, not 20 s after
            from interlake.analyst.sql import out_format

            out_format(args.out)
        if args.engine == "duckdb":
            from interlake.analyst.duck import run_sql_duckdb

            run_sql_duckdb(cfg, args.query, out=args.out, limit=args.limit)
            return 0
        from interlake.analyst.sql import run_sql

        run_sql(_session(cfg, "sql"), args.query, database=cfg.database, out=args.out, limit=args.limit)
        return 0
    if args.command == "tables":
        from interlake.analyst.sql import print_tables, table_summaries, table_summaries_without_spark

        # a local lakehouse is answered from the Delta logs without starting Spark
        summaries = table_summaries_without_spark(cfg)
        print_tables(cfg, summaries if summaries is not None else table_summaries(_session(cfg, "tables"), cfg))
        return 0
    if args.command == "report":
        from interlake.analyst.report import write_report
        from interlake.fs import file_in_the_way

        if os.path.exists(args.out) and not os.path.isdir(args.out):  # before Spark starts, not after
            raise InterlakeError(f"--out {args.out}: is a file; the report is a folder (index.html and its images): "
                                 "give a folder's name")
        blocker = file_in_the_way(args.out)
        if blocker:
            raise InterlakeError(f"--out {args.out}: {blocker} is a file, not a folder; give a folder's name")
        path = write_report(_session(cfg, "report"), cfg, args.out)
        print(f"report written: {path}")
        return 0
    if args.command == "maintain":
        from interlake.analyst.maintain import maintain, print_maintenance

        print_maintenance(maintain(_session(cfg, "maintain"), cfg, force=args.force))
        return 0
    if args.command == "run-job":
        from interlake.scheduling import run_job

        return run_job(args.name, conf=args.conf, bundle=args.bundle)
    raise AssertionError(args.command)


def _read_query(path: str) -> str:
    """The statement of ``interlake sql --file``: the file's text (``-``: standard input)."""
    try:
        text = sys.stdin.read() if path == "-" else open(path, encoding="utf-8").read()
    except OSError as exc:
        raise InterlakeError(f"--file {path}: {exc.strerror.lower() if exc.strerror else exc}") from None
    except UnicodeDecodeError:
        raise InterlakeError(f"--file {path}: is not UTF-8 text") from None
    if not text.strip():
        raise InterlakeError(f"--file {path}: is empty; it should hold one SQL statement")
    return text


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line, an unknown argument said with the command's own usage (argparse gives the top level's:
    ``usage: interlake [-h] [--version] COMMAND ...``, which does not show what the command takes)."""
    args, extra = build_parser().parse_known_args(argv)
    if extra:
        args._commands[args.command].error(f"unrecognized arguments: {' '.join(extra)}")
    if args.command == "sql" and (args.query is None) == (args.file is None):
        args._commands["sql"].error("give the query or --file PATH, not both" if args.file else
                                    "the query is required (or --file PATH holding it)")
    if args.command == "sql" and args.query is not None and not args.query.strip():
        args._commands["sql"].error('the query is empty: give one SQL statement, e.g. "SELECT count(*) FROM '
                                    'interactions"')
    del args._commands
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from interlake.log import setup_logging

    setup_logging(args.log_format, args.debug)
    from interlake.interrupts import exit_code, interrupted, settle

    try:
        return run(args)
    except KeyboardInterrupt:
        settle()
        print(f"interlake {args.command}: interrupted", file=sys.stderr)
        return exit_code()
    except Exception as exc:
        if interrupted():  # a Spark job cancelled by Ctrl-C fails as it must; that is the interruption, not an error
            settle()
            print(f"interlake {args.command}: interrupted", file=sys.stderr)
            return exit_code()
        if isinstance(exc, InterlakeError):
            print(f"interlake {args.command}: error: {exc}", file=sys.stderr)
            return exc.exit_code
        # the last line of defence: one line, the traceback only with --debug
        if args.debug:
            traceback.print_exc()
        print(f"interlake {args.command}: failed: {failure_line(exc)} (rerun with --debug for details)",
              file=sys.stderr)
        return 1

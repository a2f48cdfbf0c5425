"""A re-run with nothing to do, answered without starting Spark.

A schedule that runs ``interlake ingest`` every few minutes mostly finds no new file. Deciding that takes the
ledger (a small Delta table) and a listing of each source's folder. With Spark it also takes a JVM, the metastore and
Delta's first snapshot (~16 s on the 2-core machine: bench/ingest.py); without it, well under a second.

``nothing_new`` answers only when it is sure, and otherwise returns None (run the job): the lakehouse and every
selected source folder are local, the ledger reads right without Spark (delta-rs for its log, pyarrow for its
files; no deletion vectors or column mapping), no run of a selected source is left pending (its recovery needs
Spark), and every file of every folder is in the ledger with the size and modification time it was taken with (the
same comparison as the job's: ``pipeline.new_files``). It only reads.

Example:
    >>> result = nothing_new(cfg) or ingest(build_session(...), cfg)
"""

from __future__ import annotations

import logging
import os
from datetime import datetime

from interlake.clock import utc_now
from interlake.config import Config, local_folder
from interlake.ingest import ledger as L
from interlake.ingest.files import is_glob, list_local_files, missing_folder
from interlake.ingest.pipeline import IngestResult, SourceResult, new_files, new_run_id, settled
from interlake.log import progress
from interlake.schemas import tables as T
from interlake.tables.without_spark import local_rows

log = logging.getLogger("interlake.ingest.pipeline")  # the job's progress lines, whichever path wrote them


def ledger_rows(ledger_path: str) -> list[dict] | None:
    """Every ledger row (``source`` and ``ledger.STATE_COLUMNS``) read without Spark, or None when that is not sure
    to give the rows (deletion vectors, column mapping) or fails."""
    rows = local_rows(ledger_path, ["source", *L.STATE_COLUMNS])
    if rows is None:
        log.debug("ledger %s not readable without Spark: running the job", ledger_path)
    return rows


def nothing_new(cfg: Config, sources: list[str] | None = None, *, now: datetime | None = None,
                retake_quarantined: bool = False) -> IngestResult | None:
    """The result of a run that finds no new or changed file in any selected source (with ``retake_quarantined``,
    nor a file whose latest take quarantined records), if that is certain without Spark; otherwise None. Unknown
    source names raise the job's ConfigError."""
    selected = cfg.selected_sources(sources)
    interactions = local_folder(cfg.table_path(T.INTERACTIONS))
    if interactions is None or not os.path.isdir(os.path.join(interactions, "_delta_log")):
        return None  # no table the ledger's files went into: the job says so (or creates it)
    rows = ledger_rows(cfg.table_path(T.LEDGER))
    if rows is None:
        return None
    now = utc_now(now)
    seen = []
    for src in selected:
        listing = list_local_files(src.path, recursive=src.recursive, name_filter=src.name_filter)
        if listing is None:
            return None
        state = L.state_of([r for r in rows if r["source"] == src.name])
        ready = settled(src, listing, state.taken, now, say=False)
        if (state.pending or new_files(ready, state.taken)
                or retake_quarantined and state.quarantined & {f.file for f in ready}):
            return None
        seen.append((src, listing, state))
    for src, listing, state in seen:  # certain now: say what the job says of files left for a later run
        settled(src, listing, state.taken, now)
        progress(log, "no new files", source=src.name)
    return IngestResult(new_run_id(now), [SourceResult(src.name, "no new files") for src in selected])


def no_source_folder(cfg: Config, sources: list[str] | None = None, *, dry_run: bool = False,
                     now: datetime | None = None) -> IngestResult | None:
    """The failed result of a run none of whose selected sources has its local folder (a path mistyped, a share not
    mounted, the packaged config run from another folder), said without Spark: the job took ~20 s to start Spark and
    created the empty ingest tables before saying so. None (run the job) when any selected folder exists or is a
    URI or glob, or when a selected source has a run left pending (its recovery needs Spark)."""
    selected = cfg.selected_sources(sources)
    folders = [local_folder(s.path) for s in selected]  # a file: URI is the path it names
    if any(f is None or is_glob(f) or os.path.exists(f) for f in folders):
        return None
    ledger = local_folder(cfg.table_path(T.LEDGER))
    if ledger is not None and os.path.isdir(os.path.join(ledger, "_delta_log")):
        rows = ledger_rows(ledger)
        if rows is None or any(L.state_of([r for r in rows if r["source"] == s.name]).pending for s in selected):
            return None
    results = []
    for src in selected:
        message = missing_folder(src.path, f"sources.{src.name}.path")
        log.error("source %s failed: %s", src.name, message)  # as the job says it
        results.append(SourceResult(src.name, "failed", message))
    return IngestResult(new_run_id(utc_now(now)), results, dry_run=dry_run)

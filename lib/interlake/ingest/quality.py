"""The quality gate: Great Expectations suites (``schemas/expectations/*.json``) run on a source's accepted rows
and on its run statistics. A failure stops that source before anything is written; every result is kept as JSON
and as a readable HTML page under ``<lakehouse>/_quality/<run_id>/``."""

from __future__ import annotations

import html
import json
import logging
from dataclasses import dataclass, field
from datetime import datetime
from importlib.resources import files
from typing import Any

from pyspark.sql import DataFrame, SparkSession

from interlake.config import instant_utc
from interlake.ingest.validate import describe_reason

log = logging.getLogger(__name__)


@dataclass
class GateResult:
    success: bool
    failures: list[str] = field(default_factory=list)
    results: list[dict[str, Any]] = field(default_factory=list)


def _fill(value: Any, params: dict[str, Any]) -> Any:
    if isinstance(value, str) and value.startswith("$"):
        return params[value[1:]]
    if isinstance(value, dict):
        return {k: _fill(v, params) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, params) for v in value]
    return value


def load_suite(name: str, params: dict[str, Any]):
    """An ExpectationSuite from ``schemas/expectations/<name>.json`` with its ``$``-placeholders filled."""
    import great_expectations as gx
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

    doc = json.loads((files("interlake.schemas") / "expectations" / f"{name}.json").read_text())
    expectations = [ExpectationConfiguration(type=e["type"], kwargs=_fill(e["kwargs"], params)).to_domain_obj()
                    for e in doc["expectations"]]
    return gx.ExpectationSuite(name=doc["name"], expectations=expectations)


_CONTEXT: dict[str, Any] = {}


def _batch_definition(kind: str, suite_name: str, session_id: int):
    """One ephemeral GX context per process (making one costs seconds), one data source per kind (spark for the
    accepted rows, pandas for the one-row run statistics), one asset per suite."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    # GX sets this logger to INFO when it is imported (after setup_logging quietened it): every run printed a line
    # about a temporary "ephemeral docs site" among the job's own progress lines
    logging.getLogger("great_expectations.data_context.types.base").setLevel(logging.WARNING)
    if _CONTEXT.get("session") != session_id:  # a new Spark session: start over, nothing may point at the old one
        _CONTEXT.clear()
        _CONTEXT["session"] = session_id
    if "context" not in _CONTEXT:
        context = gx.get_context(mode="ephemeral")
        context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
        _CONTEXT["context"] = context
    context = _CONTEXT["context"]
    key = (kind, suite_name)
    if key not in _CONTEXT:
        name = f"interlake_{kind}"
        try:
            source = context.data_sources.get(name)
        except Exception:  # noqa: BLE001  (GX raises its own not-found types)
            source = context.data_sources.add_spark(name=name) if kind == "spark" else \
                context.data_sources.add_pandas(name=name)
        asset = source.add_dataframe_asset(name=suite_name)
        _CONTEXT[key] = asset.add_batch_definition_whole_dataframe("run")
    return _CONTEXT[key]


def _validate(df, suite, session_id: int, kind: str = "spark") -> dict[str, Any]:
    batch = _batch_definition(kind, suite.name, session_id).get_batch(batch_parameters={"dataframe": df})
    # BASIC: counts and up to 20 unexpected examples per expectation; SUMMARY's value counts cost a job each
    return batch.validate(suite, result_format="BASIC").to_json_dict()


def _failure_lines(result: dict[str, Any]) -> list[str]:
    lines = []
    for r in result["results"]:
        if r["success"]:
            continue
        cfg = r["expectation_config"]
        kwargs = {k: v for k, v in cfg["kwargs"].items() if k != "batch_id"}
        res = r.get("result", {})
        examples = res.get("partial_unexpected_list", [])[:3]
        error = (r.get("exception_info") or {}).get("exception_message")
        if error:
            lines.append(f"{cfg['type']} on {kwargs.get('column')} could not run: {error.splitlines()[0]}")
            continue
        lines.append(f"{cfg['type']}({', '.join(f'{k}={v}' for k, v in kwargs.items())}): "
                     f"{res.get('unexpected_count', '?')} unexpected, e.g. {examples}")
    return lines


def run_quality_gate(spark: SparkSession, accepted: DataFrame, *, source: str, vocabulary: tuple[str, ...],
                     min_timestamp: str, max_timestamp: datetime, rows_read: int, rows_quarantined: int,
                     max_quarantine_share: float, top_reasons: list[tuple[str, int, list[str]]] = (),
                     hint: str = "", share_setting: str = "ingest.max_quarantine_share") -> GateResult:
    """Validate one source's accepted rows and its quarantine share. ``top_reasons`` (reason, rows, examples), the
    most common reasons rows were quarantined (``reason_counts``), and a ``hint`` ("; the values look like ...") go
    into the failure line when the share is too high: nothing is written then, so the line is where a person learns
    what to fix. ``share_setting`` is the key the maximum share came from (a source may set its own)."""
    rows = load_suite("interactions_accepted", {"vocabulary": list(vocabulary),
                                                "min_timestamp": instant_utc(min_timestamp, "ingest.min_timestamp")
                                                .replace(tzinfo=None),
                                                "max_timestamp": max_timestamp})
    share = rows_quarantined / rows_read if rows_read else 0.0
    import pandas as pd

    stats_df = pd.DataFrame({"source": [source], "rows_read": [rows_read], "rows_quarantined": [rows_quarantined],
                             "quarantine_share": [float(share)]})
    stats = load_suite("ingest_run", {"max_quarantine_share": max_quarantine_share})
    session_id = id(spark.sparkContext._jsc)
    results = [_validate(accepted, rows, session_id), _validate(stats_df, stats, session_id, "pandas")]
    failures = [line for r in results for line in _failure_lines(r)]
    if share > max_quarantine_share:
        counted = [describe_reason(*r) for r in top_reasons]
        why = "; most common reasons: " + ", ".join(counted) if counted else ""
        failures = [f"{share:.1%} of {rows_read:,} records were quarantined, above the maximum "
                    f"{max_quarantine_share:.1%} ({share_setting}){why}{hint}"] + [
            f for f in failures if "quarantine_share" not in f]
    return GateResult(success=all(r["success"] for r in results), failures=failures, results=results)


def render_html(source: str, run_id: str, gate: GateResult) -> str:
    rows = []
    for suite in gate.results:
        for r in suite["results"]:
            cfg = r["expectation_config"]
            kwargs = ", ".join(f"{k}={v}" for k, v in cfg["kwargs"].items() if k != "batch_id")
            res = r.get("result", {})
            observed = res.get("observed_value", res.get("unexpected_count", ""))
            examples = res.get("partial_unexpected_list", [])[:5]
            status = "pass" if r["success"] else "FAIL"
            rows.append(f"<tr class='{status.lower()}'><td>{status}</td><td>{html.escape(cfg['type'])}</td>"
                        f"<td>{html.escape(kwargs)}</td><td>{html.escape(str(observed))}</td>"
                        f"<td>{html.escape(str(examples))}</td></tr>")
    verdict = "passed" if gate.success else "FAILED"
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>Quality gate {source} {run_id}</title>
<style>body{{font-family:sans-serif;margin:2em}}td,th{{padding:4px 8px;border-bottom:1px solid #ddd;text-align:left}}
tr.fail td{{background:#fde2e2}} tr.pass td:first-child{{color:#1a7f37}}</style></head><body>
<h1>Quality gate: source <code>{html.escape(source)}</code> {verdict}</h1><p>run {html.escape(run_id)}</p>
<ul>{''.join(f'<li>{html.escape(f)}</li>' for f in gate.failures)}</ul>
<table><tr><th>result</th><th>expectation</th><th>parameters</th><th>unexpected / observed</th><th>examples</th></tr>
{''.join(rows)}</table></body></html>"""

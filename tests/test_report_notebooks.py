"""The HTML report renders in headless Chromium with every image loaded; the notebooks run against a lakehouse."""

import os
import re
import shutil
import subprocess

import pytest
from interlake.analyst.report import write_report
from interlake.trending.pipeline import run_trending

from tests.conftest import ROOT


@pytest.fixture(scope="module")
def lake_with_trending(spark, demo_lake):
    cfg, _, root = demo_lake
    run_trending(spark, cfg, once=True)
    return cfg, root


def test_report_renders_in_headless_chromium(spark, lake_with_trending, tmp_path):
    cfg, _ = lake_with_trending
    page = write_report(spark, cfg, str(tmp_path / "report"))
    assert {"volume.png", "funnel.png", "models.png", "trending.png"} <= set(os.listdir(tmp_path / "report"))
    chromium = shutil.which("chromium")
    assert chromium, "chromium is missing: `make setup` installs Debian's chromium package"
    proc = subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                           "--disable-component-update", "--disable-sync", "--no-first-run",
                           f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=5000", "--dump-dom",
                           f"file://{page}"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert re.search(r'data-images="4/4"', proc.stdout), proc.stdout[:500]
    assert "interlake report" in proc.stdout and "Similar items" in proc.stdout
    assert "class=\"empty\"" not in proc.stdout  # every chart has data: no "run `interlake …`" note


def test_report_of_an_empty_lakehouse_says_what_to_run(spark, make_config, tmp_path):
    """Before 2026-12-01 a chart without data was an empty frame with nothing to say why."""
    page = write_report(spark, make_config(), str(tmp_path / "report"))
    text = open(page).read()
    for note in ("No interactions yet: run `interlake ingest`.", "No training run yet: run `interlake train`.",
                 "No trending windows yet: run `interlake trending`.", "No quarantined records.",
                 "No similar items yet: run `interlake train`."):  # the tables were headers without rows
        assert f"<p class='empty'>{note}</p>" in text


NOTEBOOKS = sorted(p.name for p in (ROOT / "notebooks").glob("*.ipynb"))


def _run_notebook(name, conf_path, root, monkeypatch):
    """Execute a notebook with nbclient as an analyst's kernel runs it: its outputs, an error as an output."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    monkeypatch.setenv("INTERLAKE_CONF", conf_path)
    nb = nbformat.read(ROOT / "notebooks" / name, as_version=4)
    try:
        NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(root)}}).execute()
    except CellExecutionError as exc:
        pytest.fail(f"{name} failed: {str(exc)[-1500:]}")
    return [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs(lake_with_trending, name, monkeypatch):
    cfg, root = lake_with_trending
    outputs = _run_notebook(name, cfg.path, root, monkeypatch)
    assert not [o for o in outputs if o.get("output_type") == "error"]
    assert any(o.get("output_type") in ("execute_result", "display_data") for o in outputs)
    assert "No " not in "".join(o.get("text", "") for o in outputs if o.get("output_type") == "stream")


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_a_notebook_opened_before_the_jobs_ran_shows_its_charts_saying_what_to_run(name, tmp_path, write_yaml,
                                                                                    monkeypatch):
    """Before 2026-12-07 each notebook stopped at its first chart with pandas' `TypeError: no numeric data to plot`
    on a lakehouse where `interlake ingest` (or train, or trending) had not run yet; the interactions notebook's SQL
    cells then failed on the missing table."""
    from tests.conftest import BASE

    conf = write_yaml({**BASE, "lakehouse": str(tmp_path / "lake")})
    outputs = _run_notebook(name, conf, tmp_path, monkeypatch)
    assert not [o for o in outputs if o.get("output_type") == "error"]
    assert [o for o in outputs if "image/png" in o.get("data", {})]  # the chart, with its note on it
    printed = [o["text"] for o in outputs if o.get("output_type") == "stream" and "incubator" not in o["text"]]
    if name.startswith("01"):  # the cells that query interactions by SQL say why they show nothing
        assert printed == ["No interactions yet: run `interlake ingest`.\n"] * 3
    else:
        assert printed == []


def test_the_interactions_notebook_queries_the_config_s_database(spark, tmp_path, write_yaml, monkeypatch):
    """Its SQL cell named `interlake.interactions`: with `database: analytics` it failed with TABLE_OR_VIEW_NOT_FOUND
    until 2026-12-07."""
    from interlake.config import load_config
    from interlake.ingest.pipeline import ingest

    from tests.conftest import BASE
    from tests.ingest_helpers import CSV_SOURCE, T0, write

    write(tmp_path / "in/a.csv", "customer,product,event,time\n" + "".join(
        f"u{i},i{i % 3},VIEW,{T0 + i}\n" for i in range(5)) + f"u1,i1,BUY,{T0 + 9}\n")
    conf = write_yaml({**BASE, "database": "analytics", "lakehouse": str(tmp_path / "lake"),
                       "sources": {"shop": {**CSV_SOURCE, "path": str(tmp_path / "in")}}})
    assert ingest(spark, load_config(conf)).ok
    outputs = _run_notebook("01_explore_interactions.ipynb", conf, tmp_path, monkeypatch)
    assert not [o for o in outputs if o.get("output_type") == "error"]
    tables = [o["data"]["text/plain"] for o in outputs if "text/plain" in o.get("data", {})]
    assert "  source  n\n0   shop  6" in tables, tables


@pytest.mark.parametrize("draw, note", [("volume", "No interactions yet: run `interlake ingest`."),
                                        ("funnel", "No interactions yet: run `interlake ingest`."),
                                        ("models", "No training run yet: run `interlake train`."),
                                        ("trending", "No trending windows yet: run `interlake trending`.")])
def test_a_chart_without_rows_is_the_note_saying_which_command_fills_it(draw, note):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd
    from interlake.analyst import plots

    frame = pd.DataFrame(columns=["event_date", "interaction_type", "n", "step", "users", "model_version", "k", "ndcg",
                                  "baseline_ndcg", "window_start", "item_id", "interactions", "expected",
                                  "is_trending"])
    ax = getattr(plots, draw)(frame)
    assert [t.get_text() for t in ax.texts] == [note]
    assert len(ax.lines) == 0 and len(ax.patches) == 0 and len(ax.collections) == 0  # nothing drawn
    plt.close(ax.figure)


def test_report_out_naming_a_file_is_one_line_before_spark_starts(tmp_path, capsys):
    """It was `failed: FileExistsError: [Errno 17] File exists` once Spark had started and read the tables."""
    from interlake.cli import main

    (tmp_path / "report.html").write_text("an earlier report")
    assert main(["report", "--out", str(tmp_path / "report.html")]) == 1
    assert capsys.readouterr().err.strip() == (
        f"interlake report: error: --out {tmp_path / 'report.html'}: is a file; the report is a folder (index.html "
        "and its images): give a folder's name")
    # a folder under a file: it was `failed: NotADirectoryError` once Spark had read the tables
    assert main(["report", "--out", str(tmp_path / "report.html" / "nightly")]) == 1
    assert capsys.readouterr().err.strip() == (
        f"interlake report: error: --out {tmp_path / 'report.html' / 'nightly'}: {tmp_path / 'report.html'} is a "
        "file, not a folder; give a folder's name")
    assert (tmp_path / "report.html").read_text() == "an earlier report"


def _timeline_rows(frame):
    return [(str(r.window_start), r.item_id, r.interactions, None if r.expected != r.expected else r.expected,
             bool(r.is_trending)) for r in frame.itertuples()]


def test_the_timeline_of_every_window_shows_the_quiet_ones_as_zero(spark, make_config):
    """Before 2026-12-06 the report's line joined an item's counted windows days apart as if it had been counted all
    along (the table has no row for a window without interactions)."""
    from datetime import datetime

    from interlake.analyst import views

    cfg = make_config(trending={"source": "interactions", "window": "1 hour"})
    rows = [(datetime(2026, 12, 1, 10), "a", 1, 0.5, 2.0, False),
            (datetime(2026, 12, 1, 12, 30), "a", 2, 0.7, 2.5, False),  # written under an earlier `window: 30 minutes`
            (datetime(2026, 12, 1, 13), "a", 9, 1.0, 9.0, True),
            (datetime(2026, 12, 1, 11), "b", 4, 3.0, 1.3, False)]
    (spark.createDataFrame(rows, "window_start timestamp, item_id string, interactions long, expected double, "
                                 "score double, is_trending boolean")
     .write.format("delta").save(cfg.table_path("trending_items")))

    assert _timeline_rows(views.trending_timeline(spark, cfg)) == [  # the top-scored item's rows, as they are
        ("2026-12-01 10:00:00", "a", 1, 0.5, False), ("2026-12-01 12:30:00", "a", 2, 0.7, False),
        ("2026-12-01 13:00:00", "a", 9, 1.0, True)]
    assert _timeline_rows(views.trending_timeline(spark, cfg, every_window=True)) == [
        ("2026-12-01 10:00:00", "a", 1, 0.5, False), ("2026-12-01 11:00:00", "a", 0, None, False),
        ("2026-12-01 12:00:00", "a", 0, None, False), ("2026-12-01 12:30:00", "a", 2, 0.7, False),
        ("2026-12-01 13:00:00", "a", 9, 1.0, True)]
    sliding = make_config(trending={"source": "interactions", "window": "1 hour", "slide": "30 minutes"})
    assert [r[:3] for r in _timeline_rows(views.trending_timeline(spark, sliding, "a", every_window=True))] == [
        ("2026-12-01 10:00:00", "a", 1), ("2026-12-01 10:30:00", "a", 0), ("2026-12-01 11:00:00", "a", 0),
        ("2026-12-01 11:30:00", "a", 0), ("2026-12-01 12:00:00", "a", 0), ("2026-12-01 12:30:00", "a", 2),
        ("2026-12-01 13:00:00", "a", 9)]
    assert _timeline_rows(views.trending_timeline(spark, cfg, "b", every_window=True)) == [
        ("2026-12-01 11:00:00", "b", 4, 3.0, False)]  # one window: nothing to fill


def test_the_funnel_counts_users_per_step_in_the_vocabulary_s_order_a_step_nobody_reached_as_0(spark, make_config):
    """Before 2026-12-06 a step without users made every count a float (``2.0`` users)."""
    from interlake.analyst import views

    cfg = make_config()
    rows = [("u1", "view"), ("u1", "view"), ("u2", "view"), ("u2", "purchase"), ("u3", "like")]
    (spark.createDataFrame(rows, "user_id string, interaction_type string")
     .write.format("delta").save(cfg.table_path("interactions")))
    funnel = views.funnel(spark, cfg)
    assert [(r.step, r.users) for r in funnel.itertuples()] == [("view", 2), ("add_to_cart", 0), ("purchase", 1)]
    assert str(funnel["users"].dtype) == "int64"


def test_the_volume_of_every_day_shows_a_day_without_data_as_zero(spark, make_config):
    """Before 2026-12-06 the report joined the days around a day without data (an export that never came) with a
    line, so the gap did not show."""
    from datetime import date

    from interlake.analyst import views

    cfg = make_config()
    rows = [(date(2026, 12, 1), "view"), (date(2026, 12, 1), "view"), (date(2026, 12, 1), "purchase"),
            (date(2026, 12, 3), "view"), (date(2026, 12, 3), "like")]  # `like`: a type no longer in the vocabulary
    (spark.createDataFrame(rows, "event_date date, interaction_type string")
     .write.format("delta").save(cfg.table_path("interactions")))

    def listed(frame):
        return [(str(r.event_date), r.interaction_type, r.n) for r in frame.itertuples()]

    assert listed(views.daily_volume(spark, cfg)) == [
        ("2026-12-01", "purchase", 1), ("2026-12-01", "view", 2), ("2026-12-03", "like", 1), ("2026-12-03", "view", 1)]
    assert listed(views.daily_volume(spark, cfg, every_day=True)) == [
        (day, kind, {("2026-12-01", "view"): 2, ("2026-12-01", "purchase"): 1, ("2026-12-03", "view"): 1,
                     ("2026-12-03", "like"): 1}.get((day, kind), 0))
        for day in ("2026-12-01", "2026-12-02", "2026-12-03") for kind in ("view", "add_to_cart", "purchase", "like")]

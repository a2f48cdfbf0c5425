"""Properties of the sample generator: seeded, realistic shapes, and the truth file matches the files."""

import json

import pandas as pd
import pytest
from interlake.sample.generator import generate


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    out = tmp_path_factory.mktemp("sample")
    truth = generate(str(out), users=800, items=200, days=10, seed=3, start="2026-10-01")
    csv = pd.concat(pd.read_csv(p, dtype=str) for p in sorted((out / "shop_export").glob("*.csv")))
    lines = [ln for p in sorted((out / "pixel_queue").glob("*.jsonl")) for ln in p.read_text().splitlines()]
    return out, truth, csv, lines


def _queue_events(lines):
    rows = []
    for ln in lines:
        try:
            rec = json.loads(ln)
        except json.JSONDecodeError:
            continue
        v = rec["value"]
        rows.append(json.loads(v) if isinstance(v, str) else v)
    return pd.DataFrame(rows)


def test_same_seed_same_files_other_seed_other_files(tmp_path, sample):
    out, truth, _, _ = sample
    again = generate(str(tmp_path / "a"), users=800, items=200, days=10, seed=3, start="2026-10-01")
    assert again == truth
    assert (tmp_path / "a/pixel_queue/dump_2026-10-04.jsonl").read_bytes() == (
        out / "pixel_queue/dump_2026-10-04.jsonl").read_bytes()
    other = generate(str(tmp_path / "b"), users=800, items=200, days=10, seed=4, start="2026-10-01")
    assert other["unique_events"] != truth["unique_events"]


def test_a_sample_written_over_an_earlier_one_leaves_only_its_own_days(tmp_path, caplog):
    """Generating with other days into the same folder left the earlier sample's day files next to the new ones, to
    be ingested with them while truth.json described the new sample alone."""
    generate(str(tmp_path), users=50, items=20, days=2, seed=3, start="2026-10-01")
    (tmp_path / "shop_export/notes.csv").write_text("a user's own file stays\n")
    truth = generate(str(tmp_path), users=50, items=20, days=1, seed=3, start="2026-11-01")
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file()) == [
        "items.csv", "pixel_queue/dump_2026-11-01.jsonl", "shop_export/export_2026-11-01.csv",
        "shop_export/notes.csv", "truth.json", "users.csv"]
    assert truth["start"].startswith("2026-11-01")
    assert [r.getMessage() for r in caplog.records if r.name == "interlake.sample.generator"] == [
        f"removed 4 day files of an earlier sample under {tmp_path} (shop_export/export_2026-10-01.csv, "
        "shop_export/export_2026-10-02.csv, pixel_queue/dump_2026-10-01.jsonl, pixel_queue/dump_2026-10-02.jsonl)"]


def test_item_popularity_is_long_tailed(sample):
    _, _, csv, lines = sample
    q = _queue_events(lines)
    per_item = q.sku.value_counts()
    top_decile = per_item.iloc[: max(1, len(per_item) // 10)].sum()
    assert top_decile / per_item.sum() > 0.3  # uniform would give 0.1


def test_funnel_drops_off_view_cart_purchase(sample):
    _, truth, _, _ = sample
    t = truth["events_by_type"]
    assert t["view"] > 3 * t["add_to_cart"] > 0
    assert t["add_to_cart"] > t["purchase"] > 0.2 * t["add_to_cart"]


def test_daily_cycle_evening_busier_than_night(sample):
    _, _, _, lines = sample
    q = _queue_events(lines)
    ts = pd.to_datetime(pd.to_numeric(q.ts, errors="coerce").dropna(), unit="ms", utc=True)
    hours = ts.dt.hour.value_counts()
    assert hours.loc[[19, 20, 21]].sum() > 4 * hours.loc[[2, 3, 4]].sum()


def test_users_have_tastes_over_categories(sample):
    out, _, _, lines = sample
    q = _queue_events(lines).dropna(subset=["uid", "sku"])
    cats = pd.read_csv(out / "items.csv").set_index("item_id").category
    q["cat"] = q.sku.map(cats)
    q = q.dropna(subset=["cat"])
    share_top = q.groupby("uid").cat.agg(lambda s: s.value_counts(normalize=True).iloc[0])
    assert share_top.median() > 0.5  # a user's favourite category holds most of their interactions


def test_surges_are_visible_in_their_hour(sample):
    _, truth, _, lines = sample
    q = _queue_events(lines)
    q = q[pd.to_numeric(q.ts, errors="coerce").notna()]
    q["hour"] = pd.to_datetime(q.ts.astype("int64"), unit="ms", utc=True).dt.floor("h")
    assert truth["surges"]
    for s in truth["surges"]:
        item_hours = q[q.sku == s["item_id"]].groupby("hour").size()
        in_surge = item_hours.get(pd.Timestamp(s["window_start"]), 0)
        assert in_surge >= 3 * item_hours.median(), s


def test_duplicates_and_malformed_records_exist(sample):
    _, truth, csv, lines = sample
    assert truth["events_in_both_sources"] > 0 and truth["queue_redeliveries"] > 0
    bad = truth["malformed"]
    assert 0 < bad["pixel_queue"] < 0.03 * len(lines)
    assert 0 < bad["shop_export"] < 0.03 * len(csv)
    broken = sum(1 for ln in lines if not ln.endswith("}") or ln.count("{") != ln.count("}"))
    assert broken > 0
    assert (csv.event == "LIKE").any() and (csv.time == "yesterday").any()


@pytest.mark.parametrize("kwargs, message", [
    ({"items": 3}, "--items 3: too few for a sample (at least 6)"),
    ({"users": 0}, "--users 0: too few for a sample (at least 2)"),
    ({"days": -1}, "--days -1: too few for a sample (at least 1)"),
    ({"start": "yesterday"}, "--start 'yesterday': expected a date as YYYY-MM-DD"),
    ({"seed": -1}, "--seed -1: a seed is a whole number of 0 or more"),  # was numpy's ValueError
    ({"start": "9999-12-31", "days": 2},  # was "failed: ValueError: year 10000 is out of range"
     "--days 2 from --start 9999-12-31: the sample's dates must lie between 0001-01-01 and 9999-12-30; give fewer "
     "days or another --start"),
    ({"days": 10_000_000}, "--days 10000000 before today: the sample's dates must lie between 0001-01-01 and "
     "9999-12-30; give fewer days or another --start"),  # was "failed: OverflowError: date value out of range"
])
def test_sample_sizes_it_cannot_make_are_one_line_errors(tmp_path, kwargs, message):
    """They used to end in numpy's IndexError or ValueError ('lam < 0 or lam contains NaNs')."""
    from interlake.errors import ConfigError

    with pytest.raises(ConfigError) as err:
        generate(str(tmp_path / "out"), **kwargs)
    assert str(err.value) == message
    assert not (tmp_path / "out").exists()


def test_an_out_that_is_a_file_or_under_one_is_one_line_before_the_sample_is_made(tmp_path):
    """It was `failed: NotADirectoryError` (a file: FileExistsError) once the interactions had been generated."""
    from interlake.errors import ConfigError

    export = tmp_path / "export.csv"
    export.write_text("customer,product\n")
    for out in (export, export / "sample"):
        with pytest.raises(ConfigError) as err:
            generate(str(out), users=10, items=6, days=1)
        assert str(err.value) == (f"--out {out}: {export} is a file; the sample is a folder (its sources and "
                                  "truth.json): give a folder's name")
    assert [p.name for p in tmp_path.iterdir()] == ["export.csv"] and export.read_text() == "customer,product\n"


@pytest.mark.parametrize("argv, message", [
    (["models", "--last", "0"], "argument --last: 0 is below 1"),
    (["sql", "SELECT 1", "--limit", "x"], "argument --limit: 'x' is not a whole number"),
    (["train", "--data-version", "-1"], "argument --data-version: -1 is below 0"),
])
def test_cli_counts_below_their_least_are_usage_errors(capsys, argv, message):
    """`models --last 0` printed an empty table of headers; `sql --limit -5` ended in Spark's error on a LIMIT of -4."""
    from interlake.cli import build_parser

    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args(argv)
    assert exit_.value.code == 2
    assert capsys.readouterr().err.strip().splitlines()[-1].endswith(f"error: {message}")


@pytest.mark.parametrize("argv, usage", [
    (["trending", "--once", "--nope"], "usage: interlake trending "),
    (["maintain", "--dry-run"], "usage: interlake maintain "),
    (["tables", "extra"], "usage: interlake tables "),
])
def test_cli_unknown_argument_is_said_with_the_command_usage(capsys, argv, usage):
    """argparse said it with the top level's usage (`usage: interlake [-h] [--version] COMMAND ...`), which does not
    show what the command takes."""
    from interlake.cli import parse_args

    with pytest.raises(SystemExit) as exit_:
        parse_args(argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert exit_.value.code == 2 and err[0].startswith(usage)
    assert err[-1] == f"interlake {argv[0]}: error: unrecognized arguments: {' '.join(argv[-1:])}"
    assert parse_args(argv[:1]).command == argv[0] and not hasattr(parse_args(argv[:1]), "_commands")


@pytest.mark.parametrize("argv", [["ingest", "--source", "a", "b"], ["ingest", "--source", "a", "--source", "b"],
                                  ["ingest", "--source", "a", "--conf", "x.yaml", "--source", "b"]])
def test_cli_ingest_takes_several_sources_either_way(argv):
    """``interlake ingest [--source NAME ...]``: ``--source a b`` was a usage error (only the repeated flag worked)."""
    from interlake.cli import build_parser

    assert build_parser().parse_args(argv).source == ["a", "b"]


def test_cli_version_names_interlake_spark_and_delta(capsys):
    """`interlake --version` was a usage error ("the following arguments are required: COMMAND")."""
    from importlib.metadata import version

    from interlake import __version__
    from interlake.cli import build_parser

    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == (
        f"interlake {__version__} (pyspark {version('pyspark')}, delta-spark {version('delta-spark')})")


def test_cli_every_argument_of_every_command_says_what_it_is_in_help():
    """`interlake generate --help` listed `--users USERS`, `--seed SEED` with no word on them, `interlake report --help`
    a bare `--out DIR` (its default folder unsaid), `interlake sql --help` a bare `query`."""
    from interlake.cli import build_parser

    parser = build_parser()
    missing = [f"{name} {action.option_strings[0] if action.option_strings else action.dest}"
               for name, sub in parser._defaults["_commands"].items() for action in sub._actions
               if action.dest != "help" and not action.help]
    assert missing == []
    assert "(default report)" in parser._defaults["_commands"]["report"].format_help()
    # and every command says what it does above its options (before 2026-12-02 usage and options alone)
    commands = parser._defaults["_commands"]
    assert [name for name, sub in commands.items() if len(sub.description or "") < 60] == []
    assert " ".join(commands["ingest"].format_help().split()).startswith(
        "usage: interlake ingest [-h] [--conf PATH] [--log-format {text,json}] [--debug] [--source NAME [NAME ...]] "
        "[--dry-run] [--retake-quarantined] Take each source's new or changed files, standardize and validate their "
        "records, quarantine")

"""Training end to end on generated data with known tastes: metrics, gate, publishing, reproducibility."""

import dataclasses
import datetime as dt
import json
import os
import shutil

import pandas as pd
import pytest
from interlake.config import load_config
from interlake.errors import ConfigError, TrainingError
from interlake.ingest.pipeline import ingest
from interlake.locks import LockTimeout, exclusive
from interlake.schemas import tables as T
from interlake.train.pipeline import run_params, train
from interlake.train.registry import model_runs, print_models
from pyspark.sql import functions as F

from tests.conftest import BASE, TRAIN_TEST, append_only_said


@pytest.fixture(scope="module")
def trained(demo_lake):
    return demo_lake


def test_an_append_only_published_table_is_one_line_before_the_training(spark, make_config):
    """``item_similarity`` made append-only by hand: a training's publish (an overwrite) failed after the whole
    training with Delta's ``DELTA_CANNOT_MODIFY_APPEND_ONLY``. It is one line before anything runs."""
    from interlake.tables.interactions import ensure_table

    cfg = make_config()
    path = cfg.table_path(T.ITEM_SIMILARITY)
    ensure_table(spark, path, T.ITEM_SIMILARITY_DDL)
    spark.sql(f"ALTER TABLE delta.`{path}` SET TBLPROPERTIES ('delta.appendOnly' = 'true')")
    said = append_only_said(T.ITEM_SIMILARITY, "a training that passes its gate replaces its rows with the new model's")
    with pytest.raises(ConfigError, match=said):
        train(spark, cfg)
    assert not os.path.exists(cfg.table_path(T.MODEL_RUNS))


def test_model_beats_popularity_clearly(trained):
    _, result, _ = trained
    assert result.published and result.reason == "passed the gate"
    assert result.metrics["ndcg@10"] > 1.3 * result.metrics["baseline_ndcg@10"]
    assert result.metrics["recall@10"] > result.metrics["baseline_recall@10"]
    assert result.metrics["coverage@10"] > result.metrics["baseline_coverage@10"]


def test_similar_items_share_categories(spark, trained):
    cfg, _, root = trained
    cats = pd.read_csv(root / "sample/items.csv").set_index("item_id").category.to_dict()
    sim = spark.read.format("delta").load(cfg.table_path(T.ITEM_SIMILARITY)).where("rank <= 5").toPandas()
    same = (sim.item_id.map(cats) == sim.similar_item_id.map(cats)).mean()
    base_rate = pd.Series(cats).value_counts(normalize=True).pow(2).sum()  # two random items share a category
    assert same > 3 * base_rate, (same, base_rate)
    assert (sim.co_users >= 0).all() and sim.co_users.max() > 0
    assert sim.score.between(-1.0001, 1.0001).all()


def test_co_users_counts_users_of_both_items(spark, trained):
    cfg, _, _ = trained
    pair = spark.read.format("delta").load(cfg.table_path(T.ITEM_SIMILARITY)).orderBy("item_id", "rank").first()
    inter = spark.read.format("delta").load(cfg.table_path(T.INTERACTIONS))
    users_a = {r[0] for r in inter.where(F.col("item_id") == pair.item_id).select("user_id").collect()}
    users_b = {r[0] for r in inter.where(F.col("item_id") == pair.similar_item_id).select("user_id").collect()}
    assert pair.co_users == len(users_a & users_b)


def test_recommendations_exclude_seen_items(spark, trained):
    cfg, result, _ = trained
    recs = spark.read.format("delta").load(cfg.table_path(T.USER_RECOMMENDATIONS))
    inter = spark.read.format("delta").load(cfg.table_path(T.INTERACTIONS))
    assert recs.join(inter, ["user_id", "item_id"], "left_semi").count() == 0
    assert recs.groupBy("user_id").agg(F.max("rank").alias("m")).where("m > 10").count() == 0
    assert {r[0] for r in recs.select("model_version").distinct().collect()} == {result.model_version}


def test_artifacts_and_model_runs(spark, trained):
    cfg, result, _ = trained
    meta = json.loads(open(f"{result.artifact_path}/metadata.json").read())
    assert meta["model_version"] == result.model_version and meta["data_version"] == result.data_version
    assert meta["metrics"]["ndcg@10"] == pytest.approx(result.metrics["ndcg@10"])
    for part in ("als", "lsh", "user_index", "item_index"):  # Spark ML's saved models: metadata/ and data/
        assert os.path.isdir(f"{result.artifact_path}/{part}/metadata"), part
    runs = spark.read.format("delta").load(cfg.table_path(T.MODEL_RUNS)).where(
        F.col("model_version") == result.model_version).first()
    assert runs.published and runs.metrics["lsh_recall@10"] >= 0.8
    # ALS's checkpoints are the training's scratch space: each training used to leave its last ones there for good
    assert not os.path.exists(os.path.join(cfg.lakehouse, "_checkpoints", "als"))


def test_gate_refuses_a_worse_model_and_force_overrides(spark, trained, capsys):
    cfg, first, _ = trained
    # pretend the published model was much better than anything this data can give
    spark.createDataFrame([("m-best", first_time(first), first.data_version, "{}", {"ndcg@10": 0.99}, "x", True, "")],
                          T.MODEL_RUNS_DDL).write.format("delta").mode("append").save(cfg.table_path(T.MODEL_RUNS))
    sim_version = spark.sql(f"DESCRIBE HISTORY delta.`{cfg.table_path(T.ITEM_SIMILARITY)}`").agg(
        F.max("version")).first()[0]
    refused = train(spark, cfg, data_version=first.data_version)
    assert not refused.published
    assert "is worse than the published m-best (0.9900) by more than 0.02" in refused.reason
    assert spark.sql(f"DESCRIBE HISTORY delta.`{cfg.table_path(T.ITEM_SIMILARITY)}`").agg(
        F.max("version")).first()[0] == sim_version  # nothing published
    # same data version, same seed: the same metrics
    for key in ("ndcg@10", "precision@10", "recall@10", "map@10"):
        assert refused.metrics[key] == pytest.approx(first.metrics[key], abs=1e-6)
    forced = train(spark, cfg, data_version=first.data_version, force=True)
    assert forced.published and forced.reason.startswith("forced: ")
    # each gold table switched in one commit: the new version holds only the new model, the previous only the old
    path = cfg.table_path(T.ITEM_SIMILARITY)
    latest = spark.sql(f"DESCRIBE HISTORY delta.`{path}`").agg(F.max("version")).first()[0]
    now_versions = {r[0] for r in spark.read.format("delta").load(path).select("model_version").distinct().collect()}
    before = {r[0] for r in spark.read.format("delta").option("versionAsOf", latest - 1).load(path)
              .select("model_version").distinct().collect()}
    assert now_versions == {forced.model_version} and before == {first.model_version}
    print_models(model_runs(spark, cfg))
    out = capsys.readouterr().out
    assert first.model_version in out and forced.model_version in out and "metric ndcg@10" in out
    # the type weights as words, not a dict's repr ({'view': 1.0, ...}), for each run that has them (not m-best)
    weights = ", ".join(f"{name}={w:g}" for name, w in cfg.interaction_types.items())
    [line] = [line for line in out.splitlines() if line.startswith("param weights")]
    assert line.count(weights) == 3 and "{" not in line  # first, refused, forced
    # `interlake models` reads a local lakehouse's runs without starting Spark: the same table (0.7 s, not 20 s)
    print_models(model_runs(None, cfg))
    assert capsys.readouterr().out == out
    assert [r["model_version"] for r in model_runs(None, cfg, last=1)] == [forced.model_version]


def test_the_gate_compares_with_the_published_model_on_this_run_s_holdout(spark, trained, tmp_path):
    """The published run's nDCG was measured on the holdout of the data it was trained on. The gate compared every
    later model with that figure: once the data changed (another day's ingest, a second `make demo`), every model
    of the same config scored lower on the new holdout and none was published again, the recommendations left as
    they were for good. The published model's parameters are now evaluated on this run's holdout."""
    cfg, _, _ = trained
    lake = tmp_path / "lake"
    shutil.copytree(cfg.table_path(T.INTERACTIONS), lake / T.INTERACTIONS)
    cfg = dataclasses.replace(cfg, lakehouse=str(lake))
    latest = spark.sql(f"DESCRIBE HISTORY delta.`{cfg.table_path(T.INTERACTIONS)}`").agg(F.max("version")).first()[0]

    def published_earlier(name, params):  # a model trained on an earlier version, scored on that version's holdout
        spark.createDataFrame([(name, dt.datetime.now(dt.UTC).replace(tzinfo=None), latest - 1, json.dumps(params),
                                {"ndcg@10": 0.99}, "x", True, "passed the gate")], T.MODEL_RUNS_DDL) \
            .write.format("delta").mode("append").save(cfg.table_path(T.MODEL_RUNS))

    def recommended_by():
        return {r[0] for r in spark.read.format("delta").load(cfg.table_path(T.USER_RECOMMENDATIONS))
                .select("model_version").distinct().collect()}

    # the same parameters on grown data: the earlier 0.99 was another holdout's; published
    published_earlier("m-earlier", run_params(cfg))
    dead = lake / "_checkpoints/als/0d7a78d3/rdd-818"  # ALS checkpoints left by a training that was killed
    dead.mkdir(parents=True)
    (dead / "part-00000").write_bytes(b"factors")
    grown = train(spark, cfg)
    assert not (lake / "_checkpoints/als").exists()  # neither those nor this training's own are left
    assert (grown.published, grown.reason) == (True, "passed the gate")
    assert recommended_by() == {grown.model_version}
    # `--data-version` reproduces an older run: the same parameters, but a model of older data than the published
    # one's is not published in its place (before, it was whenever its nDCG was not worse)
    older = train(spark, cfg, data_version=latest - 1)
    assert (older.published, older.reason) == (False, f"trained on interactions version {latest - 1} (--data-version), "
                                                      f"older than the published {grown.model_version}'s version "
                                                      f"{latest}")
    assert recommended_by() == {grown.model_version}
    # other parameters: the published model's (rank 16) are trained and scored on this run's split, which gives the
    # nDCG the run above measured on it (same data version, same seed); rank 1 falls short of it and is refused
    published_earlier("m-rank16", run_params(cfg))
    worse = train(spark, dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, rank=1, max_iter=2)))
    assert not worse.published
    assert (f"ndcg@10 {worse.metrics['ndcg@10']:.4f} is worse than the published m-rank16 "
            f"({grown.metrics['ndcg@10']:.4f}, its parameters on this run's holdout) by more than 0.02") in worse.reason
    assert recommended_by() == {grown.model_version}


def test_a_second_training_waits_for_the_running_one_and_writes_nothing_meanwhile(spark, trained):
    """Two trainings at once could publish one model's similarity next to the other's recommendations: the second
    waits for the first (here it gives up after train.lock_timeout, naming the holder) and writes nothing."""
    cfg, _, _ = trained
    runs = cfg.table_path(T.MODEL_RUNS)
    before = spark.read.format("delta").load(runs).count()
    impatient = dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, lock_timeout="1 second"))
    with exclusive(cfg.lakehouse, "train", wait="0 seconds", setting="test", what="test"):
        with pytest.raises(LockTimeout, match=rf"^train: another run still holds .*pid {os.getpid()} on .*"
                                              r"raise train.lock_timeout \(1 second\)$"):
            train(spark, impatient)
    assert spark.read.format("delta").load(runs).count() == before


def first_time(result):
    return dt.datetime.strptime(result.model_version[1:], "%Y%m%d%H%M%S") + dt.timedelta(seconds=1)


def test_the_train_command_without_interactions_says_so_before_spark_starts(tmp_path, capsys, monkeypatch):
    """It started Spark (~10 s) to find no table, in a lakehouse holding the trending job's tables alone. A lakehouse
    without tables on this disk still asks Spark: on a cluster its path may be on HDFS, though the lock files are
    local."""
    import interlake.cli as cli
    import yaml

    started = []

    def no_session(*_):
        started.append(1)
        raise RuntimeError("no Spark here")

    monkeypatch.setattr(cli, "_session", no_session)
    (tmp_path / "lake" / "_locks").mkdir(parents=True)
    conf = tmp_path / "c.yaml"
    conf.write_text(yaml.safe_dump({"lakehouse": str(tmp_path / "lake"), "interaction_types": {"view": {"weight": 1}},
                                    "sources": {}}))
    assert cli.main(["train", "--conf", str(conf)]) == 1 and started == [1]  # lock files alone: Spark decides
    capsys.readouterr()
    (tmp_path / "lake" / "trending_items" / "_delta_log").mkdir(parents=True)
    assert cli.main(["train", "--conf", str(conf)]) == 1 and started == [1]
    assert capsys.readouterr().err == (f"interlake train: error: no interactions table at {tmp_path / 'lake'}/"
                                       "interactions: run `interlake ingest` first\n")
    # the same folder as a file: URI (asked Spark before, as an object store's would)
    conf.write_text(yaml.safe_dump({"lakehouse": f"file://{tmp_path}/lake", "sources": {},
                                    "interaction_types": {"view": {"weight": 1}}}))
    assert cli.main(["train", "--conf", str(conf)]) == 1 and started == [1]
    assert capsys.readouterr().err == (f"interlake train: error: no interactions table at file://{tmp_path}/lake/"
                                       "interactions: run `interlake ingest` first\n")


def test_a_holdout_cutoff_outside_the_data_says_which_way_to_move_it(spark, trained):
    """Before 2026-12-06 a cutoff before every interaction said to set an earlier one, as one after them all did."""
    cfg, _, _ = trained
    oldest, newest = spark.read.format("delta").load(cfg.table_path(T.INTERACTIONS)).agg(
        F.min("event_ts"), F.max("event_ts")).first()

    def cut(at):
        return dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, holdout="cutoff", holdout_cutoff=at))

    with pytest.raises(TrainingError) as err:
        train(spark, cut("2099-01-01T00:00Z"))
    assert str(err.value) == ("no interaction is at or after train.holdout_cutoff '2099-01-01T00:00Z' (the newest is "
                              f"{newest:%Y-%m-%d %H:%M:%S} UTC), so nothing is held out to evaluate on: set an earlier "
                              "cutoff")
    with pytest.raises(TrainingError) as err:
        train(spark, cut("2000-01-01"))
    assert str(err.value) == ("every interaction is at or after train.holdout_cutoff '2000-01-01' (the oldest is "
                              f"{oldest:%Y-%m-%d %H:%M:%S} UTC), so there is nothing to train on: set a later cutoff")


def test_tiny_input_is_a_clear_error(spark, make_config, tmp_path):
    from tests.ingest_helpers import CSV_SOURCE, T0, write

    write(tmp_path / "in/a.csv", f"customer,product,event,time\nu1,i1,VIEW,{T0}\nu2,i1,BUY,{T0}\n")
    cfg = make_config(sources={"shop": {**CSV_SOURCE, "path": str(tmp_path / "in")}}, train=TRAIN_TEST)
    with pytest.raises(TrainingError, match="no interactions table .* run `interlake ingest` first"):
        train(spark, cfg)
    ingest(spark, cfg)
    with pytest.raises(TrainingError, match=r"has 2 interactions from 2 users on 1 item; training needs at least 10 "
                                            r"users and 10 items"):
        train(spark, cfg)
    with pytest.raises(TrainingError, match=r"--data-version 9: interactions has versions 0\.\."):
        train(spark, cfg, data_version=9)
    # a version whose files VACUUM removed: before 2026-12-01 "failed: java.io.FileNotFoundException: File ... does
    # not exist"
    path = cfg.table_path(T.INTERACTIONS)
    first = spark.sql(f"DESCRIBE HISTORY delta.`{path}`").agg(F.max("version")).first()[0]
    write(tmp_path / "in/b.csv", f"customer,product,event,time\nu3,i2,VIEW,{T0}\n")
    ingest(spark, cfg)
    spark.sql(f"OPTIMIZE delta.`{path}`")  # the two files of that day become one
    spark.conf.set("spark.databricks.delta.retentionDurationCheck.enabled", "false")
    try:
        spark.sql(f"VACUUM delta.`{path}` RETAIN 0 HOURS")
    finally:
        spark.conf.unset("spark.databricks.delta.retentionDurationCheck.enabled")
    with pytest.raises(TrainingError, match=rf"^--data-version {first}: interactions version {first} can no longer be "
                                            r"read: VACUUM \(`interlake maintain`, after maintenance"):
        train(spark, cfg, data_version=first)


def test_publishing_retries_when_a_compaction_commits_meanwhile(spark, make_config, caplog):
    """`interlake maintain` run by hand next to a training: OPTIMIZE commits while the overwrite of a gold table is
    computing its rows. The overwrite conflicts (it removes files the compaction already removed; before, the
    training failed with ConcurrentDeleteDeleteException) and writes again."""
    import logging
    import threading
    import time

    from interlake.analyst.maintain import optimize_table
    from interlake.train.pipeline import publish

    cfg = make_config()
    path = cfg.table_path(T.ITEM_FACTORS)
    publish(spark, cfg, T.ITEM_FACTORS, T.ITEM_FACTORS_DDL,
            spark.createDataFrame([("i0", [0.5], "m1")], T.ITEM_FACTORS_DDL))
    spark.createDataFrame([("i9", [0.5], "m1")], T.ITEM_FACTORS_DDL).write.format("delta").mode("append").save(path)

    log = os.path.join(path, "_delta_log")
    compacted = os.path.join(log, f"{max(int(n[:20]) for n in os.listdir(log) if n.endswith('.json')) + 1:020d}.json")
    started = os.path.join(path, "_overwrite_started")  # Delta ignores a name starting with _

    def slow(batches):  # the new model's rows take a while to compute, as real ones do: here until OPTIMIZE committed
        open(started, "w").close()
        deadline = time.time() + 120
        while not os.path.exists(compacted) and time.time() < deadline:
            time.sleep(0.1)
        yield from batches

    new_rows = (spark.createDataFrame([("i1", [1.0], "m2"), ("i2", [2.0], "m2")], T.ITEM_FACTORS_DDL)
                .coalesce(1).mapInPandas(slow, T.ITEM_FACTORS_DDL))
    errors = []

    def write():
        try:
            publish(spark, cfg, T.ITEM_FACTORS, T.ITEM_FACTORS_DDL, new_rows)
        except Exception as exc:  # noqa: BLE001  (asserted below)
            errors.append(exc)

    caplog.set_level(logging.INFO, logger="interlake")
    writer = threading.Thread(target=write)
    writer.start()
    deadline = time.time() + 120
    while not os.path.exists(started) and time.time() < deadline:  # the overwrite has read the table, is computing
        time.sleep(0.1)
    assert optimize_table(spark, cfg, T.ITEM_FACTORS, path)["numFilesRemoved"] == 2
    writer.join(timeout=120)
    assert errors == [], [str(e).splitlines()[0] for e in errors]
    assert any("publish item_factors: concurrent Delta commit, retrying" in r.getMessage() for r in caplog.records)
    rows = spark.read.format("delta").load(path).select("item_id", "model_version").collect()
    assert sorted(tuple(r) for r in rows) == [("i1", "m2"), ("i2", "m2")]


def test_models_before_any_training_answers_without_starting_spark(tmp_path, write_yaml, capsys, monkeypatch):
    """A lakehouse without `model_runs` (ingested, never trained) sent `interlake models` through Spark: 17 s to say
    that there are no runs."""
    import interlake.cli as cli

    def no_session(*_):
        raise AssertionError("Spark was started")

    monkeypatch.setattr(cli, "_session", no_session)
    conf = write_yaml({**BASE, "lakehouse": str(tmp_path / "lake")})
    (tmp_path / "lake/interactions/_delta_log").mkdir(parents=True)  # another table is there, model_runs is not
    assert cli.main(["models", "--conf", conf]) == 0
    assert capsys.readouterr().out == "no model runs yet: run `interlake train`\n"
    # a lakehouse with no table here may be on the cluster's default filesystem (HDFS): only Spark can say
    elsewhere = write_yaml({**BASE, "lakehouse": str(tmp_path / "elsewhere")}, "elsewhere.yaml")
    assert model_runs(None, load_config(elsewhere)) is None

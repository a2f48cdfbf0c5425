"""The jobs on a real Spark standalone cluster (a master and two workers on 127.0.0.1, from pyspark's own
spark-class), submitted with spark-submit and the wheel, give the same tables as in local mode."""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pyspark
import pytest
import yaml
from interlake.config import parse_config
from interlake.ingest.pipeline import ingest
from interlake.jars import local_jars
from interlake.sample.generator import generate
from interlake.schemas import tables as T
from interlake.trending.pipeline import run_trending
from pyspark.sql import functions as F

from tests.conftest import BASE, PROCESS_JVM, ROOT, TRAIN_TEST

SPARK_HOME = Path(pyspark.__file__).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    work = tmp_path_factory.mktemp("cluster")
    # Every JVM of the test (master, workers, drivers, executors) lives a minute on little data: conftest's
    # PROCESS_JVM (the JIT's first tier, C1, and the serial GC) as for the CLI processes of the other tests. Side by
    # side, C1: ingest 106 -> 69 s, train 120 -> 76 s, trending 82 -> 60 s, the test 405 -> 317 s (session 46).
    env = {**os.environ, "SPARK_HOME": str(SPARK_HOME), "PYSPARK_PYTHON": sys.executable,
           "SPARK_DAEMON_JAVA_OPTS": PROCESS_JVM, "SPARK_LOCAL_IP": "127.0.0.1", "SPARK_LOG_DIR": str(work / "logs")}
    port, ui = free_port(), free_port()
    cls = str(SPARK_HOME / "bin" / "spark-class")
    procs = [subprocess.Popen([cls, "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1", "--port",
                               str(port), "--webui-port", str(ui)], env=env, stdout=subprocess.DEVNULL,
                              stderr=open(work / "master.log", "w"))]
    url = f"spark://127.0.0.1:{port}"
    for i in range(2):
        procs.append(subprocess.Popen([cls, "org.apache.spark.deploy.worker.Worker", url, "--host", "127.0.0.1",
                                       "--cores", "1", "--memory", "2g", "--webui-port", str(free_port()),
                                       "--work-dir", str(work / f"worker{i}")], env=env, stdout=subprocess.DEVNULL,
                                      stderr=open(work / f"worker{i}.log", "w")))
    deadline = time.time() + 120
    alive = 0
    while time.time() < deadline:
        try:
            alive = json.load(urllib.request.urlopen(f"http://127.0.0.1:{ui}/json", timeout=5)).get("aliveworkers", 0)
        except OSError:
            alive = 0
        if alive == 2:
            break
        time.sleep(1)
    assert alive == 2, (work / "master.log").read_text()[-2000:]
    yield url, env
    for p in procs:
        p.terminate()
    for p in procs:
        p.wait(timeout=30)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(out), str(ROOT)], check=True,
                   timeout=300)
    return next(out.glob("interlake-*.whl"))


def test_wheel_carries_config_and_schemas(wheel):
    import zipfile

    names = zipfile.ZipFile(wheel).namelist()
    for needed in ("interlake/conf/local.yaml", "interlake/conf/cluster.yaml", "interlake/cli.py",
                   "interlake/schemas/expectations/interactions_accepted.json", "interlake/schemas/tables.py"):
        assert needed in names
    for job in ("ingest", "train", "trending", "maintain"):
        doc = (ROOT / "jobs" / f"{job}.py").read_text()
        assert "spark-submit --py-files dist/interlake-0.1.0-py3-none-any.whl" in doc and f"jobs/{job}.py" in doc


def test_jobs_on_a_standalone_cluster_equal_local_mode(spark, cluster, wheel, tmp_path):
    url, env = cluster
    generate(str(tmp_path / "sample"), users=300, items=60, days=6, seed=5, start="2026-09-01")
    local = yaml.safe_load((ROOT / "conf/local.yaml").read_text())

    def doc(lake, master):
        d = {**BASE, "lakehouse": str(lake), "sources": local["sources"], "train": TRAIN_TEST,
             "trending": {"source": "pixel_queue"},
             # Delta's log replay in 2 tasks, not its default 50 (the jobs set 4 in local mode only; a cluster keeps
             # its own): 50-task jobs on two 1-core executors made this test ~100 s slower
             "spark": {"conf": {"spark.sql.shuffle.partitions": "2", "spark.executor.memory": "1g",
                                "spark.databricks.delta.snapshotPartitions": "2"}}}
        if master:
            d["spark"]["master"] = master
        d["sources"] = yaml.safe_load(yaml.safe_dump(local["sources"]))
        for src in d["sources"].values():
            src["path"] = str(tmp_path / "sample" / src["path"].rsplit("/", 1)[-1])
        return d

    conf = tmp_path / "cluster.yaml"
    conf.write_text(yaml.safe_dump(doc(tmp_path / "cluster-lake", None)))  # no master: spark-submit sets it
    submit = [str(SPARK_HOME / "bin" / "spark-submit"), "--master", url, "--py-files", str(wheel),
              "--jars", ",".join(local_jars()), "--conf", "spark.executor.memory=1g",
              "--conf", f"spark.driver.extraJavaOptions={PROCESS_JVM}",
              "--conf", f"spark.executor.extraJavaOptions={PROCESS_JVM}",
              "--conf", "spark.ui.enabled=false"]
    driver = tmp_path / "driver"  # the driver's working folder (it was the checkout's, which got a spark-warehouse)
    driver.mkdir()
    for job, extra in (("ingest", []), ("train", []), ("trending", ["--once"])):
        proc = subprocess.run([*submit, str(ROOT / "jobs" / f"{job}.py"), "--conf", str(conf), *extra], env=env,
                              capture_output=True, text=True, timeout=900, cwd=driver)
        assert proc.returncode == 0, f"{job}: {proc.stderr[-3000:]}"
    # under spark-submit the platform's catalog applies, not the lakehouse's (README: Tables of your own): here
    # Spark's default warehouse in the driver's working folder, and no _metastore or _warehouse in the lakehouse
    assert (driver / "spark-warehouse" / "interlake.db").is_dir()
    assert not {"_metastore", "_warehouse"} & {p.name for p in (tmp_path / "cluster-lake").iterdir()}
    # the same jobs in local mode
    local_cfg = parse_config(doc(tmp_path / "local-lake", "local[2]"))
    assert ingest(spark, local_cfg).ok
    run_trending(spark, local_cfg, once=True)
    cluster_cfg = parse_config(doc(tmp_path / "cluster-lake", None))

    def rows(cfg, name, cols):
        return sorted(tuple(r) for r in spark.read.format("delta").load(cfg.table_path(name)).select(*cols).collect())

    assert rows(cluster_cfg, T.INTERACTIONS, ("event_id", "user_id", "item_id", "interaction_type", "event_ts",
                                               "source")) == \
        rows(local_cfg, T.INTERACTIONS, ("event_id", "user_id", "item_id", "interaction_type", "event_ts", "source"))
    assert rows(cluster_cfg, T.QUARANTINE, ("source", "raw")) == rows(local_cfg, T.QUARANTINE, ("source", "raw"))
    cols = ("window_start", "item_id", "interactions", F.round("expected", 6), F.round("score", 6), "is_trending")
    assert rows(cluster_cfg, T.TRENDING_ITEMS, cols) == rows(local_cfg, T.TRENDING_ITEMS, cols)
    run = spark.read.format("delta").load(cluster_cfg.table_path(T.MODEL_RUNS)).first()
    assert run.published and run.metrics["ndcg@10"] > run.metrics["baseline_ndcg@10"]

"""One Delta-enabled SparkSession for the whole run, built by interlake's own builder (local[2], 2 shuffle
partitions, UI off). Tables live under tmp_path; configs are built per test with ``make_config``."""

from __future__ import annotations

import copy
import hashlib
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pyspark
import pytest
import yaml
from interlake.config import SparkSettings, parse_config
from interlake.session import build_session

ROOT = Path(__file__).resolve().parents[1]
TEST_SPARK_CONF = {
    "spark.sql.shuffle.partitions": "2",
    "spark.default.parallelism": "2",
    "spark.sql.catalogImplementation": "in-memory",
    "spark.driver.memory": "3g",
    "spark.databricks.delta.snapshotPartitions": "2",
}
# JVM options of the tests only (the jobs' results do not depend on them; bench/RESULTS.md has each measurement).
# Every JVM gets the serial garbage collector: on two cores G1's concurrent threads compete with Spark's tasks (12 tests
# of ingest, training and trending side by side: 285 s with G1, 220 s with it; session 46). The JVMs the tests start
# as new processes (the CLI, spark-submit) live seconds on little data, so they also run on the JIT's first tier only
# (C1: two concurrent ingest processes 166-208 s without, 111-143 s with; session 38). The in-process session keeps
# the full JIT, which the ALS training tests need (slower on C1: the same 12 tests took 386 s).
# They also start from a class archive of the classes such a process loads (the JDK's class data sharing), made by the
# first run of the tests on a machine (``class_archive``, ``tests/jvm_classes.py``): they map Spark's and Delta's
# classes instead of reading and verifying them again, 4-6 s less per process (an ingest 36 -> 31 s, a trending batch
# 28 -> 23 s, `interlake sql` 9.8 -> 6.3 s; session 58). A JVM that cannot use it starts as before, without a word.
SERIAL_GC = "-XX:+UseSerialGC"
PROCESS_JVM_WITHOUT_ARCHIVE = f"-XX:TieredStopAtLevel=1 {SERIAL_GC}"


def _class_archive() -> Path:
    """Where the archive of this JDK, this Spark and these Delta jars is (a new one when any of them changes)."""
    java = Path(os.environ["JAVA_HOME"], "bin", "java") if os.environ.get("JAVA_HOME") else shutil.which("java")
    java = Path(java or "java").resolve()
    jars = sorted(p.name for folder in (Path(pyspark.__file__).parent / "jars", ROOT / ".spark-jars")
                  if folder.is_dir() for p in folder.iterdir())
    stat = java.stat() if java.exists() else None
    key = repr((str(java), stat and (stat.st_size, stat.st_mtime_ns), sys.executable, pyspark.__version__, jars))
    name = f"classes-{hashlib.sha256(key.encode()).hexdigest()[:16]}.jsa"
    return ROOT / ".pytest_cache" / "interlake-classes" / name


CLASS_ARCHIVE = _class_archive()
# (Spark's launcher splits these options at white space: a checkout whose path has some goes without the archive)
PROCESS_JVM = PROCESS_JVM_WITHOUT_ARCHIVE if any(c.isspace() for c in str(CLASS_ARCHIVE)) else (
    f"{PROCESS_JVM_WITHOUT_ARCHIVE} -XX:SharedArchiveFile={CLASS_ARCHIVE} -Xlog:cds=off -Xlog:cds+dynamic=off")
PROCESS_SPARK_CONF = {**TEST_SPARK_CONF, "spark.driver.extraJavaOptions": PROCESS_JVM}


@pytest.fixture(scope="session", autouse=True)
def class_archive(tmp_path_factory):
    """The class archive of ``PROCESS_JVM``, made once per machine and JDK/Spark/Delta (about a minute), before the
    first test. Failing to make it fails the run: the tests would still pass, minutes slower, unnoticed."""
    if CLASS_ARCHIVE.exists():
        return CLASS_ARCHIVE
    CLASS_ARCHIVE.parent.mkdir(parents=True, exist_ok=True)
    for old in CLASS_ARCHIVE.parent.glob("classes-*"):  # of an earlier JDK, Spark or Delta: 200 MB each
        old.unlink(missing_ok=True)
    part = CLASS_ARCHIVE.with_suffix(f".part-{os.getpid()}")
    run = subprocess.run([sys.executable, "-m", "tests.jvm_classes", str(tmp_path_factory.mktemp("classes")),
                          str(part)], cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0 and part.exists(), f"no class archive made (exit {run.returncode}): {run.stderr[-3000:]}"
    os.replace(part, CLASS_ARCHIVE)
    return CLASS_ARCHIVE


@pytest.fixture(scope="session")
def spark(tmp_path_factory):
    lake = tmp_path_factory.mktemp("session-lake")
    conf = {**TEST_SPARK_CONF, "spark.driver.extraJavaOptions": SERIAL_GC}
    session = build_session(SparkSettings(master="local[2]", conf=conf), str(lake), register=False)
    yield session
    session.stop()


BASE = {
    "database": "interlake",
    "spark": {"master": "local[2]", "conf": PROCESS_SPARK_CONF},
    "interaction_types": {"view": {"weight": 1.0}, "add_to_cart": {"weight": 4.0}, "purchase": {"weight": 8.0}},
    "sources": {},
}


@pytest.fixture
def make_config(tmp_path):
    """``make_config(sources={...}, train={...})`` -> a validated Config whose lakehouse is under tmp_path."""

    def _make(**sections):
        doc = copy.deepcopy(BASE)
        doc["lakehouse"] = str(tmp_path / "lake")
        doc.update(copy.deepcopy(sections))
        return parse_config(doc, "test.yaml")

    return _make


@pytest.fixture
def write_yaml(tmp_path):
    def _write(doc: dict, name: str = "conf.yaml") -> str:
        path = tmp_path / name
        path.write_text(yaml.safe_dump(doc))
        return str(path)

    return _write


TRAIN_TEST = {"rank": 16, "max_iter": 8, "k": 10, "min_users": 10, "min_items": 10, "promotion_tolerance": 0.02}


@pytest.fixture(scope="session")
def demo_lake(spark, tmp_path_factory):
    """Generated sample -> ingest -> train, once per run: (config, first TrainResult, root folder)."""
    from interlake.ingest.pipeline import ingest
    from interlake.sample.generator import generate
    from interlake.train.pipeline import train

    root = tmp_path_factory.mktemp("demo")
    generate(str(root / "sample"), users=600, items=120, days=21, seed=11, start="2026-09-01")
    local = yaml.safe_load((ROOT / "conf/local.yaml").read_text())
    doc = {**copy.deepcopy(BASE), "lakehouse": str(root / "lake"), "sources": local["sources"], "train": TRAIN_TEST,
           "similarity": {"method": "lsh", "k": 10}, "trending": {"source": "pixel_queue"}}
    for src in doc["sources"].values():
        src["path"] = str(root / "sample" / src["path"].rsplit("/", 1)[-1])
    (root / "conf.yaml").write_text(yaml.safe_dump(doc))
    cfg = parse_config(doc, str(root / "conf.yaml"))
    assert ingest(spark, cfg).ok
    first = train(spark, cfg)
    return cfg, first, root


# CLI processes: for the tests where a process must really be signalled or die
def run_cli(args, env_extra=None, **kw):
    env = {**os.environ, **(env_extra or {})}
    return subprocess.Popen([sys.executable, "-m", "interlake", *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kw)


def started_with_stderr(args, **kw):
    """A CLI process whose stderr lines are collected as they come (``lines``), for waiting on a log line."""
    proc = run_cli(args, **kw)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(proc.stderr.readline, "")), daemon=True)
    reader.start()
    return proc, lines, reader


def wait_for_line(proc, lines, text, timeout=300):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if any(text in line for line in lines):
            return
        assert proc.poll() is None, f"exited {proc.returncode} before logging {text!r}: {''.join(lines)[-3000:]}"
        time.sleep(0.2)
    raise AssertionError(f"no {text!r} in {timeout} s: {''.join(lines)[-3000:]}")


def append_only_said(name: str, why: str) -> str:
    """The one-line error of a job refusing a table made append-only by hand, as a regex (``why`` is one too)."""
    return (rf"^{name} is append-only \(delta\.appendOnly = true\): {why}; `interlake sql "
            rf"\"ALTER TABLE {name} SET TBLPROPERTIES \('delta\.appendOnly' = 'false'\)\"` lets the job change it$")

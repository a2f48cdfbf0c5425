"""Ingestion across real processes: a run killed (SIGKILL) at each step then re-run, and two runs at once."""

import os
import signal
import subprocess
import sys
import time

import pytest
from interlake.config import load_config
from interlake.ingest.pipeline import ensure_ingest_tables, ingest
from interlake.locks import exclusive
from interlake.schemas import tables as T

from tests.conftest import BASE, run_cli, started_with_stderr, wait_for_line
from tests.ingest_helpers import CSV_SOURCE, QUEUE_SOURCE, T0, queue_line, write


def make_inputs(root):
    write(root / "shop/a.csv", "\n".join(
        ["customer,product,event,time"] + [f"u{i},i{i % 7},VIEW,{T0 + i}" for i in range(40)]
        + [f",i1,VIEW,{T0}", f"u1,i1,LIKE,{T0}", "u1,i1"]) + "\n")
    write(root / "shop/b.csv", "\n".join(
        ["customer,product,event,time"] + [f"u{i},i{i % 5},BUY,{T0 + 500 + i}" for i in range(20)]) + "\n")
    write(root / "q/d.jsonl", "\n".join(
        [queue_line(f"u{i}", f"i{i % 7}", "view", (T0 + i) * 1000, offset=i) for i in range(30, 60)]
        + [queue_line(None, "i2", "view", T0 * 1000), "{broken"]) + "\n")


def conf_doc(lake, inputs, catalog="in-memory"):
    spark_conf = {**BASE["spark"]["conf"]}
    if catalog == "hive":
        spark_conf.pop("spark.sql.catalogImplementation")
    return {**BASE, "lakehouse": str(lake), "spark": {"master": "local[1]", "conf": spark_conf},
            "ingest": {"max_quarantine_share": 0.5},
            "sources": {"shop": {**CSV_SOURCE, "path": str(inputs / "shop")},
                        "q": {**QUEUE_SOURCE, "path": str(inputs / "q")}}}


def snapshot(spark, cfg):
    interactions = sorted(tuple(r) for r in spark.read.format("delta").load(cfg.table_path(T.INTERACTIONS))
                          .select("event_id", "user_id", "item_id", "interaction_type", "event_ts", "source").collect())
    quarantine = sorted((r.source, r.file, r.raw, tuple(r.reasons)) for r in
                        spark.read.format("delta").load(cfg.table_path(T.QUARANTINE)).collect())
    ledger = sorted(tuple(r) for r in spark.read.format("delta").load(cfg.table_path(T.LEDGER)).select(
        "source", "file", "rows_read", "rows_accepted", "rows_duplicate", "rows_quarantined", "status").collect())
    return interactions, quarantine, ledger


@pytest.fixture(scope="module")
def reference(spark, tmp_path_factory):
    """The tables an uninterrupted run produces (inputs at a fixed path, so file names match)."""
    root = tmp_path_factory.mktemp("crash")
    make_inputs(root / "in")
    import yaml

    (root / "ref.yaml").write_text(yaml.safe_dump(conf_doc(root / "ref-lake", root / "in")))
    cfg = load_config(str(root / "ref.yaml"))
    assert ingest(spark, cfg).ok
    return root, snapshot(spark, cfg)


@pytest.mark.parametrize("point", ["after_ledger_pending", "after_quarantine", "after_merge"])
def test_killed_run_then_rerun_equals_uninterrupted_run(spark, reference, point):
    root, expected = reference
    import yaml

    conf = root / f"{point}.yaml"
    conf.write_text(yaml.safe_dump(conf_doc(root / f"lake-{point}", root / "in")))
    proc = run_cli(["ingest", "--conf", str(conf)], {"INTERLAKE_CRASH_AT": point})
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == -signal.SIGKILL, err[-2000:]
    cfg = load_config(str(conf))
    interactions, _, ledger = snapshot(spark, cfg)
    assert any(status == "pending" for *_, status in ledger)  # it really died mid-run
    assert ingest(spark, cfg).ok  # the re-run recovers
    assert snapshot(spark, cfg) == expected


def test_two_concurrent_runs_for_different_sources(spark, tmp_path, write_yaml):
    make_inputs(tmp_path / "in")
    # one event in both sources, so the two MERGEs race for it
    write(tmp_path / "in/q/overlap.jsonl", queue_line("u1", "i1", "view", (T0 + 1) * 1000) + "\n")
    conf = write_yaml(conf_doc(tmp_path / "lake", tmp_path / "in", catalog="hive"))
    procs = [run_cli(["ingest", "--conf", conf, "--source", s]) for s in ("shop", "q")]
    outs = [p.communicate(timeout=600) for p in procs]
    for p, (out, err) in zip(procs, outs, strict=False):
        assert p.returncode == 0, err[-3000:]
        assert "ingest run" in out and ": ok;" in out
    cfg = load_config(conf)
    interactions, quarantine, ledger = snapshot(spark, cfg)
    ids = [r[0] for r in interactions]
    # shop: 40 views + 20 purchases; queue: u30..u59, of which u30..u39 (and the overlap file) are shop events
    assert len(ids) == len(set(ids)) == 40 + 20 + 20  # nothing doubled, nothing lost
    assert sum(r[3] for r in ledger) == len(ids)  # accepted across both runs = rows stored
    for _, _, read, acc, dup, quar, status in ledger:
        assert read == acc + dup + quar and status == "committed"
    assert len(quarantine) == 3 + 2
    # the table is queryable by name from a later process (Derby metastore under the lakehouse)
    time.sleep(0.5)
    proc = run_cli(["sql", "--conf", conf, "SELECT count(*) AS n FROM interlake.interactions"])
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err[-2000:]
    assert str(len(ids)) in out
    # a scheduled re-run that finds nothing new needs no JVM: with no Java to start it still answers
    proc = run_cli(["ingest", "--conf", conf], {"JAVA_HOME": str(tmp_path / "no-java")})
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err[-2000:]
    assert sorted(out.splitlines()[:2]) == ["q: no new files", "shop: no new files"]
    assert ": ok; 0 files, 0 read" in out
    assert snapshot(spark, cfg) == (interactions, quarantine, ledger)


def test_a_file_cut_short_is_one_line_on_stderr_without_spark_s_task_failure_lines(tmp_path, write_yaml):
    """A gzip cut short past its header fails inside a Spark task: the run says so in one line; Spark's own
    ``ERROR Executor: Exception in task`` and ``TaskSetManager`` lines, with stack lines, are not printed beside it
    (the JVM writes them to the process's stderr, so only a real process shows them), nor Spark's shell notice."""
    import gzip

    body = "".join(f"u{i},i{i % 97},VIEW,{T0 + i}\n" for i in range(20000))
    full = gzip.compress(("customer,product,event,time\n" + body).encode())
    (tmp_path / "in/shop").mkdir(parents=True)
    (tmp_path / "in/shop/t.csv.gz").write_bytes(full[: len(full) // 2])
    doc = conf_doc(tmp_path / "lake", tmp_path / "in")
    conf = write_yaml({**doc, "sources": {"shop": doc["sources"]["shop"]}})
    proc = run_cli(["ingest", "--conf", conf])
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 1
    assert "shop: FAILED: " in out and "t.csv.gz" in out and "Unexpected end of input stream" in out
    assert "Exception in task" not in err and "TaskSetManager" not in err and "\tat " not in err, err[-3000:]
    assert "Setting default log level" not in err  # Spark's two lines for a shell: the gateway's logger is configured


def test_a_source_that_ends_spark_s_jvm_fails_in_one_line_and_says_the_sources_after_it_did_not_run(
        tmp_path, write_yaml):
    """A ``json`` document too large for the driver's heap: Spark's handler of an OutOfMemoryError in a task exits
    the JVM. Before 2026-12-03 the source's line was at times ``ConnectionRefusedError: [Errno 111] Connection
    refused`` (the JVM gone before its error reached Python), py4j printed a Python traceback, and each source after
    it "failed" with ``Connection refused`` and the advice to fix a file. Now the source's line says Spark stopped
    (or ran out of memory) and what gives it more, the later sources say they did not run and how to run them, and
    standard error holds no traceback or stack line; run alone, such a source lands."""
    import json

    recs = (json.dumps({"uid": f"u{i % 5000}", "sku": f"i{i % 900}", "action": "view", "ts": "2026-09-21T10:00:00Z"})
            for i in range(1_500_000))
    write(tmp_path / "in/big/a.json", "[" + ",\n".join(recs) + "]")  # 116 MB
    write(tmp_path / "in/small/b.json", json.dumps([{"uid": "u1", "sku": "i1", "action": "view",
                                                     "ts": "2026-09-21T10:00:00Z"}]))
    source = {"format": "json", "timestamp_format": "iso8601",
              "fields": {"user_id": "uid", "item_id": "sku", "interaction_type": "action", "timestamp": "ts"}}
    doc = conf_doc(tmp_path / "lake", tmp_path / "in")
    doc["spark"]["conf"] = {**doc["spark"]["conf"], "spark.driver.memory": "512m"}
    conf = write_yaml({**doc, "sources": {"big": {**source, "path": str(tmp_path / "in/big")},
                                          "small": {**source, "path": str(tmp_path / "in/small")}}})
    proc = run_cli(["ingest", "--conf", conf])
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 1
    big = next(line for line in out.splitlines() if line.startswith("big: FAILED: "))
    assert big.startswith(("big: FAILED: java.lang.OutOfMemoryError: Java heap space; Spark ran out of memory: give "
                           "it more with spark.conf spark.driver.memory", "big: FAILED: Spark's JVM stopped while the "
                           "source ran; its own error is in the log above (when it is java.lang.OutOfMemoryError, "
                           "Spark ran out of memory: give it more with spark.conf spark.driver.memory")), out
    assert "small: FAILED: not run: Spark stopped while source big ran; run it alone with `interlake ingest " \
           "--source small`, or all again once big is fixed" in out
    assert "Traceback" not in err and "\tat " not in err and "Connection refused" not in out + err, err[-3000:]
    assert "java.lang.OutOfMemoryError: Java heap space" in err  # the JVM's own line, without its stack lines

    alone = run_cli(["ingest", "--conf", conf, "--source", "small"])
    out, err = alone.communicate(timeout=600)
    assert alone.returncode == 0 and "1 read = 1 accepted + 0 duplicate + 0 quarantined" in out, out + err[-3000:]


def test_two_runs_of_the_same_source_at_once_take_its_files_once(spark, reference, tmp_path):
    """A schedule whose runs overlap: two runs of one source both waiting while a third holds the source's lock,
    then released together. One takes the files, the other waits for it and finds nothing new: the tables equal
    one run's (before the lock, both took the same files and wrote their quarantine and ledger rows twice)."""
    root, expected = reference
    import yaml

    conf = tmp_path / "same.yaml"
    conf.write_text(yaml.safe_dump(conf_doc(tmp_path / "lake", root / "in")))
    cfg = load_config(str(conf))
    ensure_ingest_tables(spark, cfg)
    runs = []
    with exclusive(cfg.lakehouse, "ingest-q", wait="0 seconds", setting="test", what="test"):
        for _ in range(2):
            proc, lines, reader = started_with_stderr(["ingest", "--conf", str(conf), "--source", "q"])
            runs.append((proc, lines, reader))
            wait_for_line(proc, lines, "source q: another run holds")
        _, _, ledger = snapshot(spark, cfg)
        assert ledger == []  # nothing written while they wait
    outs = []
    for proc, lines, reader in runs:
        out = proc.stdout.read()
        proc.wait(timeout=600)
        reader.join(timeout=60)
        assert proc.returncode == 0, "".join(lines)[-3000:]
        outs.append(out)
    assert sorted("q: no new files" in out for out in outs) == [False, True]  # the second found them taken
    assert any("source q: the other run finished; going on" in line for _, lines, _ in runs for line in lines)
    assert ingest(spark, cfg, ["shop"]).ok  # then the other source, as the reference run takes them
    assert snapshot(spark, cfg) == expected


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm-to-the-group"])
def test_ctrl_c_or_sigterm_stops_the_run_in_one_line_and_the_next_run_completes_it(spark, reference, tmp_path,
                                                                                  signum):
    """Ctrl-C (SIGINT) while the first source's Spark jobs run: the run stops there, exit 130, one line; the next
    source does not start; the next run gives the uninterrupted run's tables. Before, PySpark's own handler
    re-entered py4j from inside the signal handler: two ``reentrant call`` tracebacks, the first source "failed"
    with ``Py4JError`` and advice to fix or move a file, and the run went on with the next source, exit 1.
    SIGTERM as a scheduler sends it (``timeout``: to the process, then to its whole process group, the JVM
    included) stops it the same way, exit 143; before 2026-12-05 the process ended without a line (exit -15)."""
    root, expected = reference
    import yaml

    conf = tmp_path / "ctrl-c.yaml"
    conf.write_text(yaml.safe_dump(conf_doc(tmp_path / "lake", root / "in")))
    proc, lines, reader = started_with_stderr(["ingest", "--conf", str(conf)], start_new_session=True)
    wait_for_line(proc, lines, "reading  source=q")  # the first (the YAML's keys are sorted)
    proc.send_signal(signum)
    if signum == signal.SIGTERM:
        os.killpg(proc.pid, signum)
    out = proc.stdout.read()
    proc.wait(timeout=300)
    reader.join(timeout=60)
    err = "".join(lines)
    assert proc.returncode == 128 + signum, err[-3000:]
    assert err.splitlines()[-1] == "interlake ingest: interrupted" and out == "", err[-5000:]
    said = "interrupted" if signum == signal.SIGINT else "SIGTERM"
    assert err.count(f"{said}: cancelling Spark's jobs, stopping (Ctrl-C again to stop at once)") == 1, err
    assert "source=shop" not in err and "Traceback" not in err and "Py4J" not in err and "\tat " not in err, err
    cfg = load_config(str(conf))
    assert ingest(spark, cfg).ok
    assert snapshot(spark, cfg) == expected


CANCELLED_LOG = """
import os, signal, sys
from interlake.cli import _session
from interlake.config import load_config

spark = _session(load_config(sys.argv[1]), "test")
jvm = spark.sparkContext._jvm
spark_log = jvm.org.apache.logging.log4j.LogManager.getLogger("org.apache.spark.TaskContextImpl")
spark_log.error("before Ctrl-C", jvm.org.apache.spark.SparkException("Block broadcast_1 does not exist"))
try:
    os.kill(os.getpid(), signal.SIGINT)
except KeyboardInterrupt:
    pass
while True:  # every job is cancelled from now on; the first one cancelled shows the cancelling has begun
    try:
        spark.range(10**12).selectExpr("sum(id)").collect()
    except Exception:
        print("cancelled", flush=True)
        break
spark_log.error("after Ctrl-C", jvm.org.apache.spark.SparkException("Block broadcast_2 does not exist"))
os._exit(0)
"""


def test_after_ctrl_c_spark_logs_nothing_of_the_jobs_it_cancels(tmp_path, write_yaml):
    """What Spark logs once Ctrl-C cancels its jobs is about the cancelling: killed tasks racing the blocks the
    stopping job frees (``Error in TaskCompletionListener ... Block broadcast_17 does not exist``, ``Error in removing
    RDD ... NullPointerException``, with stack lines; 3 interrupted ingest runs in 18). Spark's log goes quiet before
    the first cancel, so none of it reaches the screen beside ``interrupted``; before Ctrl-C it speaks as ever. (The
    races themselves are too rare to hit on purpose; these two lines are logged where Spark logs them.)"""
    conf = write_yaml({**BASE, "lakehouse": str(tmp_path / "lake")})
    proc = subprocess.run([sys.executable, "-c", CANCELLED_LOG, conf], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0 and proc.stdout == "cancelled\n", proc.stdout + proc.stderr[-3000:]
    assert "ERROR TaskContextImpl: before Ctrl-C" in proc.stderr and "Block broadcast_1 does not exist" in proc.stderr
    assert "after Ctrl-C" not in proc.stderr and "broadcast_2" not in proc.stderr, proc.stderr[-3000:]


@pytest.mark.parametrize("point, source", [("after_merge", "shop"), ("after_supersede", "bad")])
def test_a_killed_retake_then_rerun_equals_the_uninterrupted_retake(spark, tmp_path, write_yaml, point, source):
    """``--retake-quarantined`` killed after its MERGE (its superseding quarantine delete not done yet), or after that
    delete in a retake that found no valid record (no MERGE to tell recovery it got there): the next plain run
    finishes it, and the tables equal an uninterrupted retake's; neither the earlier take's quarantine rows nor the
    retake's are left doubled or lost."""
    header = "customer,product,event,time\n"
    write(tmp_path / "in/shop/a.csv", f"{header}u1,i1,VIEW,{T0}\nu2,i2,WISH,{T0}\n,i3,VIEW,{T0}\nu4,i4,WISH,{T0}\n")
    write(tmp_path / "in/bad/z.csv", f"{header},i1,VIEW,{T0}\n,i2,WISH,{T0}\n")

    def conf(lake, fixed):
        type_map = {**CSV_SOURCE["interaction_type_map"], **({"WISH": "add_to_cart"} if fixed else {})}
        return load_config(write_yaml({**BASE, "lakehouse": str(tmp_path / lake), "sources": {
            name: {**CSV_SOURCE, "path": str(tmp_path / "in" / name), "interaction_type_map": type_map,
                   "max_quarantine_share": 1.0} for name in ("shop", "bad")}}, f"{lake}-{fixed}.yaml"))

    assert ingest(spark, conf("ref", False)).ok
    assert ingest(spark, conf("ref", True), [source], retake_quarantined=True).ok
    expected = snapshot(spark, conf("ref", True))

    assert ingest(spark, conf("lake", False)).ok
    cfg = conf("lake", True)
    proc = run_cli(["ingest", "--conf", cfg.path, "--source", source, "--retake-quarantined"],
                   {"INTERLAKE_CRASH_AT": point})
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == -signal.SIGKILL, err[-2000:]
    assert any(status == "pending" for *_, status in snapshot(spark, cfg)[2])  # it really died mid-run
    assert ingest(spark, cfg).ok  # the nightly run, without the flag, recovers
    assert snapshot(spark, cfg) == expected
    # the retaken source's still-bad records, once each
    assert len([q for q in expected[1] if q[0] == source]) == (1 if source == "shop" else 2)

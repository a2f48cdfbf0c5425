"""One-line messages for errors no check foresaw (without Spark, but for a JVM that dies under the CLI; the other JVM
cases are in test_ingest and test_trending)."""

from interlake.errors import lost_jvm, one_line

from tests.conftest import BASE, run_cli


def test_a_python_error_is_its_type_and_first_line_cut_to_the_limit():
    assert one_line(ValueError("bad value\n  more detail\n")) == "ValueError: bad value"
    assert one_line(RuntimeError("")) == "RuntimeError: (no message)"
    assert one_line(OSError("x" * 500), limit=20) == "OSError: " + "x" * 11 + " ..."


def test_a_lost_connection_to_spark_s_jvm_is_told_apart_from_other_connection_errors():
    """What reaches Python when the JVM ended under a job is py4j's lost connection; the CLI then says the JVM
    stopped, not ``ConnectionRefusedError: [Errno 111] Connection refused``. A connection refused elsewhere (an
    object store, a metastore) is not that."""
    from py4j.protocol import Py4JNetworkError

    def raised(code, filename):
        try:
            exec(compile(code, filename, "exec"), {"Py4JNetworkError": Py4JNetworkError})
        except Exception as exc:  # noqa: BLE001
            return exc
        raise AssertionError("nothing raised")

    refused = "raise ConnectionRefusedError(111, 'Connection refused')"
    assert lost_jvm(raised(refused, "/venv/site-packages/py4j/clientserver.py"))
    assert lost_jvm(raised("raise Py4JNetworkError('Answer from Java side is empty')", "/somewhere/else.py"))
    assert lost_jvm(raised("try:\n    raise Py4JNetworkError('x')\nexcept Exception:\n    raise ValueError('y')",
                           "job.py"))  # raised while handling it
    assert not lost_jvm(raised(refused, "/venv/site-packages/botocore/httpsession.py"))
    assert not lost_jvm(ValueError("bad value"))


def test_the_cli_says_spark_s_jvm_stopped_when_a_query_ends_it(tmp_path, write_yaml):
    """A query that runs the driver out of heap in local mode ends its JVM (Spark's handler exits it): before
    2026-12-03 ``interlake sql`` said ``failed: ConnectionRefusedError: [Errno 111] Connection refused`` when the JVM
    was gone before its error reached Python, and nothing of memory when it was not."""
    doc = {**BASE, "lakehouse": str(tmp_path / "lake"),
           "spark": {"master": "local[1]", "conf": {**BASE["spark"]["conf"], "spark.driver.memory": "512m"}}}
    query = "SELECT size(collect_list(repeat('x', 1000000))) FROM range(3000)"  # 3 GB in one aggregate
    proc = run_cli(["sql", "--conf", write_yaml(doc), query])
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 1
    more = "give it more with spark.conf spark.driver.memory (local mode) or spark.executor.memory (a cluster)"
    assert err.splitlines()[-1] in (  # the JVM's error reaches Python, or the JVM is gone before it does
        f"interlake sql: failed: java.lang.OutOfMemoryError: Java heap space; Spark ran out of memory: {more} (rerun "
        "with --debug for details)",
        "interlake sql: failed: Spark's JVM stopped; its own error is in the log above (when it is "
        f"java.lang.OutOfMemoryError, Spark ran out of memory: {more}) (rerun with --debug for details)"), err[-3000:]
    assert "Traceback" not in err


def test_an_error_whose_text_cannot_be_read_is_still_one_line():
    """A ``Py4JJavaError`` asks the JVM for its text; when the JVM has died that call raises, and before 2026-12-03
    it raised out of the ingest's handler for the failed source, ending the run without its report."""
    class AsksTheJvm(Exception):
        def __str__(self):
            raise ConnectionRefusedError(111, "Connection refused")

    assert one_line(AsksTheJvm()) == "AsksTheJvm: (no message)"

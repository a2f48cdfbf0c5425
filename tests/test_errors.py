"""One-line messages for errors no check foresaw (mostly without Spark; with it: a JVM that dies under the CLI, and
py4j's text of a real JVM error; the other JVM cases are in test_ingest and test_trending)."""

import pytest
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


def test_an_error_whose_text_went_with_the_jvm_says_the_jvm_stopped():
    """The JVM may end after its error reached Python and before py4j fetched the error's text: the CLI then says
    the JVM stopped (its own error is in the log), not ``Py4JJavaError: (no message)``."""
    from interlake.errors import failure_line, stopped_jvm
    from py4j.protocol import Py4JNetworkError

    class AsksTheGoneJvm(Exception):
        def __str__(self):
            raise Py4JNetworkError("Answer from Java side is empty")

    class AsksForNothing(Exception):
        def __str__(self):
            raise ValueError("not the JVM")

    assert failure_line(AsksTheGoneJvm()) == stopped_jvm()
    assert failure_line(AsksForNothing()) == "AsksForNothing: (no message)"


def test_a_jvm_error_whose_chain_cannot_be_read_is_told_from_py4j_s_text_of_it(spark):
    """The JVM may end after py4j gave an error's text and before its chain of causes is read: in CI on 2026-12-05
    ``interlake sql`` then said ``failed: Py4JJavaError: An error occurred while calling o78.collectToPython.``, and
    nothing of the OutOfMemoryError that text held. The error is read from that text as from the chain."""
    from interlake.errors import MORE_MEMORY, failure_line
    from py4j.protocol import Py4JJavaError

    with pytest.raises(Py4JJavaError) as raised:  # a real error of Spark's JVM, in py4j's own text
        spark._jvm.java.net.URI("a b")
    real = raised.value
    said = str(real)
    reason = "java.net.URISyntaxException: Illegal character in path at index 1: a b"
    assert one_line(real) == reason  # its chain, read in the JVM

    class Gone:  # the JVM is gone: asking it for the exception's chain fails
        def toString(self):
            raise ConnectionRefusedError(111, "Connection refused")

    class Ended(Exception):
        def __init__(self, text):
            super().__init__(text)
            self.java_exception = Gone()

    assert one_line(Ended(said)) == reason
    oom = ("An error occurred while calling o78.collectToPython.\n: java.lang.OutOfMemoryError: Java heap space\n"
           "\tat java.base/java.util.Arrays.copyOf(Arrays.java:3537)\n\tat org.apache.spark.Foo.bar(Foo.scala:1)\n")
    said_of_oom = f"java.lang.OutOfMemoryError: Java heap space; Spark ran out of memory: {MORE_MEMORY}"
    assert failure_line(Ended(oom)) == said_of_oom
    caused = ("An error occurred while calling o9.save.\n: org.apache.spark.SparkException: Job aborted.\n\tat x.y(z)\n"
              "Caused by: [FAILED_READ_FILE.NO_HINT] Encountered error while reading file file:/in/a.csv.gz. SQLSTATE\n"
              "\tat a.b(c)\nCaused by: java.io.EOFException: Unexpected end of input stream\n"
              "\tat d.e(f)\n\t... 3 more\n")
    assert one_line(Ended(caused)) == ("[FAILED_READ_FILE.NO_HINT] Encountered error while reading file "
                                       "file:/in/a.csv.gz. SQLSTATE ... caused by java.io.EOFException: Unexpected end "
                                       "of input stream")
    assert one_line(Ended("An error occurred while calling o1.x.")) == "Ended: An error occurred while calling o1.x."

"""One-line messages for errors no check foresaw (no Spark: the JVM cases are in test_ingest and test_trending)."""

from interlake.errors import one_line


def test_a_python_error_is_its_type_and_first_line_cut_to_the_limit():
    assert one_line(ValueError("bad value\n  more detail\n")) == "ValueError: bad value"
    assert one_line(RuntimeError("")) == "RuntimeError: (no message)"
    assert one_line(OSError("x" * 500), limit=20) == "OSError: " + "x" * 11 + " ..."

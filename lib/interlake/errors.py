"""One exception hierarchy. A message says what is wrong *and* what to change, on one line."""

import re


class InterlakeError(Exception):
    """Base of every error interlake raises on purpose. The CLI prints it as one line, no traceback."""

    exit_code = 1


class ConfigError(InterlakeError):
    """The configuration is wrong: names the key, what it holds and what is expected."""

    exit_code = 2


class SetupError(InterlakeError):
    """The environment is incomplete (e.g. Delta jars missing): says which command fixes it."""

    exit_code = 3


class SourceError(InterlakeError):
    """A source's files do not match its config (e.g. a mapped field the files do not have)."""

    exit_code = 2


class QualityGateError(InterlakeError):
    """The data quality gate failed: nothing was written to the target tables."""


class TrainingError(InterlakeError):
    """Training cannot proceed (e.g. too little data)."""


def lost_jvm(exc: BaseException) -> bool:
    """True when ``exc``, or an error it was raised from, is py4j's lost connection to Spark's JVM: the JVM ended
    under the job (an OutOfMemoryError in a local task makes Spark's handler exit it), and what reaches Python is
    ``ConnectionRefusedError`` or ``Py4JNetworkError``, not the JVM's own error."""
    from py4j.protocol import Py4JNetworkError

    node, seen = exc, 0
    while node is not None and seen < 10:
        if isinstance(node, Py4JNetworkError):
            return True
        if isinstance(node, ConnectionError) and node.__traceback__ is not None:
            tb = node.__traceback__
            while tb is not None:
                if "py4j" in tb.tb_frame.f_code.co_filename:
                    return True
                tb = tb.tb_next
        node, seen = node.__cause__ or node.__context__, seen + 1
    return False


MORE_MEMORY = "give it more with spark.conf spark.driver.memory (local mode) or spark.executor.memory (a cluster)"


def stopped_jvm(more: str = MORE_MEMORY, during: str = "") -> str:
    """What is said of a JVM that ended under a command (``during``: e.g. `` while the source ran``), whose own
    error Python did not get; ``more``: what gives Spark more memory, its most common cause."""
    return (f"Spark's JVM stopped{during}; its own error is in the log above (when it is java.lang.OutOfMemoryError, "
            f"Spark ran out of memory: {more})")


def unreadable(exc: BaseException) -> bool:
    """True when ``exc``'s own text cannot be had because Spark's JVM is gone (a ``Py4JJavaError`` asks the JVM for
    it): the JVM ended after the error reached Python."""
    try:
        str(exc)
    except Exception as error:  # noqa: BLE001
        return lost_jvm(error)
    return False


def failure_line(exc: BaseException) -> str:
    """``one_line``, saying what gives Spark more memory when it ran out, and that its JVM stopped when the error
    is the lost connection to it (``lost_jvm``), an error whose text went with the JVM (``unreadable``) or a job
    cancelled because the SparkContext was stopped (an OutOfMemoryError in one of its threads stops it)."""
    message = one_line(exc)
    if lost_jvm(exc) or unreadable(exc) or "because SparkContext was shut down" in message:  # OutOfMemoryError
        return stopped_jvm()
    return f"{message}; Spark ran out of memory: {MORE_MEMORY}" if "OutOfMemoryError" in message else message


def one_line(exc: BaseException, limit: int = 400) -> str:
    """An unforeseen error as one line that says what failed and on which file.

    For an error raised in the JVM (a ``Py4JJavaError``, whose own first line only names the call, or a converted one
    such as ``StreamingQueryException``): the root cause of the Java exception when it names a file; otherwise the
    Spark error that names one, with the root cause: ``[FAILED_READ_FILE.NO_HINT] Encountered error while reading
    file file:/in/a.csv.gz. ... caused by java.io.EOFException: Unexpected end of input stream``. That error is looked
    for in the whole text, since it may sit inside a Python traceback (an error in a ``foreachBatch`` function reaches
    the streaming query as text). Any other error: its type and the first line of its message."""
    def first(text: str) -> str:
        lines = [line.strip() for line in str(text).splitlines() if line.strip()]
        return lines[0].replace("org.apache.spark.", "") if lines else ""

    def names_file(message: str) -> bool:
        return "file:" in message or "://" in message

    def thrown(text: str) -> list[str]:
        """The Java exceptions in py4j's text of a ``Py4JJavaError`` (``An error occurred while calling o78.x.``, then
        ``: java.lang.OutOfMemoryError: Java heap space``, its stack and each ``Caused by: ...``), outermost first:
        read when the JVM ended between giving that text and being asked for the exception's chain."""
        lines = [line.strip() for line in text.splitlines()[1:]]
        head = [line[2:] for line in lines[:1] if line.startswith(": ")]
        return head + [line[len("Caused by: "):] for line in lines if line.startswith("Caused by: ")] if head else []

    try:
        said = str(exc)
    except Exception:  # noqa: BLE001  (a Py4JJavaError asks the JVM for its text: when the JVM is gone, that fails)
        said = ""
    text = f"{type(exc).__name__}: {first(said) or '(no message)'}"
    java = getattr(exc, "java_exception", None) or getattr(exc, "_origin", None)
    if java is not None:
        try:
            chain, node = [], java
            while node is not None and len(chain) < 20:
                chain.append(node.toString())
                cause = node.getCause()
                node = None if cause is None or cause.equals(node) else cause
        except Exception:  # noqa: BLE001  (the JVM is gone: its message cannot be read, but py4j's text may hold it)
            chain = thrown(said)
        if chain:
            root = first(chain[-1])
            full = "\n".join([said, *chain])
            named = re.search(r"\[[A-Z][A-Z0-9_.]*\][^\n]*(?:file:|://)[^\n]*", full)
            causes = re.findall(r"Caused by: ([\w.$]+(?:Exception|Error)\b[^\n]*)", full)
            cause = causes[-1].strip() if causes else root
            if names_file(root) or named is None:
                text = root
            else:
                text = named.group(0).strip()
                text = text if cause in text else f"{text} ... caused by {cause}"
    return text if len(text) <= limit else text[:limit] + " ..."

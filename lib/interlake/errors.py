"""One exception hierarchy. A message says what is wrong *and* what to change, on one line."""


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


def one_line(exc: BaseException, limit: int = 400) -> str:
    """An unforeseen error as one line. For an error raised in the JVM (a ``Py4JJavaError``, whose own first line
    only names the call) the root cause of the Java exception, led by the message in its chain that names a file
    when the root cause does not (``SparkException: [FAILED_READ_FILE.NO_HINT] Encountered error while reading file
    file:/in/a.csv.gz. ... caused by java.io.EOFException: Unexpected end of input stream``); otherwise the type
    and the first line of the message."""
    def first(text: str) -> str:
        lines = [line.strip() for line in str(text).splitlines() if line.strip()]
        return lines[0].replace("org.apache.spark.", "") if lines else ""

    text = f"{type(exc).__name__}: {first(str(exc)) or '(no message)'}"
    java = getattr(exc, "java_exception", None)
    if java is not None:
        try:
            chain, node = [], java
            while node is not None and len(chain) < 20:
                chain.append(first(node.toString()))
                node = node.getCause() if node.getCause() is not node else None
            root = chain[-1]
            named = next((m for m in chain if "file:" in m or "://" in m), None)
            text = root if named is None or named == root or "file:" in root or "://" in root \
                else f"{named} ... caused by {root}"
        except Exception:  # noqa: BLE001  (the JVM is gone: its message cannot be read)
            pass
    return text if len(text) <= limit else text[:limit] + " ..."

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

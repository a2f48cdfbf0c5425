"""Values spelled into SQL text: a path or a vocabulary name is quoted, never pasted.

A lakehouse under ``/data/it's ours`` is a legal path; pasted into ``LOCATION '...'`` it ends the string early and
the statement fails (before 2026-11-30 every table of such a lakehouse went unregistered, with a warning).

Example:
    >>> sql_string("it's")
    "'it\\\\'s'"
    >>> delta_path("/lake/a`b")
    'delta.`/lake/a``b`'
"""

from __future__ import annotations

import re


def sql_string(value: str) -> str:
    """``value`` as a Spark SQL string literal (backslash is Spark's escape character in literals)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def identifier(name: str) -> str:
    """``name`` as a quoted SQL identifier: ``a b`` -> ```a b```, a backtick in it doubled."""
    return "`" + name.replace("`", "``") + "`"


def delta_path(path: str) -> str:
    """The Delta table at ``path`` as a SQL table name: ``delta.`path```, a backtick in the path doubled."""
    return "delta." + identifier(path)


def spelled_name(name: str) -> str:
    """``name`` for a SQL statement a message tells a person to run: as it is when it needs no quotes (``a.b`` a
    qualified name), else backquoted (inside a shell's double quotes a backquote runs a command, so messages put such
    statements in single quotes)."""
    return name if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*", name) else identifier(name)

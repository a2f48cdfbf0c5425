"""MERGE clauses that name the source's columns: a table an analyst widened still takes the jobs' writes.

``whenNotMatchedInsertAll``/``whenMatchedUpdateAll`` set every column of the *target*: after an analyst's
``ALTER TABLE interactions ADD COLUMNS (note STRING)`` each of them failed with ``DELTA_MERGE_UNRESOLVED_EXPRESSION``
(no ``s.note``), so every ingest run failed until the column was dropped. Naming the source's columns leaves an added
column NULL on insert and as it was on update, as Delta's appends already do.

Example:
    >>> set_columns(["event_id", "user_id"])
    {'event_id': 's.event_id', 'user_id': 's.user_id'}
"""

from __future__ import annotations

from collections.abc import Iterable


def set_columns(columns: Iterable[str], alias: str = "s") -> dict[str, str]:
    """The ``set``/``values`` of a MERGE clause writing each of ``columns`` from the source aliased ``alias``."""
    return {c: f"{alias}.{c}" for c in columns}

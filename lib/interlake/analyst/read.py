"""Read lakehouse tables without Spark, through delta-rs (``deltalake``): for notebooks and laptops.

Example:
    >>> from interlake import read_table
    >>> read_table("item_similarity").head()            # pandas, from the default config's lakehouse
    >>> read_table("interactions", lakehouse="lakehouse", version=3, as_arrow=True)
"""

from __future__ import annotations

from interlake.errors import InterlakeError
from interlake.tables.without_spark import to_arrow


def table_uri(name: str, *, conf: str | None = None, lakehouse: str | None = None) -> str:
    if lakehouse is None:
        from interlake.config import load_config

        lakehouse = load_config(conf).lakehouse
    from interlake.config import resolve_path

    return f"{resolve_path(lakehouse).rstrip('/')}/{name}"


def read_table(name: str, *, conf: str | None = None, lakehouse: str | None = None, version: int | None = None,
               columns: list[str] | None = None, as_arrow: bool = False):
    """A table as a pandas DataFrame (or a pyarrow Table), at its latest or a given Delta version."""
    from deltalake import DeltaTable
    from deltalake.exceptions import TableNotFoundError

    uri = table_uri(name, conf=conf, lakehouse=lakehouse)
    if "%" in uri and "://" not in uri.removeprefix("file://"):
        # delta-rs decodes a local path (``my%20lake`` -> ``my lake``) and then finds no log: say so, not "not found"
        raise InterlakeError(f"delta-rs cannot open a table under a local path with '%' (it reads %XX as an escape): "
                             f"{uri}; move the lakehouse to a path without '%', or query it through Spark "
                             "(`interlake sql`)")
    try:
        table = DeltaTable(uri, version=version)
    except TableNotFoundError:
        raise InterlakeError(f"no Delta table at {uri}: `interlake tables` lists the tables there") from None
    arrow = to_arrow(table, uri, columns)  # not table.to_pyarrow_table(): see tables/without_spark.py
    return arrow if as_arrow else arrow.to_pandas()

"""interlake: user-content interaction data on Spark and Delta Lake.

Import arrows point one way: jobs/cli -> pipelines (ingest, train, trending, analyst) -> transforms
-> tables -> schemas/config.
"""

__version__ = "0.1.0"


def read_table(name: str, **kwargs):
    """Read a lakehouse table without Spark (delta-rs); see ``interlake.analyst.read.read_table``."""
    from interlake.analyst.read import read_table as _read

    return _read(name, **kwargs)


def duckdb_connect(**kwargs):
    """A DuckDB connection with every lakehouse table as a view, without Spark; see
    ``interlake.analyst.duck.duckdb_connect``."""
    from interlake.analyst.duck import duckdb_connect as _connect

    return _connect(**kwargs)

"""interlake: user-content interaction data on Spark and Delta Lake.

Import arrows point one way: jobs/cli -> pipelines (ingest, train, trending, analyst) -> transforms
-> tables -> schemas/config.
"""

__version__ = "0.1.0"


def read_table(name: str, **kwargs):
    """Read a lakehouse table without Spark (delta-rs); see ``interlake.analyst.read.read_table``."""
    from interlake.analyst.read import read_table as _read

    return _read(name, **kwargs)

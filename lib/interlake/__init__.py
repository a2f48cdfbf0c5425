"""interlake: user-content interaction data on Spark and Delta Lake.

Import arrows point one way: jobs/cli -> pipelines (ingest, train, trending, analyst) -> transforms
-> tables -> schemas/config.
"""

__version__ = "0.1.0"

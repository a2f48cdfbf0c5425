"""Small file writes through Hadoop's FileSystem, so the same code writes to a local lakehouse or an object store."""

from __future__ import annotations

from pyspark.sql import SparkSession


def write_text(spark: SparkSession, uri: str, text: str) -> str:
    jvm = spark.sparkContext._jvm
    path = jvm.org.apache.hadoop.fs.Path(uri)
    fs = path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())
    out = fs.create(path, True)
    try:
        out.write(bytearray(text.encode("utf-8")))
    finally:
        out.close()
    return uri


def exists(spark: SparkSession, uri: str) -> bool:
    jvm = spark.sparkContext._jvm
    path = jvm.org.apache.hadoop.fs.Path(uri)
    return bool(path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration()).exists(path))


def read_text(spark: SparkSession, uri: str) -> str:
    row = spark.read.format("binaryFile").load(uri).select("content").first()
    return bytes(row["content"]).decode("utf-8") if row else ""

"""Small file writes through Hadoop's FileSystem, so the same code writes to a local lakehouse or an object store."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlparse

if TYPE_CHECKING:  # the sample generator checks its --out here without loading PySpark
    from pyspark.sql import SparkSession


def file_in_the_way(path: str, *, itself: bool = False) -> str | None:
    """For a local ``path`` (no scheme, or ``file:``): its nearest existing ancestor when that is a file, not a folder,
    so nothing can be written at ``path`` (said before any work: it was Python's ``FileExistsError`` or
    ``NotADirectoryError``, or Hadoop's ``ParentNotDirectoryException``, once the work was done); with ``itself``,
    ``path`` too when it is a file where a folder is meant. ``None`` otherwise, and for a URI of another filesystem,
    which only that filesystem can answer."""
    if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", path):
        parsed = urlparse(path)
        if parsed.scheme != "file":
            return None
        path = parsed.path
    here = Path(os.path.abspath(path))
    if itself and here.exists() and not here.is_dir():
        return str(here)
    for folder in here.parents:
        if folder.exists():
            return None if folder.is_dir() else str(folder)
    return None


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


def is_file(spark: SparkSession, uri: str) -> bool:
    """``uri`` exists and is a file, not a folder (on any Hadoop filesystem)."""
    jvm = spark.sparkContext._jvm
    path = jvm.org.apache.hadoop.fs.Path(uri)
    fs = path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())
    return bool(fs.exists(path) and fs.getFileStatus(path).isFile())


def subfolders(spark: SparkSession, uri: str) -> list[str]:
    """The names of the folders directly in ``uri`` (none if it does not exist), on any Hadoop filesystem."""
    jvm = spark.sparkContext._jvm
    path = jvm.org.apache.hadoop.fs.Path(uri)
    fs = path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())
    if not fs.exists(path):
        return []
    return sorted(st.getPath().getName() for st in fs.listStatus(path) if st.isDirectory())


def delete_tree(spark: SparkSession, uri: str) -> bool:
    """Delete ``uri`` and everything under it, on any Hadoop filesystem; False when there was nothing."""
    jvm = spark.sparkContext._jvm
    path = jvm.org.apache.hadoop.fs.Path(uri)
    return bool(path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration()).delete(path, True))


def read_text(spark: SparkSession, uri: str) -> str:
    row = spark.read.format("binaryFile").load(uri).select("content").first()
    return bytes(row["content"]).decode("utf-8") if row else ""


def first_bytes(spark: SparkSession, uri: str, n: int) -> bytes:
    """The first ``n`` bytes of a file on any Hadoop filesystem as stored (no codec), fewer if it is shorter."""
    jvm = spark.sparkContext._jvm
    path = jvm.org.apache.hadoop.fs.Path(uri)
    stream = path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration()).open(path)
    try:
        return bytes(jvm.org.apache.commons.io.IOUtils.toByteArray(jvm.org.apache.commons.io.input.BoundedInputStream(
            stream, n)))
    finally:
        stream.close()


def small_text(spark: SparkSession, uri: str) -> str | None:
    """A small UTF-8 file on any Hadoop filesystem, read on the driver without a Spark job (a checkpoint's log
    file); None when there is no such file."""
    jvm = spark.sparkContext._jvm
    path = jvm.org.apache.hadoop.fs.Path(uri)
    fs = path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())
    if not fs.exists(path):
        return None
    stream = fs.open(path)
    try:
        return bytes(jvm.org.apache.commons.io.IOUtils.toByteArray(stream)).decode("utf-8")
    finally:
        stream.close()


def first_line(spark: SparkSession, uri: str, max_bytes: int = 1 << 20) -> str:
    """The first line of a file on any Hadoop filesystem, decompressed by its extension (``.gz``: Hadoop's codecs),
    its bytes as ISO-8859-1 characters (one per byte, so equal lines compare equal whatever their encoding); at most
    ``max_bytes`` of it (a file without line breaks is not read whole into the driver)."""
    jvm = spark.sparkContext._jvm
    conf = spark.sparkContext._jsc.hadoopConfiguration()
    path = jvm.org.apache.hadoop.fs.Path(uri)
    stream = path.getFileSystem(conf).open(path)
    codec = jvm.org.apache.hadoop.io.compress.CompressionCodecFactory(conf).getCodec(path)
    if codec is not None:
        stream = codec.createInputStream(stream)
    bounded = jvm.org.apache.commons.io.input.BoundedInputStream(stream, max_bytes)
    reader = jvm.java.io.BufferedReader(jvm.java.io.InputStreamReader(bounded, "ISO-8859-1"))
    try:
        return reader.readLine() or ""
    finally:
        reader.close()


def parquet_schema_reader(spark: SparkSession) -> Callable[[str], str]:
    """A function giving the schema in a Parquet file's footer, as Parquet prints it (``message schema { optional
    binary uid (STRING); ... }``): the footer alone (no row groups) read through Hadoop's FileSystem, by the
    parquet-hadoop Spark ships; the JVM classes looked up once (each lookup is a round trip: 1.3 ms a file, not 13)."""
    jvm = spark.sparkContext._jvm
    conf = spark.sparkContext._jsc.hadoopConfiguration()
    reader, path = jvm.org.apache.parquet.hadoop.ParquetFileReader, jvm.org.apache.hadoop.fs.Path
    footer_only = jvm.org.apache.parquet.format.converter.ParquetMetadataConverter.SKIP_ROW_GROUPS
    return lambda uri: str(reader.readFooter(conf, path(uri), footer_only).getFileMetaData().getSchema().toString())

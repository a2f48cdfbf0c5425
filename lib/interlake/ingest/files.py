"""File discovery over any Hadoop filesystem (local, s3a, abfss): the candidates of a source's folder."""

from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql import SparkSession

from interlake.errors import SourceError


@dataclass(frozen=True)
class FileInfo:
    file: str  # URL-encoded, as Spark's _metadata.file_path spells it
    size: int
    modified_ms: int


def normalize_uri(uri: str) -> str:
    """Spell a file URI as Spark's ``_metadata.file_path`` does (``file:/x``, not ``file:///x``)."""
    return "file:/" + uri[len("file:///"):] if uri.startswith("file:///") else uri


def list_files(spark: SparkSession, folder: str) -> list[FileInfo]:
    """Every visible file directly in ``folder`` (names starting with ``.`` or ``_`` are skipped, as Spark does)."""
    jvm = spark.sparkContext._jvm
    path = jvm.org.apache.hadoop.fs.Path(folder)
    fs = path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())
    if not fs.exists(path):
        raise SourceError(f"source folder {folder} does not exist; create it or fix the source's `path`")
    found = []
    for status in fs.listStatus(path):
        name = status.getPath().getName()
        if status.isFile() and not name.startswith((".", "_")) and status.getLen() > 0:
            found.append(FileInfo(normalize_uri(status.getPath().toUri().toString()), int(status.getLen()),
                                  int(status.getModificationTime())))
    return sorted(found, key=lambda f: f.file)

"""File discovery over any Hadoop filesystem (local, s3a, abfss): the candidates of a source's folder."""

from __future__ import annotations

import contextlib
import fnmatch
import glob
import logging
import os
from dataclasses import dataclass
from urllib.parse import quote

from pyspark.sql import SparkSession

from interlake.config import local_folder
from interlake.errors import SourceError, one_line

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FileInfo:
    file: str  # URL-encoded, as Spark's _metadata.file_path spells it
    size: int
    modified_ms: int


def normalize_uri(uri: str) -> str:
    """Spell a file URI as Spark's ``_metadata.file_path`` does (``file:/x``, not ``file:///x``)."""
    return "file:/" + uri[len("file:///"):] if uri.startswith("file:///") else uri


def missing_files(spark: SparkSession, uris: list[str]) -> list[str]:
    """Those of ``uris`` (URIs of files on any Hadoop filesystem, escaped as Spark's file log writes them: a space
    is ``%20``) that are not there: one listing per folder, not a request per file (on an object store each is a
    round trip). Unlike ``list_files``, every name counts (an empty file, a name starting with ``_``)."""
    jvm = spark.sparkContext._jvm
    conf = spark.sparkContext._jsc.hadoopConfiguration()
    by_folder: dict[str, list[str]] = {}
    for uri in uris:
        by_folder.setdefault(uri.rsplit("/", 1)[0], []).append(uri)
    missing = []
    for folder, files in by_folder.items():
        path = jvm.org.apache.hadoop.fs.Path(jvm.java.net.URI(folder))  # Path(str) would escape a '%' again
        fs = path.getFileSystem(conf)
        try:
            present = {normalize_uri(st.getPath().toUri().toString()) for st in fs.listStatus(path)}
        except Exception as exc:  # noqa: BLE001  (py4j: the folder itself is gone)
            if "FileNotFoundException" not in str(exc):
                raise
            present = set()
        missing += [f for f in files if normalize_uri(f) not in present]
    return missing


GLOB_CHARS = "*?[{"


def is_glob(path: str) -> bool:
    """A path with Hadoop glob characters (``incoming/shop/*.csv``, ``exports/2026-11-*``), as Spark's readers take."""
    return any(c in path for c in GLOB_CHARS)


def source_root(spark: SparkSession, path: str) -> str:
    """The URI of the folder a source's files are found under, spelled as ``_metadata.file_path`` spells a file's:
    the source's folder, or a glob's folder before its first glob character (``in/*/a.json`` -> ``in``). A file's
    ``name=value`` folders count from there (:class:`interlake.ingest.readers.Folders`)."""
    if is_glob(path):
        head = path[:min(path.index(c) for c in GLOB_CHARS if c in path)]
        path = (head.rsplit("/", 1)[0] or "/") if "/" in head else "."
    jvm = spark.sparkContext._jvm
    hpath = jvm.org.apache.hadoop.fs.Path(path)
    fs = hpath.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())
    return normalize_uri(fs.makeQualified(hpath).toUri().toString()).rstrip("/")


def missing_folder(folder: str, setting: str) -> str:
    """What is said of a source folder that does not exist (by the job, and before Spark by ``noop``)."""
    return f"source folder {folder} does not exist; create it or fix {setting}"


def list_files(spark: SparkSession, folder: str, *, recursive: bool = False,
               setting: str = "the source's `path`", name_filter: str | None = None) -> list[FileInfo]:
    """Every visible file directly in ``folder``, or with ``recursive`` in it and its subfolders at any depth (names
    starting with ``.`` or ``_``, files or folders, or ending in ``._COPYING_``, are skipped, as Spark does).
    ``folder`` may be a glob (``shop/*.csv``: the files it matches, and the files of the folders it matches).
    ``setting``: the config key a missing folder's error names (``sources.shop.path``). ``name_filter``: only files
    whose name matches this Hadoop glob (Spark's ``pathGlobFilter``, as its readers apply it)."""
    jvm = spark.sparkContext._jvm
    path = jvm.org.apache.hadoop.fs.Path(folder)
    matcher = None
    if name_filter is not None:
        try:
            matcher = jvm.org.apache.hadoop.fs.GlobFilter(name_filter)
        except Exception as exc:  # noqa: BLE001  (Hadoop's "Illegal file pattern", from the JVM)
            raise SourceError(f"{setting.rsplit('.', 1)[0]}.options.pathGlobFilter: {name_filter!r} is not a glob "
                              f"Hadoop reads ({one_line(exc)}); e.g. *.csv or *.{{csv,csv.gz}}") from None
    fs = path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())
    if is_glob(folder):
        matches = [m for m in (fs.globStatus(path) or []) if not m.getPath().getName().startswith((".", "_"))]
        if not matches:
            log.warning("source path %s matches no file or folder yet", folder)
        top, todo = [m for m in matches if m.isFile()], [m.getPath() for m in matches if m.isDirectory()]
    elif not fs.exists(path):
        raise SourceError(missing_folder(folder, setting))
    else:
        top, todo = [], [path]
    found, folders = [], []

    def visit(status) -> None:
        name = status.getPath().getName()
        if status.isFile() and _candidate(name, status.getLen()) and (matcher is None
                                                                      or matcher.accept(status.getPath())):
            found.append(FileInfo(normalize_uri(status.getPath().toUri().toString()), int(status.getLen()),
                                  int(status.getModificationTime())))
        elif status.isDirectory() and not name.startswith((".", "_")):
            if recursive:
                todo.append(status.getPath())
            else:
                folders.append(name)

    listed = []
    for status in top:
        visit(status)
    while todo:
        listed.append(todo.pop())
        for status in fs.listStatus(listed[-1]):
            visit(status)
    warn_subfolders(folder, folders)
    if fs.getScheme() == "file":
        warn_broken_links(folder, [p.toUri().getPath() for p in listed],
                          glob_pattern=path.toUri().getPath() if is_glob(folder) else None)
    return sorted(found, key=lambda f: f.file)


def warn_broken_links(folder: str, local_folders: list[str], glob_pattern: str | None = None) -> None:
    """Hadoop's local listing leaves out a symbolic link whose target is missing (an export linked from a share that
    is not mounted, a file moved away): say so, naming each, since its records would otherwise be missed without a
    word. Such a file is not taken, so a run after the link is fixed takes it."""
    broken = []
    for local in local_folders:
        with contextlib.suppress(OSError), os.scandir(local) as entries:
            broken += [e.path for e in entries
                       if e.is_symlink() and _candidate(e.name, 1) and not os.path.exists(e.path)]
    if glob_pattern and not any(c in glob_pattern for c in "{}\\") and "[^" not in glob_pattern:
        broken += [m for m in glob.glob(glob_pattern) if os.path.islink(m) and _candidate(os.path.basename(m), 1)
                   and not os.path.exists(m) and m not in broken]
    for link in sorted(broken):
        log.warning("source %s: %s is a symbolic link to %s, which does not exist: it is not read; fix or remove the "
                    "link (the run after the fix takes its file)", folder, link, os.readlink(link))


def warn_subfolders(folder: str, names: list[str]) -> None:
    """Files in subfolders are candidates only when the source says so (``recursiveFileLookup``): say so, so
    date-partitioned exports (``shop/2026-11-08/export.csv``) are not missed without a word."""
    if names:
        shown = ", ".join(sorted(names)[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
        log.warning("source folder %s has subfolders (%s) whose files are not read: a source takes the files directly "
                    "in its folder unless its options say recursiveFileLookup: \"true\"", folder, shown)


def _candidate(name: str, size: int) -> bool:
    """Spark's rule for the files its readers and file streams skip (hidden, ``_SUCCESS``, and ``x._COPYING_``: a file
    ``hdfs dfs -put`` is still writing), and empty files."""
    return not name.startswith((".", "_")) and not name.endswith("._COPYING_") and size > 0


def list_local_files(folder: str, *, recursive: bool = False, name_filter: str | None = None) -> list[FileInfo] | None:
    """``list_files`` of a local folder (or one file) without Spark (None when ``folder`` is a URI, is missing or
    holds a symbolic link, whose size or time Hadoop and Python may not see alike). A name is spelled
    as Spark spells it where Python's URI encoding agrees (ASCII names); where it does not, the file only looks new,
    never taken: callers use this to decide that nothing is new, so a mismatch costs time, never a file.
    A glob is matched by Python only where its syntax means the same as Hadoop's (``*``, ``?``, ``[a-z]``, ``[!a]``);
    braces, ``[^a]`` or escapes give None; so does such a ``name_filter``. A ``file:`` URI is listed as the path it
    names."""
    local = local_folder(folder)
    if local is None or name_filter is not None and _hadoop_only(name_filter):
        return None
    folder = local
    found, folders, todo = [], [], [folder]

    def take(path: str) -> None:
        stat = os.stat(path)
        name = os.path.basename(path)
        if _candidate(name, stat.st_size) and (name_filter is None or fnmatch.fnmatchcase(name, name_filter)):
            found.append(FileInfo(_spark_file_uri(path), stat.st_size, stat.st_mtime_ns // 1_000_000))

    if is_glob(folder):
        if _hadoop_only(folder):
            return None
        matches = [m for m in glob.glob(folder) if not os.path.basename(m).startswith((".", "_"))]
        if any(os.path.islink(m) for m in matches):
            return None
        todo = [m for m in matches if os.path.isdir(m)]
        for m in matches:
            if os.path.isfile(m):
                take(m)
    elif os.path.isfile(folder) and not os.path.islink(folder):  # a path naming one file: Hadoop lists just it
        todo = []
        take(folder)
    elif not os.path.isdir(folder):
        return None
    while todo:
        with os.scandir(todo.pop()) as entries:
            for entry in entries:
                if entry.is_symlink():  # Hadoop and Python may see a link's size or time differently: not sure
                    return None
                if entry.is_file():
                    take(entry.path)
                elif entry.is_dir() and not entry.name.startswith((".", "_")):
                    if recursive:
                        todo.append(entry.path)
                    else:
                        folders.append(entry.name)
    warn_subfolders(folder, folders)
    return sorted(found, key=lambda f: f.file)


def _hadoop_only(pattern: str) -> bool:
    """Glob syntax Python's ``glob``/``fnmatch`` read otherwise than Hadoop (braces, ``[^a]``, escapes)."""
    return any(c in pattern for c in "{}\\") or "[^" in pattern


def _spark_file_uri(path: str) -> str:
    """``file:/...`` with the path quoted as java.net.URI quotes a Hadoop path (its legal path characters kept)."""
    return "file:" + quote(os.path.abspath(path), safe="/!*'();:@&=+$,~")

"""Readers: every format becomes one shape, a row per record with the four standard values still raw.

Output columns: ``source, file, raw, parse_error, user_id_raw, item_id_raw, interaction_type_raw, timestamp_raw``.
A record that cannot be parsed keeps its raw text and a ``parse_error``; nothing is dropped by a permissive
reader. JSON-like formats are parsed into VARIANT (``try_parse_json``), so a broken line yields NULL, not a lost
row, and dotted field paths reach nested values whatever their JSON type.

Example:
    >>> read_source(spark, cfg.source("shop_export"), ["file:/in/shop/a.csv"]).show()
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from functools import reduce
from urllib.parse import unquote

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import (
    ArrayType,
    BinaryType,
    DecimalType,
    DoubleType,
    FloatType,
    MapType,
    NumericType,
    StructType,
    TimestampType,
)

from interlake.config import SPARK_ENCODINGS, STANDARD_FIELDS, SourceConfig, base_field
from interlake.errors import ConfigError, SourceError, one_line
from interlake.fs import first_bytes, first_line, parquet_schema_reader
from interlake.ingest.files import source_root
from interlake.ingest.standardize import WHITE_SPACE, strip
from interlake.session import session_conf
from interlake.tables.quoting import identifier

ID_FIELDS = ("user_id", "item_id")
RAW_COLUMNS = (("source", "file", "raw", "parse_error") + tuple(f"{f}_raw" for f in STANDARD_FIELDS)
               + tuple(f"{f}_error" for f in ID_FIELDS))
log = logging.getLogger(__name__)

CORRUPT = "_corrupt_record"
SAMPLE_RECORDS = 2000


_PART = r"`(?:[^`]|``)*`|[^.`]+"
_PATH = re.compile(rf"(?:{_PART})(?:\.(?:{_PART}))*")


def path_parts(dotted: str) -> list[str]:
    """A mapped field's path as its keys: ``"who.id"`` -> ``["who", "id"]``; a backquoted part is one key whose name
    may hold dots (`` "`user.id`" `` -> ``["user.id"]``, a flat key as flattened exports write them; a backquote
    inside doubled). A path that is not of that form is split at every dot."""
    if not _PATH.fullmatch(dotted):
        return dotted.split(".")
    return [p[1:-1].replace("``", "`") if p.startswith("`") else p for p in re.findall(_PART, dotted)]


def path_name(parts: list[str]) -> str:
    """The path of ``parts`` as a mapping names it (the inverse of ``path_parts``): a key with a dot or a backquote
    is backquoted."""
    return ".".join(identifier(p) if "." in p or "`" in p else p for p in parts)


def variant_path(dotted: str) -> str:
    """``"ctx.page id"`` -> ``$['ctx']['page id']`` (bracket form: any key name is safe)."""
    parts = [p.replace("\\", "\\\\").replace("'", "\\'") for p in path_parts(dotted)]
    return "$" + "".join(f"['{p}']" for p in parts)


def _variant_field(v: str, dotted: str) -> Column:
    return F.try_variant_get(F.col(v), variant_path(dotted), "string")


def record_type(paths: list[str]) -> str | None:
    """The STRUCT type that holds every dotted path as a STRING leaf (``["a", "b.c"]`` ->
    ``struct<`a`: string, `b`: struct<`c`: string>>``), or None when one path is a prefix of another (a value
    cannot be both a leaf and an object)."""
    tree: dict = {}
    for path in paths:
        node, parts = tree, path_parts(path)
        for i, part in enumerate(parts):
            leaf = i == len(parts) - 1
            if part in node and (node[part] is None) != leaf:
                return None
            if leaf:
                node[part] = None
            else:
                node = node.setdefault(part, {})

    def render(node: dict) -> str:
        return "struct<" + ", ".join(f"{identifier(k)}: {'string' if v is None else render(v)}"
                                     for k, v in node.items()) + ">"

    return render(tree)


FOLDER_NAME = re.compile(r"[A-Za-z0-9_-]+")
HIVE_NULL = "__HIVE_DEFAULT_PARTITION__"  # the folder Hive and Spark's partitionBy write a NULL value as


@dataclass(frozen=True)
class Folders:
    """The ``name=value`` folders under a source's folder (Hive-style partitions, as Spark's ``partitionBy`` and
    Hive write them: ``export/dt=2026-11-08/type=purchase/part-0.parquet``, the values no longer in the files). A
    mapped field that names one is read, for the files under such a folder, from the folder (its deepest one), as
    Spark's partition discovery reads it: its value unescaped (``%3A`` is ``:``), ``__HIVE_DEFAULT_PARTITION__``
    missing, and taken over a field of the same name in the file. Only plain names (letters, digits, ``_``, ``-``)."""

    root: str  # the URI of the source's folder (files.source_root); folders above it are not looked at
    names: frozenset[str]  # the folder names found (batch: in the files taken) or that may be found (a stream's)

    @classmethod
    def of(cls, root: str, files: Collection[str]) -> Folders:
        """The folder names in ``files``' paths (URIs) below ``root``."""
        names = set()
        for f in files:
            if f.startswith(root + "/"):
                names.update(unquote(seg.split("=", 1)[0]) for seg in f[len(root) + 1:].split("/")[:-1] if "=" in seg)
        return cls(root, frozenset(names))

    def labels(self, src: SourceConfig) -> dict[str, str]:
        """The read fields (by label) that are folders here, with the folder name."""
        return {label: path for label, path in src.read_fields.items()
                if path in self.names and FOLDER_NAME.fullmatch(path)}

    def _pattern(self, name: str) -> str:
        return rf"^(?:.*/)?{re.escape(name)}=([^/]*)/"

    def _below(self) -> Column:
        file = F.col("file")
        return F.when(file.startswith(self.root + "/"), F.substring(file, len(self.root) + 2, 1 << 30))

    def present(self, name: str) -> Column:
        """Whether the row's file is under a ``name=`` folder (NULL, so false, when it is not below the root)."""
        return self._below().rlike(self._pattern(name))

    def value(self, name: str) -> Column:
        """The row's ``name=`` folder's value: the URI's escapes undone, then Hive's (``+`` is itself in both)."""
        def unescape(text: Column) -> Column:
            return F.coalesce(F.try_url_decode(F.replace(text, F.lit("+"), F.lit("%2B"))), text)
        text = unescape(unescape(F.regexp_extract(self._below(), self._pattern(name), 1)))
        return F.when(text != HIVE_NULL, text)


NO_FOLDERS = Folders("", frozenset())


def _struct_field(rec: Column, dotted: str) -> Column:
    for part in path_parts(dotted):
        rec = rec.getField(part)
    return rec


def _record_values(variant: Column, src: SourceConfig) -> dict[str, Column]:
    """The mapped fields of a VARIANT record as STRINGs (an object or array value as its JSON text).

    One cast of the record to a STRUCT of the mapped paths reads them all at once (several times faster than
    one ``variant_get`` per path); where the paths cannot form one STRUCT, one ``variant_get`` each."""
    paths = sorted(set(src.read_fields.values()))
    rtype = record_type(paths)
    if rtype is None:
        return {std: F.try_variant_get(variant, variant_path(path), "string") for std, path in src.read_fields.items()}
    rec = F.try_variant_get(variant, "$", rtype)
    return {std: _struct_field(rec, path) for std, path in src.read_fields.items()}


def _finish(df: DataFrame, src: SourceConfig, values: dict[str, Column],
            value_at: Callable[[str], Column] | None = None, errors: Mapping[str, Column] | None = None,
            folders: Folders = NO_FOLDERS) -> DataFrame:
    """The reader's output (``RAW_COLUMNS``). ``value_at``: for a JSON record, a mapped path's VARIANT value, which
    says whether an id is an object or a list (:func:`container_id`) or a number in exponent notation
    (:func:`number_id`). ``errors``: an id's reason, or NULL, as the reader found it (a Parquet id of bytes that are
    not UTF-8 text). ``folders``: mapped fields read from the files' ``name=value`` folders (:class:`Folders`)."""
    at = ({std: value_at(src.read_fields[std]) for std in ID_FIELDS if std not in src.constants}
          if value_at is not None else {})
    values = {**values, **{std: number_id(values[std], value) for std, value in at.items()}}
    errors = {std: (container_id(std, values[std], at[std]) if std in at
                    else (errors or {}).get(std, F.lit(None).cast("string"))) for std in ID_FIELDS}
    for label, name in folders.labels(src).items():  # the files under a `name=` folder: the folder's value
        here = folders.present(name)
        values[label] = F.when(here, folders.value(name)).otherwise(values[label])
        if label in errors:
            errors[label] = F.when(here, F.lit(None).cast("string")).otherwise(errors[label])
    cols = [F.lit(src.name).alias("source"), F.col("file"), F.col("raw"), F.col("parse_error")]
    for std in STANDARD_FIELDS:
        if std in src.constants:
            cols.append(F.lit(src.constants[std]).alias(f"{std}_raw"))
        elif std == "timestamp" and src.timestamp_more:
            cols.append(joined_timestamp([values[k] for k in src.read_fields if base_field(k) == std])
                        .alias(f"{std}_raw"))
        else:
            cols.append(values[std].alias(f"{std}_raw"))
    for std in ID_FIELDS:
        cols.append(errors[std].alias(f"{std}_error"))
    return df.select(*cols)


def whole_digits(number: Column, text: Column) -> Column:
    """The ``text`` of a FLOAT, DOUBLE or DECIMAL ``number`` id, as its digits when it is a whole number (``123.0``
    is ``123``, the same user as a CSV export's); a fraction, and a number beyond DECIMAL(38,0) (``1e40``), as
    written."""
    return F.when(number % 1 == 0, F.coalesce(number.try_cast("decimal(38,0)").cast("string"), text)).otherwise(text)


def number_id(text: Column, value: Column) -> Column:
    """A JSON number id that is a whole number as its digits (:func:`whole_digits`, as a Parquet float id): ``1e3``,
    ``1.5e2`` and ``1e+16`` (as Python's ``json`` writes a float from 1e16) are parsed as DOUBLEs, whose text is
    ``1000.0``, ``150.0`` and ``1.0E16``; they are ``1000``, ``150`` and ``10000000000000000``, the same users as a
    CSV export's. (``123.0`` is a DECIMAL, already ``123``.) Only a ``text`` ending in ``.0`` or holding an ``E`` is
    looked at again, in the record's ``value``; a string id such as ``"7.0"`` stays as written, and a number beyond
    DECIMAL(38,0) keeps its text. Before 2026-12-05 such ids kept the DOUBLE's text."""
    return (F.when((text.endswith(".0") | text.contains("E")) & (F.schema_of_variant(value) == "DOUBLE"),
                   whole_digits(F.try_variant_get(value, "$", "double"), text))
            .otherwise(text))


def container_id(std: str, text: Column, value: Column) -> Column:
    """The reason a record's id is a JSON object or list, or NULL: read as a STRING such a value is its JSON text,
    which would be stored as the id. Only a ``text`` starting with ``{`` or ``[`` is looked at again, in the record's
    ``value`` (every other record pays one character's comparison), so a string id such as ``{3F2504E0-4F89}``
    passes. Before 2026-12-04 an id that was an object or a list in some records only was stored as its JSON text."""
    kind = F.schema_of_variant(value)
    shown = F.concat(F.lit(f"{std} '"), F.substring(text, 1, 64), F.lit("' is a JSON "))
    return F.when(F.substring(text, 1, 1).isin("{", "["),
                  F.when(kind.startswith("OBJECT"), F.concat(shown, F.lit("object, not a single value")))
                  .when(kind.startswith("ARRAY"), F.concat(shown, F.lit("list, not a single value"))))


def joined_timestamp(parts: list[Column]) -> Column:
    """A timestamp kept in several fields (``2026-11-08`` and ``14:05:00``) as one text, the parts joined by a space;
    NULL when every part is missing. Each part is stripped of white space (``" 12:00 "``). A part that is missing or
    blank shows as ``<missing>``, so the value fails to parse and is quarantined with it, instead of a date alone
    passing as its midnight."""
    stripped = [strip(p) for p in parts]
    present = [F.when(p != "", p) for p in stripped]
    return F.when(F.coalesce(*present).isNotNull(),
                  F.concat_ws(" ", *[F.coalesce(p, F.lit("<missing>")) for p in present]))


def _flatten_schema(schema: str, kinds: dict[str, str] | None = None) -> list[str]:
    """Field paths of a schema_of_variant string ``OBJECT<a: BIGINT, b: OBJECT<c: STRING>>`` -> a, b, b.c; ``kinds``,
    when given, gets each path's kind: ``object``, ``array`` or ``value``. A name Spark backquotes (one holding
    ``:``, ``, `` or ``<``; a backquote in it doubled) is read as the name, and ``DECIMAL(3,1)`` (a JSON number such
    as 12.5) as one type: before 2026-12-01 its comma split the list, and the fields after it were "not found". The
    fields of objects inside a list are not paths of the record."""
    paths: list[str] = []

    def name_at(i: int) -> tuple[str, int]:  # a field name and the index after its ": "
        if s[i] == "`":
            j, out = i + 1, []
            while True:
                k = s.index("`", j)
                out.append(s[j:k])
                if s.startswith("``", k):
                    out.append("`")
                    j = k + 2
                else:
                    return "".join(out), s.index(":", k) + 1
        colon = s.index(":", i)
        return s[i:colon].strip(), colon + 1

    def parse(i: int, prefix: str | None) -> int:  # one type from i; the index after it. prefix None: not recorded
        while s[i] == " ":
            i += 1
        if s.startswith("OBJECT<", i):
            i += len("OBJECT<")
            while s[i] != ">":
                name, i = name_at(i)
                if prefix is not None:
                    path = f"{prefix}.{path_name([name])}" if prefix else path_name([name])
                    paths.append(path)
                    if kinds is not None:
                        kind = s[i:].lstrip()
                        kinds[path] = ("object" if kind.startswith("OBJECT<") else "array"
                                       if kind.startswith("ARRAY<") else "value")
                i = parse(i, path if prefix is not None else None)
                i = i + 2 if s.startswith(", ", i) else i
            return i + 1
        if s.startswith("ARRAY<", i):
            return parse(i + len("ARRAY<"), None) + 1
        depth = 0  # a scalar type, DECIMAL(21,1) included
        while i < len(s) and not (depth == 0 and s[i] in ",>"):
            depth += s[i] == "("
            depth -= s[i] == ")"
            i += 1
        return i

    s = schema
    try:
        if s.startswith("OBJECT<"):
            parse(0, "")
    except (ValueError, IndexError):  # a spelling this parser does not know: the paths read so far
        log.warning("could not read every field of the sampled schema %s", schema[:500])
    return paths


def _check_fields(src: SourceConfig, available: list[str], what: str, kinds: dict[str, str] | None = None,
                  fields: Mapping[str, str] | None = None, hint: str = "", nested: bool = True,
                  folders: Folders = NO_FOLDERS) -> None:
    """``available``: the files' field paths as ``path_name`` spells them (``nested``), or a CSV header's names.
    A field the files' ``name=value`` folders give (``folders``) is there too."""
    fields = src.read_fields if fields is None else fields
    from_folders = folders.labels(src)
    fields = {std: path for std, path in fields.items() if std not in from_folders}

    def canonical(path: str) -> str:
        return path_name(path_parts(path)) if nested else path

    by_case = {}
    for name in available:
        by_case.setdefault(name.lower(), name)

    def spelled(path: str) -> str:  # names are case-sensitive (JSON keys are): say the files' spelling
        other = by_case.get(canonical(path).lower())
        return f" (the files spell it {other!r})" if other else ""

    def in_list(path: str) -> str:  # `items.sku` where `items` is a list (of objects with sku): say so
        parts = path_parts(path) if nested else [path]
        lists = [name for name in (path_name(parts[:i]) for i in range(1, len(parts)))
                 if (kinds or {}).get(name) == "array"]
        return (f" ({lists[0]!r} is a list in the files: fields inside a list are not read, a record is one "
                "interaction)" if lists else "")

    missing = [f"{base_field(std)} -> {src.read_fields[std]!r}{spelled(path)}{in_list(path)}"
               for std, path in fields.items() if canonical(path) not in available]
    flat = [path for path in fields.values()
            if nested and canonical(path) not in available and path_name([path]) in available]
    if flat:  # `user.id` mapped as a nested path while the files have one key with a dot in its name
        hint = (f" {flat[0]!r} is one key with a dot in its name in the files: write it backquoted, "
                f"{path_name([flat[0]])!r}, to map it" + (f";{hint}" if hint else ""))
    if missing:
        # control characters (a binary file's "header") as escapes, padding quoted: one readable line
        shown = ", ".join(p if p.isprintable() and p == p.strip() else repr(p) for p in available[:40]) + (
            " ..." if len(available) > 40 else "")
        named = (f"; their folders name {', '.join(sorted(folders.names)[:10])} (name=value folders)"
                 if folders.names else "")
        raise SourceError(
            f"source {src.name}: fields not found in the {what}: {'; '.join(missing)}. "
            f"The files have: {shown or 'no fields'}{named}. Fix sources.{src.name}.fields"
            + (f".{hint}" if hint else "")
        )
    # a mapped path that is an object or a list would store its JSON text as the id: never what was meant
    containers = []
    for std, path in src.read_fields.items():
        if std in from_folders:
            continue
        kind = (kinds or {}).get(canonical(path))
        if kind in ("object", "array"):
            inside = [p for p in available if p.startswith(canonical(path) + ".")][:5]
            containers.append(f"{base_field(std)} -> {path!r} is {'an object' if kind == 'object' else 'a list'}"
                              + (f" (its fields: {', '.join(inside)})" if inside else ""))
    if containers:
        raise SourceError(f"source {src.name}: mapped fields are not single values in the {what}: "
                          f"{'; '.join(containers)}. Map a value inside it; fix sources.{src.name}.fields")


# Files Spark's readers cannot open, by their ending (Hadoop decompresses .gz, .bz2, .deflate, ... itself): read as
# text they are bytes, and the source failed on a "header" of binary noise with advice to fix its fields.
UNREADABLE = {".zip": "a zip archive", ".7z": "a 7-Zip archive", ".rar": "a RAR archive", ".tar": "a tar archive",
              ".tgz": "a tar archive", ".tar.gz": "a tar archive", ".tar.bz2": "a tar archive",
              ".xlsx": "an Excel workbook", ".xls": "an Excel workbook"}
# compressed with a codec Hadoop does not have, so read as its raw bytes (binary noise for a header or a record)
UNREAD_CODECS = {".xz": "xz", ".lzma": "LZMA", ".z": "Unix compress", ".lzo": "LZO", ".br": "Brotli", ".zstd": "zstd"}
# a tool's framed format under the extension of Hadoop's block codec: its first bytes, and the tool
FRAMED = {".lz4": (b"\x04\x22\x4d\x18", "the LZ4 frame format (as the lz4 tool writes it)", "Lz4Codec"),
          ".snappy": (b"\xff\x06\x00\x00sNaPpY", "the Snappy framing format (as snzip and python-snappy write it)",
                      "SnappyCodec")}
RECOMPRESS = "decompress it, or compress it again with gzip (.gz) or bzip2 (.bz2), which every Spark reads"


def check_readable(spark: SparkSession, src: SourceConfig, files: list[str]) -> None:
    """A one-line error naming the first file of ``files`` that Spark's readers would take for text when it is not:
    an archive, a workbook, a file compressed with a codec Hadoop lacks here (``.xz``, unless a cluster adds one;
    ``.zst`` without Hadoop's native library, which pip's ``pyspark`` does not ship), or a tool's framed LZ4/Snappy
    file, which Hadoop's block codecs of the same extension misread (the LZ4 one as a block gigabytes long:
    ``OutOfMemoryError``). Only ``.lz4``/``.snappy`` files are opened (their first bytes)."""
    for f in files:
        name = unquote(f).rsplit("/", 1)[-1]
        lower = name.lower()
        kind = next((what for ending, what in UNREADABLE.items() if lower.endswith(ending)), None)
        if kind:
            raise SourceError(f"source {src.name}: {name} is {kind}, which Spark's readers do not open; "
                              + ("save it as CSV" if "Excel" in kind else "extract its files into the folder")
                              + " (or leave it out with a glob path such as *.csv); .gz and .bz2 files are read as "
                              "they are")
        ending = "." + lower.rsplit(".", 1)[-1]
        if ending in UNREAD_CODECS and not _has_codec(spark, unquote(f)):
            raise SourceError(f"source {src.name}: {name} is {UNREAD_CODECS[ending]}-compressed, which none of "
                              f"Hadoop's codecs here reads (io.compression.codecs); {RECOMPRESS}")
        if ending == ".zst" and not _native_zstd(spark):
            raise SourceError(f"source {src.name}: {name} is zstd-compressed, which Hadoop reads only with its native "
                              f"library, not loaded in this Spark (pip's pyspark has none); {RECOMPRESS}")
        if ending in FRAMED:
            magic, what, codec = FRAMED[ending]
            if first_bytes(spark, unquote(f), len(magic)) == magic:
                raise SourceError(f"source {src.name}: {name} is in {what}, which Hadoop's {codec} for "
                                  f"{ending} files does not read (it reads Hadoop's own block format); {RECOMPRESS}")


def check_encodings(spark: SparkSession, sources: Collection[SourceConfig]) -> None:
    """A config error naming the first source whose ``options.encoding`` this JVM does not have (a typo, or a name
    only another tool knows), or that Spark refuses because ``spark.conf`` turned ``spark.sql.legacy.javaCharsets``
    off again: before a run reads or writes anything (Spark's own error came from the middle of a source's run)."""
    charset = spark.sparkContext._jvm.java.nio.charset.Charset
    legacy = str(spark.conf.get("spark.sql.legacy.javaCharsets", "false")).lower() == "true"
    for src in sources:
        if src.encoding in SPARK_ENCODINGS:
            continue
        option = next(k for k in src.options if k.lower() in ("encoding", "charset"))
        key, value = f"sources.{src.name}.options.{option}", src.options[option]
        try:
            known = charset.isSupported(src.encoding)
        except Exception:  # noqa: BLE001  (py4j's IllegalCharsetNameException: spaces, slashes, ...)
            known = False
        if not known:
            raise ConfigError(f"{key}: {value!r} is not an encoding this Java has; use the name Java gives it "
                              "(UTF-8, UTF-16, ISO-8859-1, windows-1252, Shift_JIS, GB18030, ...: java.nio.charset)")
        if not legacy:
            raise ConfigError(f"{key}: Spark reads {value} only with spark.sql.legacy.javaCharsets: true, which "
                              "is off in this session (interlake's sessions turn it on: remove the setting from "
                              "spark.conf); without it Spark reads only "
                              + ", ".join(e.upper() for e in SPARK_ENCODINGS))


def _has_codec(spark: SparkSession, uri: str) -> bool:
    jvm = spark.sparkContext._jvm
    factory = jvm.org.apache.hadoop.io.compress.CompressionCodecFactory(spark.sparkContext._jsc.hadoopConfiguration())
    return factory.getCodec(jvm.org.apache.hadoop.fs.Path(uri)) is not None


def _native_zstd(spark: SparkSession) -> bool:
    try:
        spark.sparkContext._jvm.org.apache.hadoop.io.compress.ZStandardCodec.checkNativeCodeLoaded()
        return True
    except Exception:  # noqa: BLE001  (py4j's error for the JVM's "native zStandard library not available")
        return False


def read_source(spark: SparkSession, src: SourceConfig, files: list[str]) -> DataFrame:
    """Read ``files`` of one source into the raw standard shape, after checking its mapped fields exist."""
    check_readable(spark, src, files)
    readers = {"csv": _read_csv, "parquet": _read_parquet, "jsonl": _read_jsonl, "json": _read_json,
               "queue_dump": _read_queue_dump}
    folders = Folders.of(source_root(spark, src.path), files)
    return readers[src.format](spark, src, [reader_path(f) for f in files], folders)


def reader_path(file_uri: str) -> str:
    """A file as Spark's readers take it. Files are known by the URI Hadoop lists them with (``file:/a%201.csv``,
    as ``_metadata.file_path`` spells it), but a reader takes a Hadoop path string, where ``%20`` is three
    characters and ``[]{}*?`` are glob patterns: so decode the escapes and escape the glob characters."""
    return re.sub(r"([\\\[\]{}*?])", r"\\\1", unquote(file_uri))


# a file listed by the run and gone when Spark opened it: Hadoop's and Spark's spellings
_GONE = re.compile(r"FileNotFoundException: File (\S+) does not exist"
                   r"|PATH_NOT_FOUND\] Path does not exist: (\S+?)\.?(?:\s|$)")


def vanished(exc: BaseException | str, src: SourceConfig) -> str | None:
    """The one line for a file of ``src`` deleted or moved between the run's listing and Spark's read (an export's
    own clean-up, a mover that archives files), or None when ``exc`` is not that. Nothing of the file was taken:
    the next run lists the folder again."""
    found = _GONE.search(exc if isinstance(exc, str) else one_line(exc))
    if not found:
        return None
    path = unquote(found.group(1) or found.group(2)).removeprefix("file:")
    return (f"source {src.name}: {path} was deleted or moved while this run read it (by another process); the next "
            f"run undoes what this one left, if anything, and lists {src.path} again")


def literal_path(reader_path_: str) -> str:
    """The file a ``reader_path`` names, its glob escapes removed (for Hadoop's FileSystem, which takes no globs)."""
    return re.sub(r"\\([\\\[\]{}*?])", r"\1", reader_path_)


def _read_csv(spark: SparkSession, src: SourceConfig, files: list[str], folders: Folders = NO_FOLDERS) -> DataFrame:
    """CSV files, each read with the columns its own header names: exports change their columns over time (a column
    added, the order changed), and one header applied to every file would shift values into the wrong fields or make
    every line of the other files malformed. Files are grouped by their first line (read through Hadoop, a few bytes
    each); Spark parses one header per group; the groups are read apart and unioned by the standard fields."""
    options = csv_options(src)
    if str(options["header"]).lower() != "true":  # no header: every file has the same positional columns
        return _read_csv_group(spark, src, options, files, "CSV columns", folders)
    groups: dict[str, list[str]] = {}
    for f in files:
        try:
            line = first_line(spark, literal_path(f))
        except Exception as exc:  # noqa: BLE001  (e.g. a .gz that is not gzip: the JVM's message lacks the file)
            raise SourceError(vanished(exc, src) or f"source {src.name}: cannot read the header of {literal_path(f)}: "
                              f"{one_line(exc)}; fix or move the file") from exc
        groups.setdefault(line, []).append(f)
    parts = []
    for group in groups.values():
        what = (f"CSV header of {literal_path(group[0]).rsplit('/', 1)[-1]}"
                + (f" (and {len(group) - 1:,} more {'file' if len(group) == 2 else 'files'} with that header)"
                   if len(group) > 1 else ""))
        parts.append(_read_csv_group(spark, src, options, group, what, folders))
    return reduce(DataFrame.unionByName, parts)


CSV_OPTION_NAMES = {k.lower(): k for k in ("header", "multiLine", "sep", "delimiter", "encoding", "charset")}


def csv_options(src: SourceConfig) -> dict[str, str]:
    """The source's reader options with the defaults: a header line, and whole-file parsing (``multiLine``) for text
    in UTF-16 or UTF-32 (Excel's "Unicode Text" export): Spark splits lines on the byte ``\\n`` otherwise, which cuts
    those characters in half, and every line came out as garbage, quarantined."""
    # Spark takes option names in any case; spelled as here, so the lookups below see the user's `Header: "false"`
    # (with the default `header` beside it Spark took one of the two, and this code the other)
    options = {CSV_OPTION_NAMES.get(k.lower(), k): v for k, v in src.options.items()}
    options = {"header": "true", **options}
    encoding = next((v for k, v in options.items() if k.lower() in ("encoding", "charset")), "")
    if re.match(r"(?i)^utf-?(16|32)", str(encoding)):
        multiline = next((k for k in options if k.lower() == "multiline"), None)
        if multiline is None:
            options["multiLine"] = "true"
        elif str(options[multiline]).lower() != "true":
            raise SourceError(f"source {src.name}: {encoding} text is read a whole file at a time; remove "
                              f"sources.{src.name}.options.{multiline}")
    return options


def _read_csv_group(spark: SparkSession, src: SourceConfig, options: dict, files: list[str], what: str,
                    folders: Folders = NO_FOLDERS) -> DataFrame:
    header = spark.read.options(**options).csv(files[0]).columns
    columns = header_columns(src.read_fields, header)
    encoded = any("\x00" in c for c in header) and encoding_hint(spark, src, files[0])
    if encoded and any(column not in header for column in columns.values()):
        raise SourceError(f"source {src.name}: the {what} could not be read:{encoded}")
    _check_fields(src, header, what, fields=columns, nested=False, folders=folders,
                  hint=_separator_hint(src, options, header) or _repeated_name_hint(src, header))
    columns = {std: column for std, column in columns.items() if column in header}  # the others: from folders
    schema = ", ".join(f"{identifier(c)} STRING" for c in header) + f", {CORRUPT} STRING"
    df = (spark.read.options(**options).option("mode", "PERMISSIVE").option("columnNameOfCorruptRecord", CORRUPT)
          .schema(schema).csv(files)
          .withColumn("file", F.col("_metadata.file_path")))
    raw = F.coalesce(F.col(CORRUPT), row_json([identifier(c) for c in header]))
    error = F.when(F.col(CORRUPT).isNotNull(), F.lit("malformed CSV line (wrong number of fields or broken quoting)"))
    line_by_line = str(options.get("multiLine", "false")).lower() != "true"
    if line_by_line:
        # an odd number of quotes: most often a quoted value with a line break in it, which Spark reads line by line
        error = F.when(F.col(CORRUPT).isNotNull() & (occurrences(F.col(CORRUPT), '"') % 2 == 1), F.lit(
            "malformed CSV line (a quote is not closed on its line: if quoted values hold line breaks, set "
            f'sources.{src.name}.options.multiLine: "true")')).otherwise(error)
    error = F.coalesce(error, quoting_error(src.name, options, header, list(dict.fromkeys(columns.values())),
                                            line_by_line=line_by_line))
    df = df.withColumn("raw", raw).withColumn("parse_error", error)
    if str(options["header"]).lower() == "true":
        df = df.where(~_repeats_header(spark, options, files[0], header))
    return _finish(df, src, {std: F.col(identifier(columns[std])) if std in columns else F.lit(None).cast("string")
                             for std in src.read_fields}, folders=folders)


def occurrences(text: Column, char: str) -> Column:
    """How many times ``char`` is in ``text``."""
    return F.length(text) - F.length(F.replace(text, F.lit(char), F.lit("")))


def quoting_error(source: str, options: Mapping[str, str], header: list[str], mapped: list[str], *,
                  line_by_line: bool) -> Column:
    """The reason a line Spark parsed holds a mapped value whose quoting it did not read, or NULL. Such a value would
    be stored with its quotes, as an id no other source has, or cut from a record it does not belong to:

    - a value that starts with the quote character: Spark keeps the quotes of a quoted value it cannot unquote, as a
      value whose quotes are doubled inside (``"5"" screen"``, RFC 4180, as Excel, pandas and PostgreSQL write them;
      Spark's default escape is a backslash) or a quote after white space (``u1, "i1"``);
    - ``line_by_line`` (no ``multiLine``), a first value that ends with a quote opening nowhere on its line
      (``x",i13,view,...``): the end of a quoted value broken across lines, whose earlier lines are quarantined as
      not closing their quote. Only the first value: a break in any other one leaves a line of too few fields.
    Each test starts with a ``contains``, so a value without the quote character costs one scan."""
    named = {k.lower(): str(v) for k, v in options.items()}
    quote = named.get("quote", '"')
    if len(quote) != 1 or quote == "\u0000":  # no quoting (Spark's quote: "")
        return F.lit(None).cast("string")
    escape = named.get("escape", "\\")
    checks = []

    def reason(column: str, why: Column | str) -> Column:
        value = F.substring(F.col(identifier(column)), 1, 64)
        return F.concat(F.lit("malformed CSV line (value '"), value, F.lit(f"' of column {identifier(column)}: "),
                        F.lit(why) if isinstance(why, str) else why, F.lit(")"))

    for column in mapped:
        value = F.col(identifier(column))
        lead = F.ltrim(value, F.lit(WHITE_SPACE))
        why = F.when(lead != value, F.lit(
            "white space before its opening quote, and Spark read the quotes as text; set "
            f'sources.{source}.options.ignoreLeadingWhiteSpace: "true"'))
        if escape != quote:
            why = F.when(value.contains(quote * 2), F.lit(
                "a quoted value with doubled quotes inside, which Spark read as text; set "
                f"sources.{source}.options.escape: {json.dumps(quote)} (Spark's default escape is a backslash)"
            )).otherwise(why)
        why = F.coalesce(why, F.lit("a quote that does not close right before a separator, and Spark read the "
                                    "quotes as text"))
        checks.append(F.when(value.contains(quote) & lead.startswith(quote), reason(column, why)))
    if line_by_line and header and header[0] in mapped:
        first = F.col(identifier(header[0]))
        checks.append(F.when(
            first.contains(quote) & F.rtrim(first, F.lit(WHITE_SPACE)).endswith(quote)
            & (occurrences(first, quote) % 2 == 1),
            reason(header[0], "it ends with a quote that opens nowhere on its line, as the end of a quoted value "
                              "broken across lines does; if quoted values hold line breaks, set "
                              f'sources.{source}.options.multiLine: "true"')))
    return F.coalesce(*checks) if checks else F.lit(None).cast("string")


def _repeats_header(spark: SparkSession, options: dict, first_file: str, header: list[str]) -> Column:
    """A line that is the header again, as exports concatenated with ``cat`` (or written in chunks, each with its
    header) have: it is not a record, as the first line is not (it was quarantined as a type outside the vocabulary
    and a timestamp that cannot be parsed, and failed the gate of a small file). Matched by the values Spark parses
    from the first line, so padded, empty and repeated names (which Spark renames) match too."""
    positional = ", ".join(f"_c{i} STRING" for i in range(len(header)))  # the header's width: no inference job
    first = spark.read.options(**{**options, "header": "false"}).schema(positional).csv(first_file).first()
    values = [None if v is None else v.lstrip("\ufeff") if i == 0 else v for i, v in enumerate(first or [])]
    if len(values) != len(header):
        return F.lit(False)
    same = [F.col(identifier(c)).eqNullSafe(F.lit(v)) for c, v in zip(header, values, strict=True)]
    return F.col(CORRUPT).isNull() & reduce(lambda a, b: a & b, same)


def row_json(columns: list[str], binary: frozenset[str] = frozenset()) -> Column:
    """A parsed row as the JSON object of its columns (quoted identifiers), an empty (null) value written ``null``:
    Spark's ``to_json`` leaves such keys out, and a quarantined CSV row without its user read ``{"product":"i2",…}``,
    the column it lacks nowhere in it. A ``binary`` column is its text where its bytes are UTF-8 (a Parquet BINARY
    column of ids: ``u1``, which a search of the quarantine for the user finds), else base64 as ``to_json`` writes
    bytes."""
    def value(c: str) -> Column:
        if c not in binary:
            return F.col(c)
        text = F.col(c).cast("string")
        name = c[1:-1].replace("``", "`")  # the column's name, unquoted (the struct's key)
        return F.when(F.is_valid_utf8(text), text).otherwise(F.base64(F.col(c))).alias(name)
    return F.to_json(F.struct(*[value(c) for c in columns]), {"ignoreNullFields": "false"})


def encoding_hint(spark: SparkSession, src: SourceConfig, file: str) -> str:
    """When ``file`` (a reader path) is UTF-16 or UTF-32 text, judged by its first bytes (a byte-order mark, or NUL
    bytes beside ASCII characters) and the source reads another encoding: the setting to read it. A file read in the
    wrong one had no fields Spark could find, and the error said to fix the mapping."""
    head = first_line(spark, literal_path(file), 64).encode("latin-1")[:4]

    def ascii_at(*at: int) -> bool:  # printable ASCII (or a tab or a line break) at those bytes, NULs at the others
        return len(head) == 4 and all((0x20 <= b < 0x7F or b in b"\t\r\n") if i in at else b == 0
                                      for i, b in enumerate(head))

    name = ("UTF-32" if head in (b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff")
            else "UTF-16" if head[:2] in (b"\xff\xfe", b"\xfe\xff")
            else "UTF-16LE" if ascii_at(0, 2) else "UTF-16BE" if ascii_at(1, 3) else None)
    if name is None or name.lower() == src.encoding:
        return ""
    return (f" {unquote(file).rsplit('/', 1)[-1]} is {name} text (its first bytes {head.hex(' ').upper()}): set "
            f"sources.{src.name}.options.encoding: {name}")


def _separator_hint(src: SourceConfig, options: dict, header: list[str]) -> str:
    """A header read as one column that another separator would split so that the mapped fields are in it (an
    export written with ``;``, as spreadsheets do where the comma is the decimal mark, read with Spark's ``,``)."""
    if len(header) != 1:
        return ""
    for sep, name in ((";", "';'"), ("\t", "'\\t' (a tab)"), ("|", "'|'"), (",", "','")):
        names = [c.strip(WHITE_SPACE).strip('"') for c in header[0].split(sep)]
        if sep != options.get("sep", options.get("delimiter", ",")) and len(names) > 1 and all(
                path in names for path in src.read_fields.values()):
            return f" The header looks separated by {name}: set sources.{src.name}.options.sep: {name.split()[0]}"
    return ""


def _repeated_name_hint(src: SourceConfig, header: list[str]) -> str:
    """A mapped name the header has twice (``id,id,event,time``): Spark numbers such columns by position (``id0``,
    ``id1``), and the name itself is then in no column."""
    for path in src.read_fields.values():
        numbered = [c for c in header if re.fullmatch(re.escape(path) + r"\d+", c, flags=re.IGNORECASE)]
        if path not in header and len(numbered) > 1:
            return (f" The header names {path!r} more than once; Spark numbers those columns by position "
                    f"({', '.join(numbered)}): map the one meant")
    return ""


def header_columns(fields: Mapping[str, str], header: list[str]) -> dict[str, str]:
    """The header column of each mapped field: the one named exactly so, else the one column whose name padded with
    white space is (``customer, product, event`` written with a space after each comma: Spark keeps ``' product'``,
    and the source failed on ``product`` not found)."""
    padded: dict[str, list[str]] = {}
    for column in header:
        padded.setdefault(column.strip(WHITE_SPACE), []).append(column)
    return {std: path if path in header or len(padded.get(path, [])) != 1 else padded[path][0]
            for std, path in fields.items()}


def _read_parquet(spark: SparkSession, src: SourceConfig, files: list[str],
                  folders: Folders = NO_FOLDERS) -> DataFrame:
    """Parquet files, each read with the schema in its own footer: Spark reads files with one schema, a file's, and a
    file whose column has another type fails the read (``PARQUET_COLUMN_DATA_TYPE_MISMATCH``), every run after it too,
    as exports change: a pandas export writes a column that is empty that day as type null, an id column becomes text.
    Files are grouped by their footer's schema (read through Hadoop, the end of each file), as CSV files by header;
    the groups are read apart, each value typed as its own files have it, and unioned by the standard fields."""
    groups: dict[str, list[str]] = {}
    parquet_schema = parquet_schema_reader(spark)
    for f in files:
        try:
            schema = parquet_schema(literal_path(f))
        except Exception as exc:  # noqa: BLE001  (not Parquet, cut short: the JVM's message names the file)
            raise SourceError(vanished(exc, src) or f"source {src.name}: cannot read the Parquet footer of "
                              f"{literal_path(f).rsplit('/', 1)[-1]}: {one_line(exc)}; fix or move the file") from exc
        groups.setdefault(schema, []).append(f)
    parts = []
    for group in groups.values():
        what = ("Parquet schema" if len(groups) == 1 else
                f"Parquet schema of {literal_path(group[0]).rsplit('/', 1)[-1]}"
                + (f" (and {len(group) - 1:,} more {'file' if len(group) == 2 else 'files'} with that schema)"
                   if len(group) > 1 else ""))
        parts.append(_read_parquet_group(spark, src, group, what, folders))
    return reduce(DataFrame.unionByName, parts)


def _read_parquet_group(spark: SparkSession, src: SourceConfig, files: list[str], what: str,
                        folders: Folders = NO_FOLDERS) -> DataFrame:
    df = spark.read.options(**src.options).parquet(*files)
    kinds: dict[str, str] = {}
    available = _struct_paths(df.schema, kinds=kinds)
    _check_fields(src, available, what, kinds, folders=folders)
    df = df.withColumn("file", F.col("_metadata.file_path")).withColumn(
        "raw", row_json([identifier(c) for c in df.columns if c != "file"],
                        frozenset(identifier(f.name) for f in df.schema.fields if isinstance(f.dataType, BinaryType)))
    ).withColumn("parse_error", F.lit(None).cast("string"))
    values, errors = {}, {}
    for std, path in src.read_fields.items():
        if path_name(path_parts(path)) not in available:  # a name=value folder's (checked above)
            values[std] = F.lit(None).cast("string")
            continue
        column = F.expr(".".join(identifier(p) for p in path_parts(path)))
        kind = df.select(column).schema[0].dataType
        values[std] = column.try_cast("string")
        if base_field(std) != "timestamp" and isinstance(kind, FloatType | DoubleType | DecimalType):
            # pandas writes an integer column with a missing value as float64: user 123 arrives as 123.0, a rating
            # 5 as 5.0 (which a type map's "5" missed; a JSON record's 5.0 is "5"); a JDBC export of Oracle's NUMBER
            # writes DECIMAL(38,10): 123.0000000000
            values[std] = whole_digits(column, values[std])
        if isinstance(kind, BinaryType):
            # BINARY (a BYTE_ARRAY without the UTF8 annotation, as some writers leave text): its bytes as text, which
            # Spark's cast does not check; bytes that are not UTF-8 would be stored as an id no reader can read
            values[std] = F.make_valid_utf8(values[std])
            if std in ID_FIELDS:
                errors[std] = F.when(~F.is_valid_utf8(column.cast("string")), F.concat(
                    F.lit(f"{std} '0x"), F.substring(F.hex(column), 1, 64),
                    F.lit(f"' is bytes that are not UTF-8 text (the Parquet BINARY column {path})")))
        if base_field(std) == "timestamp" and isinstance(kind, NumericType) and src.timestamp_format == "iso8601":
            # (a pattern may read digits: an INT 20261120 with yyyyMMdd)
            raise SourceError(
                f"sources.{src.name}.timestamp_format: 'iso8601' reads dates and times, and {path!r} holds numbers "
                f"in the Parquet files ({kind.simpleString().upper()}); set epoch_s, epoch_ms, epoch_us or "
                "epoch_ns, the unit the numbers count (a nanosecond TIMESTAMP, as pandas writes them, is read as "
                "such a number: epoch_ns)")
        if (base_field(std) == "timestamp" and src.timezone
                and isinstance(kind, TimestampType)):
            # a TIMESTAMP is an instant: `timezone` is for wall-clock times (TIMESTAMP_NTZ, text) and must not shift
            # it, so its text carries its offset (`...Z`), which the ISO-8601 parse keeps
            if src.timestamp_format != "iso8601":
                raise SourceError(f"source {src.name}: {path!r} holds instants (a Parquet TIMESTAMP) and "
                                  f"timestamp_format is a pattern; set sources.{src.name}.timestamp_format: iso8601 "
                                  f"or remove sources.{src.name}.timezone")
            values[std] = F.date_format(column, "yyyy-MM-dd'T'HH:mm:ss.SSSSSSXXX")
    return _finish(df, src, values, errors=errors, folders=folders)


def _struct_paths(schema, prefix: str = "", kinds: dict[str, str] | None = None) -> list[str]:
    out = []
    for field in schema.fields:
        path = f"{prefix}{path_name([field.name])}"
        out.append(path)
        if kinds is not None:
            kinds[path] = ("object" if isinstance(field.dataType, StructType | MapType)
                           else "array" if isinstance(field.dataType, ArrayType) else "value")
        if hasattr(field.dataType, "fields"):
            out.extend(_struct_paths(field.dataType, path + ".", kinds))
    return out


def _lines(spark: SparkSession, src: SourceConfig, files: list[str]) -> DataFrame:
    """Non-blank lines with their file: a blank line is not a record. Files in UTF-8 (or ASCII) are read by Spark's
    text reader, line by line; in another ``encoding`` each file is decoded whole (:func:`_decoded_texts`) and split."""
    sep = src.line_sep
    if src.encoding == "utf-8":
        lines = (spark.read.options(**({"lineSep": sep} if sep is not None else {})).text(files)
                 .select(F.col("_metadata.file_path").alias("file"), "value"))
    else:
        split = re.escape(sep) if sep is not None else r"\r\n|\r|\n"
        lines = _decoded_texts(spark, src, files).select("file", F.explode(F.split("value", split)).alias("value"))
    return lines.where(F.trim(F.col("value")) != "").withColumnRenamed("value", "raw")


def _whole_texts(spark: SparkSession, src: SourceConfig, files: list[str]) -> DataFrame:
    """``file, value``: each file's text whole, a leading byte-order mark removed (Windows tools write one). In UTF-8
    by Spark's text reader, decompressed by extension (``.json.gz``) and bytes that are not UTF-8 kept for validation
    to flag (a strict decode would fail the source); in another ``encoding`` by :func:`_decoded_texts`."""
    if src.encoding != "utf-8":
        return _decoded_texts(spark, src, files)
    text = F.col("value")
    return spark.read.text(files, wholetext=True).select(
        F.col("_metadata.file_path").alias("file"),
        F.when(text.startswith("\ufeff"), F.expr("substr(value, 2)")).otherwise(text).alias("value"))


# bytes per code unit: a file of UTF-16 text has an even size
CODE_UNIT = {"utf-16": 2, "utf-16le": 2, "utf-16be": 2, "utf-32": 4}


def _decoded_texts(spark: SparkSession, src: SourceConfig, files: list[str]) -> DataFrame:
    """``file, value``: each file's bytes decoded whole from the source's ``encoding`` (UTF-16 from PowerShell 5's
    ``>`` and ``Out-File``, Excel's "Unicode Text"), which Spark's text reader does not take (it reads UTF-8 only).
    A file is one row, so it is read into memory whole (at most 2 GB). Its bytes are decoded as they are stored: a
    compressed file fails the source (decompress it), as does a file whose size is no whole number of the encoding's
    code units (cut short): each named, before anything is read."""
    for f in files:
        if _has_codec(spark, literal_path(f)):
            raise SourceError(f"source {src.name}: {unquote(f).rsplit('/', 1)[-1]} is compressed, and {src.encoding} "
                              "text is read from the bytes as stored; decompress it (or convert it to UTF-8, which is "
                              "read compressed too)")
    stored = spark.read.format("binaryFile").load(files)
    unit = CODE_UNIT.get(src.encoding, 1)
    odd = stored.where(F.col("length") % unit != 0).select("path").first() if unit > 1 else None
    if odd:
        raise SourceError(f"source {src.name}: {unquote(odd['path']).rsplit('/', 1)[-1]} is not {src.encoding} text: "
                          f"its size is not a multiple of {unit} bytes (cut short, or in another encoding); fix "
                          f"sources.{src.name}.options.encoding, or fix or move the file")
    # bytes that are not text in the encoding (a lone UTF-16 surrogate, windows-1252's unused 0x81) become U+FFFD,
    # and their record is quarantined (validate.check_encoding): Spark's decode raises by default, which failed the
    # whole source without naming the file. `decode` keeps the setting it is created under, so set it just for that
    with session_conf(spark, "spark.sql.legacy.codingErrorAction", "true"):
        text = F.decode(F.col("content"), src.encoding)
        return stored.select(F.col("_metadata.file_path").alias("file"), F.regexp_replace(text, "^\ufeff", "")
                             .alias("value"))


def one_json_value(text: Column) -> Column:
    """FALSE when ``text`` has more than its JSON value: a second value or other text after it. Spark's JSON parsers
    stop after the first value and keep it without a word (``parse_json('{"a":1} {"a":2}')`` is ``{"a":1}``, as is a
    file of JSON lines read as one document), so the rest would be lost. Wrapped in an array with a sentinel after
    it, ``[<text>, 0]``, a single value makes two elements; anything after it breaks the array or adds one. Checked
    only for text that parsed (FALSE for text that is no JSON at all)."""
    return F.coalesce(F.json_array_length(F.concat(F.lit("["), text, F.lit(", 0]"))) == 2, F.lit(False))


def is_object(variant: Column) -> Column:
    """TRUE for a JSON object, FALSE for an array or a scalar: a cast to an empty STRUCT (no schema computed)."""
    return F.try_variant_get(variant, "$", "struct<>").isNotNull()


def _no_object(df: DataFrame, variant_col: str) -> bool:
    """Whether no record of ``df`` is a JSON object: the files hold no record (``[]``, a blank line) or only ones that
    are quarantined (broken JSON, a list). There is then no field to check a config's fields against: before
    2026-12-07 such a run failed its source with "fields not found … The files have: no fields. Fix
    sources.<name>.fields", on every run, about a config that was right."""
    return df.where(is_object(F.col(variant_col))).first() is None


def _sample_fields(df: DataFrame, variant_col: str, kinds: dict[str, str] | None = None) -> list[str]:
    """The field paths of the first records that are objects (an array or a number among them would merge every
    schema into VARIANT: no fields at all, and the source failed for one odd record). Each distinct record
    schema is read on its own and the paths joined: merged into one (``schema_of_variant_agg``), a field that is an
    object in some records and a list or a string in others became VARIANT, the fields inside it were "not found"
    and the source failed for the odd records (before 2026-12-04). ``kinds`` gets each path's kind, ``mixed`` where
    the records differ (the readers then judge each record's id: :func:`container_id`)."""
    row = (df.where(is_object(F.col(variant_col))).limit(SAMPLE_RECORDS)
           .select(F.collect_set(F.schema_of_variant(variant_col)).alias("s")).first())
    seen: dict[str, set[str]] = {}
    for schema in (row["s"] or []) if row else []:
        record: dict[str, str] = {}
        for path in _flatten_schema(schema, record):
            seen.setdefault(path, set()).add(record[path])
    if kinds is not None:
        kinds.update({path: next(iter(found)) if len(found) == 1 else "mixed" for path, found in seen.items()})
    return sorted(seen, key=path_parts)  # by key names, as one merged schema lists them (not by the quoted path)


def _json_records(df: DataFrame, src: SourceConfig, what: str, hint: bool = False,
                  docs: DataFrame | None = None, lines: bool = False, folders: Folders = NO_FOLDERS) -> DataFrame:
    """``hint``: a missing field's error names a top-level list the records may be in (for ``record_path``);
    ``docs`` (``json``): the documents with their ``extra`` flag; when no record was found, the error says so if
    each file has more after its first document (JSON lines read as ``json``), and with ``record_path`` lists the
    documents' fields; ``lines`` (``jsonl``) and ``docs``: if the lines or records repeat a key."""
    kinds: dict[str, str] = {}
    available = _sample_fields(df, "rec", kinds)
    if not available:
        _check_encoding(src, df)
    if not available and (lines or docs is not None):
        _check_repeated_keys(src, df.where(F.col("rec").isNull()).select(F.col("raw").alias("text")),
                             "lines" if lines else "records")
    several = docs.where("extra").select("file").first() if not available and docs is not None else None
    if several:
        raise SourceError(f"source {src.name}: the files hold more than one JSON document each, as JSON lines do "
                          f"({unquote(several['file'].rsplit('/', 1)[-1])}): set sources.{src.name}.format: jsonl, "
                          "or write one document per file (an array of records)")
    if (not available and docs is not None and src.record_path
            and df.where(F.col("parse_error") == no_records_at(src)).first()):  # not for `{"data": []}` alone
        shown = ", ".join(_sample_fields(docs, "doc")[:40]) or "no fields"
        raise SourceError(f"source {src.name}: no document has records at {src.record_path!r}; the documents have: "
                          f"{shown}. Fix sources.{src.name}.record_path")
    lists = [p for p in available if "." not in p and kinds.get(p) == "array"] if hint else []
    if available or not _no_object(df, "rec"):
        _check_fields(src, available, what, kinds, folders=folders, hint=(
            f" If the records are the items of the list {lists[0]!r}, set sources.{src.name}.record_path: "
            f"{lists[0]}" if lists else ""))
    return _finish(df, src, _record_values(F.col("rec"), src),
                   lambda path: F.try_variant_get(F.col("rec"), variant_path(path), "variant"), folders=folders)


TEXT_AFTER_LINE = "line has more after its JSON object (two records on one line?)"
NOT_JSON_VALUE = "queue record value is not valid JSON"
DUPLICATE_KEYS = "spark.sql.variant.allowDuplicateKeys"


def repeated_keys(text: Column) -> Column:
    """The keys ``text``'s top-level object has more than once (Jackson's lenient parse, which keeps them all)."""
    keys = F.json_object_keys(text)
    return F.filter(keys, lambda k: F.size(F.filter(keys, lambda x: x == k)) > 1)


def not_json(text: Column, what: str, otherwise: str | None = None) -> Column:
    """The reason ``text``, which did not parse, is quarantined: ``<what> is not valid JSON`` (or ``otherwise``), or
    when its object has a key twice (``{"uid":"u1",…,"uid":"u1"}``: JSON that Python and JavaScript read with the
    last value, Spark's parser refuses) that key and the setting that reads it. Only a key of the top-level object
    is found (a lenient second parse, evaluated for the text that failed only)."""
    twice = repeated_keys(text)
    return (F.when(F.size(twice) > 0, F.concat(
        F.lit(f"{what} has the key '"), twice[0],
        F.lit(f"' twice (Spark reads no JSON object with a repeated key; spark.conf {DUPLICATE_KEYS}: true "
              "reads its last value, as most JSON readers do)")))
        .otherwise(F.lit(otherwise or f"{what} is not valid JSON")))


def _check_encoding(src: SourceConfig, records: DataFrame) -> None:
    """No record had a field: when the files (``records``' ``file``: one of them) are UTF-16 or UTF-32 text read in
    another encoding, say so and name the setting, rather than "the files have no fields"."""
    row = records.select("file").first()
    hint = encoding_hint(records.sparkSession, src, reader_path(row["file"])) if row else ""
    if hint:
        raise SourceError(f"source {src.name}: no record could be read:{hint}")


def _check_repeated_keys(src: SourceConfig, texts: DataFrame, what: str) -> None:
    """No record had a field, and ``texts`` (``text``: the ones that did not parse) repeat a key in their object, as
    an exporter that writes a field twice does in every record: say so and name the setting, rather than "the files
    have no fields"."""
    first = (texts.limit(SAMPLE_RECORDS).select("text", F.get(repeated_keys(F.col("text")), 0).alias("key"))
             .where("key IS NOT NULL").first())
    if first:
        raise SourceError(f"source {src.name}: the {what} repeat a key ({first['key']!r} in {first['text'][:80]!r}), "
                          f"which Spark's JSON parser refuses: set spark.conf {DUPLICATE_KEYS}: true to read its last "
                          "value, as most JSON readers do")


def _read_jsonl(spark: SparkSession, src: SourceConfig, files: list[str], folders: Folders = NO_FOLDERS) -> DataFrame:
    df = _lines(spark, src, files).withColumn("rec", F.try_parse_json("raw"))
    df = df.withColumn("parse_error", F.when(F.col("rec").isNull(), not_json(F.col("raw"), "line"))
                       .when(~is_object(F.col("rec")), F.lit("line is not a JSON object"))
                       .when(~one_json_value(F.col("raw")), F.lit(TEXT_AFTER_LINE)))
    return _json_records(df, src, "JSON records", lines=True, folders=folders)


def _read_json(spark: SparkSession, src: SourceConfig, files: list[str], folders: Folders = NO_FOLDERS) -> DataFrame:
    """A JSON document per file: an array of records, or one record; with ``record_path``, the array (or the one
    record) at that dotted path of each document (``{"data": [...], "next": ...}``, as APIs export). An empty array
    is a file of no records.

    Read whole (:func:`_whole_texts`): one row per file."""
    docs = (_whole_texts(spark, src, files)
            .withColumn("doc", F.try_parse_json("value"))
            # a document with more after it (JSON lines read as one document): the file whole, with the reason, not
            # its first record alone
            .withColumn("extra", F.col("doc").isNotNull() & ~one_json_value(F.col("value"))))
    doc, extra = F.col("doc"), F.col("extra")
    target = F.try_variant_get(doc, variant_path(src.record_path), "variant") if src.record_path else doc
    arr = F.try_variant_get(F.col("target"), "$", "array<variant>")
    # one row per record, each carrying flags and, for a file taken whole (no JSON, more after it, no path), the text:
    # a row that carried its document's text and VARIANT would copy them wherever Spark does not generate the code of
    # the step after (a 138 MB document ran out of heap)
    records = docs.withColumn("target", F.when(~extra, target)).select(
        "file", "extra", doc.isNull().alias("unparsed"),
        F.when(F.col("target").isNull(), F.col("value")).alias("value"),
        F.explode(F.when(arr.isNotNull(), arr).otherwise(F.array(F.col("target")))).alias("rec"))
    # a document Spark's parser refused: split into its records' texts when a key given twice is what it refused
    # (lenient_records), each parsed on its own row
    records = records.withColumn("parts", F.when(F.col("unparsed"), lenient_records(F.col("value"), src.record_path)))
    lenient = F.col("parts").isNotNull()
    records = (records.select("file", "extra", "unparsed", "rec", lenient.alias("lenient"),
                              F.when(~lenient, F.col("value")).alias("value"), F.explode_outer("parts").alias("part"))
               .withColumn("parsed", F.try_parse_json("part")))
    lenient, part, whole = F.col("lenient"), F.col("part"), F.col("value").isNotNull()
    # text: a record that does not parse (a key twice; or a string, which Jackson wrote back without its quotes).
    # Its own column: referenced in the select that names its output rec, a lambda's rec became that output
    records = records.withColumn("text", F.when(lenient & F.col("parsed").isNull(), part))
    rec, text = F.when(lenient, F.col("parsed")).otherwise(F.col("rec")), F.col("text")
    missing = F.lit(no_records_at(src))
    df = records.select(
        "file", rec.alias("rec"),
        F.when(whole, F.col("value")).when(lenient, F.coalesce(part, F.lit("null"))).otherwise(F.to_json(rec))
        .alias("raw"),
        F.when(whole & F.col("unparsed"), not_json(F.col("value"), "file"))
        .when(extra, F.lit(f"file has more after its first JSON document (one record per line is "
                           f"sources.{src.name}.format: jsonl)"))
        .when(whole, missing)
        .when(text.startswith("{"), not_json(text, "record"))
        .when(~is_object(rec), F.lit("record is not a JSON object")).alias("parse_error"))
    return _json_records(df, src, "JSON records", hint=not src.record_path, docs=docs, folders=folders)


def no_records_at(src: SourceConfig) -> str:
    """The reason a JSON document without a value at the source's ``record_path`` is quarantined with."""
    return f"file has no records at {src.record_path!r} (sources.{src.name}.record_path)"


# Jackson as strict as Spark's JSON parser but for a key given twice (single quotes and NaN are its defaults)
STRICT_JSON = {"allowSingleQuotes": "false", "allowNonNumericNumbers": "false"}


def lenient_records(text: Column, record_path: str | None) -> Column:
    """The texts of the records of a JSON document Spark's parser refused, when a key given twice inside one of them
    is what it refused (``[{"uid":"u1","uid":"u1"}, {...}]``): Jackson keeps such keys, and splits the array (at
    ``record_path``) into its items' texts, which are then parsed one by one, so the one record is quarantined with
    its reason, not the whole file. NULL for a text that is no single JSON document, or has no array there.
    Values are written back by Jackson (``1.50e3`` is ``1500.0``), and a string item loses its quotes."""
    target = text
    if record_path:
        parts = path_parts(record_path)
        schema = "string"
        for part in reversed(parts):
            schema = f"struct<{identifier(part)}: {schema}>"
        target = F.from_json(text, schema, STRICT_JSON)
        for part in parts:
            target = target.getField(part)
    return F.when(one_json_value(text), F.from_json(target, "array<string>", STRICT_JSON))


def queue_records(lines: DataFrame, src: SourceConfig, folders: Folders = NO_FOLDERS) -> DataFrame:
    """Queue-dump lines (``raw``, ``file``) -> the raw standard shape, without the field check: shared by batch
    ingestion and the trending stream. Value is an object or a string holding JSON (its bytes in base64 with
    ``value_encoding: base64``).

    Each line is parsed once; an object value gives its fields straight from that parse, and only a value that
    is a string is parsed a second time (as the JSON it holds). Each text parsed is also scanned for more after
    its value (:func:`one_json_value`), which the parser would drop."""
    rtype = record_type(sorted(set(src.read_fields.values())))
    value = variant_path(src.value_field)  # $['value'], or the field sources.<name>.value_field names
    df = (lines.withColumn("env", F.try_parse_json("raw"))
          # an object value, read as a STRUCT of the mapped paths (NULL when the value is not an object)
          .withColumn("_obj", F.try_variant_get(F.col("env"), value, rtype or "struct<>"))
          # any other value: its text (a string is the text itself) parsed as JSON, evaluated only for those rows
          .withColumn("_text", F.when(F.col("_obj").isNull(), F.try_variant_get(F.col("env"), value, "string")))
          .withColumn("_json", json_text(F.col("_text"), src))  # the text itself, or what its base64 decodes to
          .withColumn("rec", F.when(F.col("_obj").isNull(), F.try_parse_json("_json"))))
    value_text = F.col("_json")
    if rtype is not None:
        rec = F.coalesce(F.col("_obj"), F.try_variant_get(F.col("rec"), "$", rtype))
        values = {std: _struct_field(rec, path) for std, path in src.read_fields.items()}
    else:  # paths that cannot share one STRUCT: one variant_get per field, from whichever holds the record
        values = {std: F.when(F.col("_obj").isNotNull(),
                              F.try_variant_get(F.col("env"), value + variant_path(path)[1:], "string"))
                  .otherwise(_variant_field("rec", path)) for std, path in src.read_fields.items()}
    error = (F.when(F.col("env").isNull(), not_json(F.col("raw"), "line"))
             .when(~one_json_value(F.col("raw")), F.lit(TEXT_AFTER_LINE))
             .when(F.col("_obj").isNotNull(), F.lit(None).cast("string"))
             .when(F.col("_text").isNull(), F.lit("queue record has no value"))
             .when(value_text.isNull(), F.lit(f"queue record value is not base64-encoded UTF-8 text "
                                              f"(sources.{src.name}.value_encoding is base64)"))
             .when(F.col("rec").isNull(), not_json(value_text, "queue record value", NOT_JSON_VALUE))
             .when(~is_object(F.col("rec")), F.lit("queue record value is not a JSON object"))
             .when(~one_json_value(value_text), F.lit("queue record value has more after its JSON object")))
    df = df.withColumn("parse_error", error)
    return _finish(df, src, values, lambda path: F.when(
        F.col("_obj").isNotNull(), F.try_variant_get(F.col("env"), value + variant_path(path)[1:], "variant"))
        .otherwise(F.try_variant_get(F.col("rec"), variant_path(path), "variant")), folders=folders)


def _read_queue_dump(spark: SparkSession, src: SourceConfig, files: list[str],
                     folders: Folders = NO_FOLDERS) -> DataFrame:
    """Queue records ``{topic, partition, offset, timestamp, key, value}`` (the event in ``value``, or in the field
    ``value_field`` names)."""
    lines = _lines(spark, src, files).withColumn("env", F.try_parse_json("raw"))
    text = F.try_variant_get(F.col("env"), variant_path(src.value_field), "string")
    parsed = lines.withColumn("rec", F.try_parse_json(json_text(text, src)))
    kinds: dict[str, str] = {}
    available = _sample_fields(parsed, "rec", kinds)
    if not available:
        _check_encoding(src, lines)
        _check_repeated_keys(src, lines.where(F.col("env").isNull()).select(F.col("raw").alias("text")), "lines")
        _check_value_field(src, _sample_fields(lines, "env"))
        _check_repeated_keys(src, parsed.where(F.col("rec").isNull()).select(json_text(text, src).alias("text")),
                             "queue records' values")
        _check_value_text(src, lines.limit(SAMPLE_RECORDS).select(text.alias("text")).where("text IS NOT NULL"))
    if available or not _no_object(parsed, "rec"):
        _check_fields(src, available, "queue record values", kinds, folders=folders)
    return queue_records(lines.drop("env"), src, folders)


def _base64_json(texts: DataFrame) -> bool:
    """Whether a ``text`` of ``texts`` is a JSON object base64-encoded."""
    return texts.where(is_object(F.try_parse_json(decoded_base64(F.col("text"))))).first() is not None


def base64_hint(src: SourceConfig, quarantined: DataFrame) -> str:
    """For a source whose queue values were quarantined as not JSON (``quarantined``: their ``raw`` lines): the
    setting to read them when they are base64-encoded JSON; "" when they are not."""
    if src.value_encoding != "none":
        return ""
    texts = quarantined.limit(SAMPLE_RECORDS).select(F.try_variant_get(
        F.try_parse_json(F.col("raw")), variant_path(src.value_field), "string").alias("text"))
    return (f"; the values are base64-encoded JSON (Kinesis, Pub/Sub): set sources.{src.name}.value_encoding: base64"
            if _base64_json(texts) else "")


def _check_value_text(src: SourceConfig, texts: DataFrame) -> None:
    """No record's value had a field, and some values are text (``texts``, a sample): say what that text is, rather
    than "the files have no fields": base64-encoded JSON (Kinesis, Pub/Sub) names ``value_encoding``; other text is
    not an event that fields can be mapped in."""
    if src.value_encoding == "none" and _base64_json(texts):
        raise SourceError(f"source {src.name}: the queue records' values ({src.value_field!r}) are base64-encoded "
                          f"JSON, as Kinesis and Pub/Sub records carry them: set sources.{src.name}.value_encoding: "
                          "base64")
    sample = texts.first()
    if sample:
        raise SourceError(f"source {src.name}: no queue record's value ({src.value_field!r}) holds a JSON object"
                          + (" once base64-decoded" if src.value_encoding == "base64" else "")
                          + f", e.g. {sample['text'][:60]!r}: an event's fields are mapped in JSON. Check "
                          f"sources.{src.name}.value_field")


def json_text(text: Column, src: SourceConfig) -> Column:
    """A queue value's text as the JSON it holds: itself, or with ``value_encoding: base64`` what it decodes to."""
    return decoded_base64(text) if src.value_encoding == "base64" else text


def decoded_base64(text: Column) -> Column:
    """The UTF-8 text whose bytes ``text`` encodes in base64 (the URL-safe alphabet too); NULL when it is not that."""
    return F.try_validate_utf8(F.try_to_binary(F.translate(text, "-_", "+/"), F.lit("base64")).cast("string"))


def _check_value_field(src: SourceConfig, envelope: list[str]) -> None:
    """No record's value had a field: when the records (``envelope``: their field paths) have no field
    ``value_field`` at all, the event is elsewhere (``kcat -J`` writes it as ``payload``): say so, with the records'
    fields, rather than "the files have no fields"."""
    top = [p for p in envelope if "." not in p]
    if not top or src.value_field in envelope:
        return
    raise SourceError(
        f"source {src.name}: no queue record has the field {src.value_field!r} that holds the event; the records "
        f"have: {', '.join(top[:40])}. Set sources.{src.name}.value_field to the field that holds it"
        + (" (kcat -J writes it as payload)" if "payload" in top else ""))

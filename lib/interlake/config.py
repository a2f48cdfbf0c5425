"""Configuration: YAML parsed once into frozen dataclasses that validate themselves.

Every error names the key path, what it holds and what is expected, so the CLI can print it on one line.
Transforms never see this object: pipelines pass them plain parameters.

Example:
    >>> cfg = load_config("conf/local.yaml")
    >>> cfg.table_path("interactions")
    '/.../lakehouse/interactions'
"""

from __future__ import annotations

import codecs
import math
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml

from interlake.errors import ConfigError

FORMATS = ("csv", "json", "jsonl", "parquet", "queue_dump")
VALUE_ENCODINGS = ("none", "base64")  # queue_dump: how a string value holds the event's JSON
# the encodings Spark 4 reads without spark.sql.legacy.javaCharsets (which the jobs' sessions set: any the JVM has)
SPARK_ENCODINGS = ("utf-8", "us-ascii", "iso-8859-1", "utf-16", "utf-16le", "utf-16be", "utf-32")
JSON_FORMATS = ("json", "jsonl", "queue_dump")
# the reader options a JSON format takes (lower case): its records are parsed as strict JSON by Spark's parse_json,
# not by its JSON reader, whose parser options (allowComments, mode, ...) have no effect (SourceConfig.unused_options)
JSON_OPTIONS = {"encoding", "charset", "linesep", "multiline", "recursivefilelookup", "pathglobfilter",
                "ignorecorruptfiles", "ignoremissingfiles"}
STANDARD_FIELDS = ("user_id", "item_id", "interaction_type", "timestamp")
EPOCH_UNITS = {"epoch_s": 1, "epoch_ms": 10**3, "epoch_us": 10**6, "epoch_ns": 10**9}  # format -> units per second
TIMESTAMP_KINDS = (*EPOCH_UNITS, "iso8601")
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(second|minute|hour|day|week)s?\s*$")
_UNIT_SECONDS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400, "week": 604800}


class _Yaml12Loader(yaml.SafeLoader):
    """PyYAML's safe loader with YAML 1.2 booleans: only true / false (in any of YAML's three spellings) are booleans.
    A plain ``yes``, ``no``, ``on`` or ``off`` (YAML 1.1 booleans) loads as a :class:`_Yaml11Word`: its text where a
    config names data (a type map's key ``no`` matches a file's ``no``), a boolean where Spark reads it (``spark.conf``,
    reader ``options``: ``header: yes`` still means true, as it always did)."""


def _unique_keys(loader: yaml.SafeLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    """A mapping whose keys appear once: PyYAML keeps the last of two equal keys without a word, so a source block
    copied and not renamed (two ``shop_export:``) or a second ``fields:`` silently replaced the first. Keys brought in
    by a merge (``<<: *defaults``) may still be overridden, as YAML means them to be."""
    seen: dict = {}
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue
        key = loader.construct_object(key_node, deep=True)
        try:
            first = seen.setdefault(key, key_node.start_mark)
        except TypeError:  # an unhashable key: SafeLoader's own error says so
            break
        if first is not key_node.start_mark:
            raise yaml.constructor.ConstructorError(
                None, None, f"key {key!r} appears twice in one mapping (first at line {first.line + 1}); a key may "
                "appear once: rename or remove one", key_node.start_mark)
    return yaml.SafeLoader.construct_mapping(loader, node, deep=deep)


_Yaml12Loader.construct_mapping = _unique_keys


class _Yaml11Word(str):
    """A plain yes / no / on / off from a config file: text that YAML 1.1 read as a boolean."""

    def as_bool(self) -> bool:
        return self.lower() in ("yes", "on")


_YAML11_WORD = "tag:interlake,2026:yaml11-boolean-word"
_Yaml12Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()}
_Yaml12Loader.add_implicit_resolver("tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
                                    list("tTfF"))
_Yaml12Loader.add_implicit_resolver(_YAML11_WORD, re.compile(r"^(?:yes|Yes|YES|no|No|NO|on|On|ON|off|Off|OFF)$"),
                                    list("yYnNoO"))
_Yaml12Loader.add_constructor(_YAML11_WORD, lambda loader, node: _Yaml11Word(loader.construct_scalar(node)))
# YAML 1.2 has no timestamps either: a date stays the text written (`2026-13-01` was a ValueError out of the YAML
# loader, `2026-11-01T18:00:00Z` came back as `2026-11-01 18:00:00+00:00`); the key that takes one checks it
_Yaml12Loader.add_constructor("tag:yaml.org,2002:timestamp", lambda loader, node: loader.construct_scalar(node))


def _text(value: Any, *, for_spark: bool = False) -> str:
    """A YAML scalar as the text Spark and the files spell it: booleans ``true`` / ``false``, not Python's
    ``True``; a plain yes / no / on / off as ``true`` / ``false`` ``for_spark`` (Spark's booleans take only those),
    else as written; everything else ``str()``."""
    if isinstance(value, _Yaml11Word) and for_spark:
        value = value.as_bool()
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


_INSTANT = re.compile(r"\d{4}-\d{2}-\d{2}(?:[ T]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?(?:Z|[+-]\d{2}:\d{2})?)?")


def instant_utc(text: str, key: str) -> datetime:
    """``"2026-11-01"``, ``"2026-11-01 18:00"``, ``"2026-11-01T18:00:00+01:00"`` -> an aware UTC datetime (UTC when
    the text has no offset); a one-line ConfigError naming ``key`` otherwise. Spark's cast alone took ``tomorrow``
    (a cutoff that moves every day) and returned nothing for ``2026-11-01T18:00Z``."""
    value = str(text).strip()
    try:
        at = datetime.fromisoformat(value.replace("Z", "+00:00")) if _INSTANT.fullmatch(value) else None
    except ValueError:
        at = None
    if at is None:
        raise ConfigError(f"{key}: {text!r} is not a date or time; expected e.g. 2026-11-01 or 2026-11-01 18:00 "
                          "(UTC unless it has an offset: 2026-11-01T18:00+01:00)")
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def spark_instant(text: str, key: str) -> str:
    """An ``instant_utc`` text as Spark casts it to the same instant whatever the session's time zone."""
    return f"{instant_utc(text, key):%Y-%m-%d %H:%M:%S.%f}+00:00"


def duration_seconds(text: str, key: str) -> float:
    """``"2 hours"`` -> 7200.0; a one-line ConfigError naming ``key`` otherwise."""
    m = _DURATION.match(str(text))
    if not m:
        raise ConfigError(f"{key}: {text!r} is not a duration; expected e.g. '30 seconds', '1 minute', '2 hours'")
    return float(m.group(1)) * _UNIT_SECONDS[m.group(2)]


def _is_uri(path: str) -> bool:
    return bool(re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*://", path))


def resolve_path(path: str, setting: str = "lakehouse") -> str:
    """A URI stays as it is; a local path becomes absolute (relative to the current directory, as Spark does).
    ``file:/data/lake``, Hadoop's spelling of a local path (Spark's, the ledger's ``file`` column), is the URI
    ``file:///data/lake``: it was taken for a relative path, and the tables went to ``./file:/data/lake``.
    ``file:lake``, which Hadoop refuses (``Relative path in absolute URI``), is a ConfigError naming ``setting``:
    it was the folder ``./file:lake``."""
    if re.match(r"^file:/(?!/)", path):
        return "file://" + path[len("file:"):]
    if re.match(r"^file:(?!/)", path):
        raise ConfigError(f"{setting}: {path}: a file: URI takes an absolute path (file:///data/lake); write a "
                          f"relative one without file: ({path[len('file:'):]})")
    return path if _is_uri(path) else os.path.abspath(os.path.expanduser(path))


def local_folder(path: str) -> str | None:
    """The absolute path on this machine's disk that ``path`` names: a path, or a ``file:`` URI (``file:///data/lake``,
    ``file:/data/lake``); None for any other URI (an object store, HDFS, ``file://host/…``). A ``file:`` lakehouse is
    as local as a path: it takes the run locks, keeps its own catalog and is read by DuckDB. Before, each of those
    took it for an object store: two overlapping ingest runs both took the same new files (their ledger and
    quarantine rows written twice), the catalog went to ``./spark-warehouse``, and DuckDB refused it."""
    path = resolve_path(path)
    if path.startswith("file:///"):
        return path[len("file://"):]
    return None if _is_uri(path) else path


_KIND_NAMES = {int: "a whole number", float: "a number", bool: "true or false", str: "text"}


def _shown(value: Any, limit: int = 60) -> str:
    """``repr(value)`` for an error message, its first ``limit`` characters and ``…`` when longer: a file that is not
    YAML mappings (``--conf /etc/passwd``, a CSV export) was printed whole, as one line."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "…"


class _Section:
    """Reads one mapping of the YAML, remembering its key path for error messages."""

    def __init__(self, data: Any, path: str, known: tuple[str, ...] | None = None):
        if data is None:
            data = {}
        if not isinstance(data, Mapping):
            raise ConfigError(f"{path or 'config'}: expected a mapping, got {type(data).__name__} {_shown(data)}")
        self.data, self.path = dict(data), path
        if known is not None:
            unknown = sorted(set(self.data) - set(known))
            if unknown:
                raise ConfigError(
                    f"{self.key(unknown[0])}: unknown key; known keys here are {', '.join(known)}"
                )

    def key(self, name: str) -> str:
        return f"{self.path}.{name}" if self.path else name

    def get(self, name: str, kind: type, default: Any = ..., *, choices: tuple | None = None) -> Any:
        if name not in self.data or self.data[name] is None:
            if default is ...:
                raise ConfigError(f"{self.key(name)}: missing; expected {_KIND_NAMES[kind]}")
            return default
        value = self.data[name]
        try:
            if kind is bool:
                if not isinstance(value, bool):
                    raise TypeError
            elif kind in (int, float):
                if isinstance(value, bool):
                    raise TypeError
                if kind is int and isinstance(value, float) and not value.is_integer():
                    raise ConfigError(f"{self.key(name)}: {value!r} is not a whole number")
                value = kind(value)
                if kind is float and not math.isfinite(value):
                    raise ConfigError(f"{self.key(name)}: {value!r} is not a finite number")
            elif kind is str:
                if isinstance(value, (dict, list)):
                    raise TypeError
                value = _text(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{self.key(name)}: {value!r} is not {_KIND_NAMES[kind]}") from None
        if choices is not None and value not in choices:
            raise ConfigError(f"{self.key(name)}: {value!r} is not one of {', '.join(map(str, choices))}")
        return value

    def positive(self, name: str, kind: type, default: Any) -> Any:
        value = self.get(name, kind, default)
        if value is not None and value <= 0:
            raise ConfigError(f"{self.key(name)}: {value!r} must be greater than 0")
        return value

    def share(self, name: str, default: float, *, why_not_ends: str = "") -> float:
        """A share in [0, 1]; ``why_not_ends``: 0 and 1 are refused too, for this reason."""
        value = self.get(name, float, default)
        if not 0.0 <= value <= 1.0:
            raise ConfigError(f"{self.key(name)}: {value!r} must be a share between 0 and 1")
        if why_not_ends and value in (0.0, 1.0):
            raise ConfigError(f"{self.key(name)}: {value!r} must be more than 0 and less than 1 ({why_not_ends})")
        return value

    def section(self, name: str, known: tuple[str, ...] | None = None) -> _Section:
        return _Section(self.data.get(name), self.key(name), known)

    def string_map(self, name: str, *, for_spark: bool = False) -> Mapping[str, str]:
        """A mapping of text; ``for_spark``: its values are Spark settings or reader options (see ``_text``)."""
        raw = self.data.get(name) or {}
        if not isinstance(raw, Mapping):
            raise ConfigError(f"{self.key(name)}: expected a mapping, got {_shown(raw)}")
        return MappingProxyType({_text(k): _text(v, for_spark=for_spark) for k, v in raw.items()})


@dataclass(frozen=True)
class SparkSettings:
    master: str | None = "local[*]"
    conf: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))


_PATTERN_LETTERS = set("GyDMLdhKkHmsSaVzOXxZ")  # what Spark's datetime patterns parse (sql-ref-datetime-pattern)


def pattern_problem(pattern: str) -> str | None:
    """Why Spark would refuse ``pattern`` for parsing (every value of the source would fail with a stack trace of
    Spark's ``DATETIME_PATTERN`` errors), or None. Counts of a letter are left to Spark."""
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "'":
            end = pattern.find("'", i + 1)
            while end != -1 and pattern[end + 1:end + 2] == "'":  # '' inside quotes is a quote
                end = pattern.find("'", end + 2)
            if end == -1:
                return f"the quote at position {i + 1} is not closed"
            i = end + 1
            continue
        if c in "YwWuec":
            return f"{c!r} is a week-based field, which Spark does not read" + ("; the year is y" if c == "Y" else "")
        if c in "EFqQ":
            return f"{c!r} (day of week or quarter) is for formatting only; Spark cannot parse it"
        if c in "#{}":
            return f"{c!r} is reserved; put it in quotes"
        if c.isalpha() and c not in _PATTERN_LETTERS:
            return f"{c!r} is not a pattern letter; put literal text in quotes, as in yyyy-MM-dd'T'HH:mm:ss"
        i += 1
    return None


@dataclass(frozen=True)
class SourceConfig:
    """One input: its format, folder, and how its fields map to the four standard values."""

    name: str
    format: str
    path: str
    fields: Mapping[str, str]
    constants: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    options: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    interaction_type_map: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    timestamp_format: str = "iso8601"
    max_quarantine_share: float | None = None
    timezone: str | None = None  # the zone of timestamps written without an offset (UTC when None)
    record_path: str | None = None  # json: the dotted path of each document's array of records (None: the document)
    # a timestamp split over several source fields (a date column and a time column): the fields after the first,
    # whose values follow fields.timestamp's, joined by one space (``fields: {timestamp: [sale_date, sale_time]}``)
    timestamp_more: tuple[str, ...] = ()
    # queue_dump: the record's field that holds the event (``payload`` in a ``kcat -J`` dump); dotted paths reach in
    value_field: str = "value"
    # queue_dump: how a value that is a string is encoded: ``none`` (the JSON text itself) or ``base64`` (the JSON
    # text's bytes, as Kinesis and Pub/Sub records carry them)
    value_encoding: str = "none"
    # files modified less than this long ago are left for the next run: a writer may still be appending to them
    # (``"1 minute"``; None: every file is taken)
    min_file_age: str | None = None

    @property
    def min_file_age_seconds(self) -> float:
        return duration_seconds(self.min_file_age, f"sources.{self.name}.min_file_age") if self.min_file_age else 0.0

    @property
    def read_fields(self) -> Mapping[str, str]:
        """Every source field the readers take, by label: the mapped standard fields, then a split timestamp's further
        fields as ``timestamp#2``, ``timestamp#3`` ... (``base_field`` gives the standard field of a label)."""
        if not self.timestamp_more:
            return self.fields
        return MappingProxyType({**self.fields,
                                 **{f"timestamp#{i}": p for i, p in enumerate(self.timestamp_more, start=2)}})

    @property
    def name_filter(self) -> str | None:
        """Spark's reader option ``pathGlobFilter`` (any case): only the files whose name matches the glob (``*.csv``)
        are the source's, in ingestion (so the ledger records only files read) and in the trending stream."""
        return next((str(v) for k, v in self.options.items() if k.lower() == "pathglobfilter"), None)

    @property
    def line_sep(self) -> str | None:
        """Spark's reader option ``lineSep`` (any case): what separates the records of a ``jsonl`` or ``queue_dump``
        source's files, in ingestion and in the trending stream; None for Spark's ``\\n``, ``\\r\\n`` or ``\\r``."""
        return next((str(v) for k, v in self.options.items() if k.lower() == "linesep"), None)

    @property
    def encoding(self) -> str:
        """The text encoding of the source's files (``options.encoding`` or ``charset``, any case; ``utf-8`` by
        default), lower case; US-ASCII is read as the UTF-8 it is a part of. Any encoding the JVM has: a run checks
        it before reading (:func:`interlake.ingest.readers.check_encodings`)."""
        value = next((str(v) for k, v in self.options.items() if k.lower() in ("encoding", "charset")), "utf-8")
        return "utf-8" if value.lower() in ("utf8", "us-ascii") else value.lower()

    @property
    def unused_options(self) -> list[str]:
        """The source's reader options that have no effect, each as ``options.<name> has no effect ...: why``: every
        run that reads the source logs them (a config error would stop schedules whose runs are right)."""
        unused = []
        for option, value in self.options.items():
            name, why = option.lower(), None
            if name in ("timestampformat", "timestampntzformat", "dateformat"):
                why = (f"values are read as text, then parsed as sources.{self.name}.timestamp_format says "
                       f"({self.timestamp_format})")
            elif self.format in JSON_FORMATS and name not in JSON_OPTIONS:
                why = (f"a {self.format} source's records are parsed as strict JSON (Spark's parse_json, not its JSON "
                       "reader), and a record that is not is quarantined with its reason; its options are encoding, "
                       + ("" if self.format == "json" else "lineSep, ") + "recursiveFileLookup and pathGlobFilter")
            elif self.format == "json" and (name == "linesep" or name == "multiline" and str(value).lower() != "true"):
                why = "a json source is one document per file, read whole (one record per line is format: jsonl)"
            elif self.format in ("jsonl", "queue_dump") and name == "multiline" and str(value).lower() == "true":
                why = (f"a {self.format} source is one JSON record per line (a document per file, an array of records, "
                       "is format: json)")
            if why:
                unused.append(f"options.{option} has no effect: {why}")
        return unused

    @property
    def recursive(self) -> bool:
        """Spark's reader option ``recursiveFileLookup`` (any case): the files of the folder's subfolders are the
        source's too (date-partitioned exports, ``shop/2026-11-08/export.csv``)."""
        return any(k.lower() == "recursivefilelookup" and str(v).lower() == "true" for k, v in self.options.items())

    def __post_init__(self) -> None:
        key = f"sources.{self.name}"
        if not _NAME.match(self.name):
            raise ConfigError(f"{key}: source names are lower-case letters, digits and _, starting with a letter")
        if self.format not in FORMATS:
            raise ConfigError(f"{key}.format: {self.format!r} is not a known format; "
                              f"expected one of {', '.join(FORMATS)}")
        for std in list(self.fields) + list(self.constants):
            if std not in STANDARD_FIELDS:
                raise ConfigError(
                    f"{key}.fields: {std!r} is not a standard field; expected {', '.join(STANDARD_FIELDS)}"
                )
        both = set(self.fields) & set(self.constants)
        if both:
            raise ConfigError(f"{key}: {sorted(both)[0]!r} is both mapped in fields and fixed in constants; keep one")
        missing = [s for s in STANDARD_FIELDS if s not in self.fields and s not in self.constants]
        if missing:
            raise ConfigError(
                f"{key}.fields: no mapping for {', '.join(missing)}; map each standard field to a source field "
                "(or fix it under constants)"
            )
        shared = {}
        for std, path in self.fields.items():
            shared.setdefault(path, []).append(std)
        for path, stds in shared.items():
            if len(stds) > 1:  # user and item equal in every row, say: a copy-paste slip, never an export's layout
                raise ConfigError(f"{key}.fields: {' and '.join(stds)} both map to {path!r}; each standard field "
                                  "reads a field of its own")
        if "timestamp" in self.constants:
            raise ConfigError(f"{key}.constants: timestamp cannot be a constant; map it under fields")
        problem = pattern_problem(self.timestamp_format) if self.timestamp_format not in TIMESTAMP_KINDS else None
        if problem:
            raise ConfigError(f"{key}.timestamp_format: {self.timestamp_format!r} is not a format: expected "
                              f"{', '.join(TIMESTAMP_KINDS)} or a Spark datetime pattern such as yyyy-MM-dd HH:mm:ss "
                              f"({problem})")
        self._check_timezone(key)
        self._check_file_options(key)
        if self.record_path is not None:
            if self.format != "json":
                raise ConfigError(f"{key}.record_path: only a json document has its records under a path; remove "
                                  f"record_path (format is {self.format})")
            if not self.record_path.strip() or "" in self.record_path.split("."):
                raise ConfigError(f"{key}.record_path: {self.record_path!r} is not a dotted path such as data or "
                                  "result.events")

        if self.value_field != "value":
            if self.format != "queue_dump":
                raise ConfigError(f"{key}.value_field: only a queue_dump's records hold the event in a field; remove "
                                  f"value_field (format is {self.format})")
            if not self.value_field.strip() or "" in self.value_field.split("."):
                raise ConfigError(f"{key}.value_field: {self.value_field!r} is not a field name such as payload")
        if self.min_file_age is not None:
            duration_seconds(self.min_file_age, f"{key}.min_file_age")
        if self.value_encoding != "none":
            if self.format != "queue_dump":
                raise ConfigError(f"{key}.value_encoding: only a queue_dump's record values are encoded; remove "
                                  f"value_encoding (format is {self.format})")
            if self.value_encoding not in VALUE_ENCODINGS:
                raise ConfigError(f"{key}.value_encoding: {self.value_encoding!r} is not an encoding; expected "
                                  f"{' or '.join(VALUE_ENCODINGS)}")

    def _check_file_options(self, key: str) -> None:
        """Reader options that make Spark leave out files or records the job has listed would lose them without a
        word: the ledger marks a file taken whatever the reader read of it."""
        for option, value in self.options.items():
            name = option.lower()
            if name in ("path", "paths"):
                raise ConfigError(f"{key}.options.{option}: the source's files are found under {key}.path; remove "
                                  f"options.{option} (a second folder is a source of its own)")
            if name in ("modifiedbefore", "modifiedafter"):
                raise ConfigError(
                    f"{key}.options.{option}: files are chosen by the job, not the reader (a file Spark left out "
                    f"would be marked taken, its records never read); remove it: the ledger takes each file once, "
                    f"so move the files not to take out of the folder, or narrow {key}.path with a glob")
            if name in ("ignorecorruptfiles", "ignoremissingfiles") and str(value).lower() == "true":
                raise ConfigError(
                    f"{key}.options.{option}: Spark would skip the rest of such a file without a word and the file "
                    f"would be marked taken; remove it: a file that cannot be read fails its source in one line "
                    f"naming it, and the next run after it is fixed or moved takes it")

    def _check_timezone(self, key: str) -> None:
        spark_option = next((k for k in self.options if k.lower() == "timezone"), None)
        if spark_option:  # Spark's readers use it for typed columns only: the values here are read as text
            raise ConfigError(f"{key}.options.{spark_option}: has no effect on how timestamps are read here; say "
                              f"the zone of timestamps without an offset as {key}.timezone (e.g. Europe/Berlin)")
        if self.timezone is None:
            return
        import zoneinfo

        try:
            zoneinfo.ZoneInfo(self.timezone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ConfigError(f"{key}.timezone: {self.timezone!r} is not a time zone; use an IANA name such as "
                              "Europe/Berlin, America/New_York or UTC") from None
        if self.timestamp_format in EPOCH_UNITS:
            raise ConfigError(f"{key}.timezone: {self.timestamp_format} values count from 1970-01-01 UTC and carry "
                              "no time zone; remove timezone")
        if self.timestamp_format != "iso8601" and re.search(r"[XxZzOV]", re.sub(r"'[^']*'", "", self.timestamp_format)):
            raise ConfigError(f"{key}.timezone: the pattern {self.timestamp_format!r} reads each value's own offset "
                              "or zone; remove timezone")

    def validate_vocabulary(self, vocabulary: tuple[str, ...]) -> None:
        key = f"sources.{self.name}"
        for raw, target in self.interaction_type_map.items():
            if target not in vocabulary:
                raise ConfigError(
                    f"{key}.interaction_type_map: {raw!r} maps to unknown type {target!r}; "
                    f"interaction_types has {', '.join(vocabulary)}"
                )
        fixed = self.constants.get("interaction_type")
        if fixed is not None and fixed not in vocabulary:
            raise ConfigError(
                f"{key}.constants.interaction_type: {fixed!r} is not in interaction_types ({', '.join(vocabulary)})"
            )


@dataclass(frozen=True)
class IngestSettings:
    max_quarantine_share: float = 0.2
    max_future_seconds: float = 86400.0
    min_timestamp: str = "2000-01-01"
    max_id_length: int = 512
    conflict_retries: int = 10
    lock_timeout: str = "1 hour"  # how long a run waits for another run of the same source (interlake.locks)


@dataclass(frozen=True)
class TrainSettings:
    rank: int = 32
    max_iter: int = 12
    reg_param: float = 0.05
    alpha: float = 20.0
    seed: int = 42
    half_life_days: float = 30.0
    holdout: str = "last_share"  # last_share | cutoff
    holdout_share: float = 0.2
    holdout_cutoff: str | None = None  # as written; holdout_cutoff_utc is the instant Spark compares
    k: int = 10
    promotion_tolerance: float = 0.02
    min_users: int = 10
    min_items: int = 10
    checkpoint_interval: int = 5
    lock_timeout: str = "1 hour"  # how long a training waits for another one of the lakehouse (interlake.locks)

    @property
    def holdout_cutoff_utc(self) -> str | None:
        """The cutoff as text Spark casts to the same instant whatever the session's time zone."""
        if self.holdout_cutoff is None:
            return None
        return spark_instant(self.holdout_cutoff, "train.holdout_cutoff")


@dataclass(frozen=True)
class SimilaritySettings:
    method: str = "lsh"  # lsh | exact
    k: int = 10
    bucket_length: float = 3.0
    num_hash_tables: int = 64
    hashes_per_table: int = 7
    recall_sample: int = 200


@dataclass(frozen=True)
class TrendingSettings:
    source: str = "pixel_queue"
    window: str = "1 hour"
    slide: str | None = None
    watermark: str = "2 hours"
    trigger: str = "1 minute"
    baseline_half_life: str = "7 days"
    min_count: int = 20
    threshold: float = 6.0
    top_n: int = 10
    popularity_period: str = "7 days"
    min_history: str = "2 days"
    max_files_per_trigger: int | None = None
    lock_timeout: str = "1 hour"  # how long a query waits for another trending query of the lakehouse (interlake.locks)


@dataclass(frozen=True)
class MaintenanceSettings:
    vacuum_retention_hours: float = 168.0
    quarantine_retention_days: float = 90.0
    ledger_retention_days: float = 365.0
    model_retention_days: float = 90.0


@dataclass(frozen=True)
class Config:
    path: str
    lakehouse: str
    database: str
    spark: SparkSettings
    interaction_types: Mapping[str, float]
    sources: Mapping[str, SourceConfig]
    ingest: IngestSettings = IngestSettings()
    train: TrainSettings = TrainSettings()
    similarity: SimilaritySettings = SimilaritySettings()
    trending: TrendingSettings = TrendingSettings()
    maintenance: MaintenanceSettings = MaintenanceSettings()

    @property
    def vocabulary(self) -> tuple[str, ...]:
        return tuple(self.interaction_types)

    def table_path(self, name: str) -> str:
        return f"{self.lakehouse.rstrip('/')}/{name}"

    def table_name(self, name: str) -> str:
        return f"{self.database}.{name}"

    def source(self, name: str) -> SourceConfig:
        if name not in self.sources:
            known = ", ".join(self.sources) or "none"
            raise ConfigError(f"sources: no source named {name!r}; configured sources are {known}")
        return self.sources[name]

    def selected_sources(self, names: Iterable[str] | None = None) -> list[SourceConfig]:
        """The sources a run takes: ``names`` in their order, each once (``--source a a`` takes ``a`` once), or every
        configured one when empty. A name the config does not have, or a config without sources, is a
        :class:`ConfigError`."""
        if not self.sources:
            raise ConfigError("sources: none configured; add one under `sources:` in the config (see conf/local.yaml)")
        return [self.source(n) for n in dict.fromkeys(names or self.sources)]


_TOP = ("lakehouse", "database", "spark", "interaction_types", "sources", "ingest", "train", "similarity",
        "trending", "maintenance")


def base_field(label: str) -> str:
    """The standard field of a ``SourceConfig.read_fields`` label: ``timestamp#2`` -> ``timestamp``."""
    return label.split("#", 1)[0]


def _timestamp_fields(sec: _Section) -> list[str]:
    """``fields.timestamp``: one source field, or a list of them (a date and a time column), joined by a space."""
    value = sec.data.get("timestamp")
    if not isinstance(value, list):
        return [sec.get("timestamp", str)]
    if not value or any(isinstance(v, (dict, list)) or v is None or not str(v).strip() for v in value):
        raise ConfigError(f"{sec.key('timestamp')}: {value!r} is not a list of source fields; expected one field, "
                          "or e.g. [sale_date, sale_time] for a date and a time kept apart")
    return [_text(v) for v in value]


def _source(name: str, sec: _Section) -> SourceConfig:
    fields_sec = sec.section("fields")
    fields, more = {}, []
    for k in fields_sec.data:
        if str(k) == "timestamp":
            first, *more = _timestamp_fields(fields_sec)
            fields[k] = first
        elif isinstance(fields_sec.data[k], list):
            raise ConfigError(f"{fields_sec.key(k)}: only timestamp can be a list of source fields (a date and a "
                              f"time column); map {k} to one field")
        else:
            fields[k] = fields_sec.get(k, str)
    return SourceConfig(
        name=str(name),
        format=sec.get("format", str),
        path=resolve_path(sec.get("path", str), sec.key("path")),
        fields=MappingProxyType(fields),
        timestamp_more=tuple(more),
        constants=sec.string_map("constants"),
        options=sec.string_map("options", for_spark=True),
        interaction_type_map=sec.string_map("interaction_type_map"),
        timestamp_format=sec.get("timestamp_format", str, "iso8601"),
        max_quarantine_share=(sec.share("max_quarantine_share", 0.0) if "max_quarantine_share" in sec.data else None),
        timezone=sec.get("timezone", str, None),
        record_path=sec.get("record_path", str, None),
        value_field=sec.get("value_field", str, "value"),
        value_encoding=sec.get("value_encoding", str, "none"),
        min_file_age=sec.get("min_file_age", str, None),
    )


_UTC_NAMES = {"utc", "etc/utc", "gmt", "etc/gmt", "z", "zulu", "universal", "+00:00", "utc+00:00"}


def _check_session_zone(conf: Mapping[str, str]) -> None:
    """The jobs' times are UTC: a session zone of the config (a New Yorker's ``America/New_York``) made Spark read a
    timestamp written without an offset as New York time, so ``event_ts``, ``event_date`` and the event id moved by
    the offset (the same file ingested under two configs was stored twice), unlike ``sources.<name>.timezone``."""
    key = next((k for k in conf if k.lower() == "spark.sql.session.timezone"), None)
    if key is not None and conf[key].strip().lower() not in _UTC_NAMES:
        raise ConfigError(
            f"spark.conf.{key}: the jobs keep every time in UTC, and {conf[key]!r} would read timestamps written "
            "without an offset in that zone (moving event_ts, event_date and the event ids); leave it out, and set "
            "sources.<name>.timezone for a source whose timestamps are local wall-clock times")


# Settings the jobs' sessions fix (interlake.session.build_session), with why another value breaks them.
_FIXED_SQL = {
    "spark.sql.legacy.timeparserpolicy": (
        "CORRECTED", "the jobs parse timestamps with Spark's own parser, which quarantines a value its "
        "timestamp_format does not match whole; LEGACY stores '2026-11-30 10:00:00xyz' as 10:00 (Java's "
        "SimpleDateFormat reads a value's start) and EXCEPTION fails the whole source on such a value"),
    "spark.sql.legacy.parquet.nanosaslong": (
        "true", "Parquet TIMESTAMP(NANOS), as pandas and pyarrow write timestamps, is read as its number of "
        "nanoseconds (timestamp_format: epoch_ns); Spark refuses such a file otherwise"),
    "spark.sql.legacy.javacharsets": (
        "true", "a source's encoding may be any the JVM has (windows-1252, Shift_JIS ...); Spark otherwise takes "
        "only UTF-8, US-ASCII, ISO-8859-1, UTF-16 and UTF-32"),
}


def _check_fixed_settings(conf: Mapping[str, str]) -> None:
    """A setting the jobs' sessions need at one value: another in the config changed what the jobs read without a
    word (``spark.sql.legacy.timeParserPolicy: LEGACY`` stored a timestamp with trailing text, which the job
    quarantines)."""
    for key, value in conf.items():
        fixed = _FIXED_SQL.get(key.lower())
        if fixed is not None and value.strip().lower() != fixed[0].lower():
            raise ConfigError(f"spark.conf.{key}: the jobs run with {fixed[0]}: {fixed[1]}; leave it out")


def parse_config(data: Any, path: str = "<config>") -> Config:
    """Validate a parsed YAML document into a Config; raises ConfigError with the offending key."""
    top = _Section(data, "", _TOP)
    database = top.get("database", str, "interlake")
    if not 1 <= len(database.split(".")) <= 2 or not all(_NAME.match(part) for part in database.split(".")):
        raise ConfigError(f"database: {database!r} must be a schema name, or catalog.schema (Unity Catalog's "
                          "main.interlake), each of lower-case letters, digits and _, starting with a letter")

    spark_sec = top.section("spark", ("master", "conf"))
    spark = SparkSettings(master=spark_sec.get("master", str, None), conf=spark_sec.string_map("conf", for_spark=True))
    _check_session_zone(spark.conf)
    _check_fixed_settings(spark.conf)

    listed = top.data.get("interaction_types")
    if isinstance(listed, list) and all(isinstance(n, str) for n in listed) and listed:
        example = ", ".join(f"{n}: {{weight: 1.0}}" for n in listed[:4]) + (", ..." if len(listed) > 4 else "")
        raise ConfigError(f"interaction_types: a list of names; give each type its training weight as a mapping: "
                          f"{{{example}}}")
    types_sec = top.section("interaction_types")
    if not types_sec.data:
        raise ConfigError("interaction_types: missing; expected e.g. {view: {weight: 1.0}, purchase: {weight: 8.0}}")
    weights: dict[str, float] = {}
    for name in types_sec.data:
        if not _NAME.match(str(name)):
            raise ConfigError(f"interaction_types.{name}: type names are lower-case letters, digits and _")
        weights[str(name)] = types_sec.section(str(name), ("weight",)).positive("weight", float, 1.0)

    sources_sec = top.section("sources")
    sources = {}
    for name in sources_sec.data:
        src = _source(str(name), sources_sec.section(str(name), (
            "format", "path", "options", "fields", "constants", "interaction_type_map", "timestamp_format",
            "max_quarantine_share", "timezone", "record_path", "value_field", "value_encoding",
            "min_file_age")))
        src.validate_vocabulary(tuple(weights))
        sources[str(name)] = src

    ing = top.section("ingest", tuple(IngestSettings.__dataclass_fields__))
    ingest = IngestSettings(
        max_quarantine_share=ing.share("max_quarantine_share", IngestSettings.max_quarantine_share),
        max_future_seconds=ing.positive("max_future_seconds", float, IngestSettings.max_future_seconds),
        min_timestamp=ing.get("min_timestamp", str, IngestSettings.min_timestamp),
        max_id_length=ing.positive("max_id_length", int, IngestSettings.max_id_length),
        conflict_retries=ing.positive("conflict_retries", int, IngestSettings.conflict_retries),
        lock_timeout=ing.get("lock_timeout", str, IngestSettings.lock_timeout),
    )
    instant_utc(ingest.min_timestamp, "ingest.min_timestamp")  # Spark's cast took `yesterday`, failed every source
    duration_seconds(ingest.lock_timeout, "ingest.lock_timeout")

    tr = top.section("train", tuple(TrainSettings.__dataclass_fields__))
    d = TrainSettings()
    train = TrainSettings(
        rank=tr.positive("rank", int, d.rank), max_iter=tr.positive("max_iter", int, d.max_iter),
        reg_param=tr.positive("reg_param", float, d.reg_param), alpha=tr.positive("alpha", float, d.alpha),
        seed=tr.get("seed", int, d.seed), half_life_days=tr.positive("half_life_days", float, d.half_life_days),
        holdout=tr.get("holdout", str, d.holdout, choices=("last_share", "cutoff")),
        holdout_share=tr.share("holdout_share", d.holdout_share, why_not_ends="the share of each user's latest "
                                "interactions held out to evaluate the model: 0 holds none out, 1 leaves nothing to "
                                "train on"),
        holdout_cutoff=tr.get("holdout_cutoff", str, None), k=tr.positive("k", int, d.k),
        promotion_tolerance=tr.share("promotion_tolerance", d.promotion_tolerance),
        min_users=tr.positive("min_users", int, d.min_users), min_items=tr.positive("min_items", int, d.min_items),
        checkpoint_interval=tr.positive("checkpoint_interval", int, d.checkpoint_interval),
        lock_timeout=tr.get("lock_timeout", str, d.lock_timeout),
    )
    duration_seconds(train.lock_timeout, "train.lock_timeout")
    if train.holdout == "cutoff" and not train.holdout_cutoff:
        raise ConfigError("train.holdout_cutoff: required when train.holdout is 'cutoff' (a date, e.g. 2026-11-01)")
    if train.holdout_cutoff is not None:
        instant_utc(train.holdout_cutoff, "train.holdout_cutoff")
        if train.holdout != "cutoff":  # was ignored without a word: the holdout stayed each user's latest share
            raise ConfigError(f"train.holdout_cutoff: {train.holdout_cutoff!r} is set, but train.holdout is "
                              f"{train.holdout!r}, which does not use it: set train.holdout: cutoff to hold out "
                              "everything from that time on, or remove train.holdout_cutoff")

    si = top.section("similarity", tuple(SimilaritySettings.__dataclass_fields__))
    s = SimilaritySettings()
    similarity = SimilaritySettings(
        method=si.get("method", str, s.method, choices=("lsh", "exact")), k=si.positive("k", int, s.k),
        bucket_length=si.positive("bucket_length", float, s.bucket_length),
        num_hash_tables=si.positive("num_hash_tables", int, s.num_hash_tables),
        hashes_per_table=si.positive("hashes_per_table", int, s.hashes_per_table),
        recall_sample=si.positive("recall_sample", int, s.recall_sample),
    )

    tn = top.section("trending", tuple(TrendingSettings.__dataclass_fields__))
    t = TrendingSettings()
    trending = TrendingSettings(
        source=tn.get("source", str, t.source), window=tn.get("window", str, t.window),
        slide=tn.get("slide", str, None), watermark=tn.get("watermark", str, t.watermark),
        trigger=tn.get("trigger", str, t.trigger),
        baseline_half_life=tn.get("baseline_half_life", str, t.baseline_half_life),
        min_count=tn.positive("min_count", int, t.min_count), threshold=tn.positive("threshold", float, t.threshold),
        top_n=tn.positive("top_n", int, t.top_n),
        popularity_period=tn.get("popularity_period", str, t.popularity_period),
        min_history=tn.get("min_history", str, t.min_history),
        max_files_per_trigger=tn.positive("max_files_per_trigger", int, None),
        lock_timeout=tn.get("lock_timeout", str, t.lock_timeout),
    )
    for name in ("window", "watermark", "trigger", "baseline_half_life", "popularity_period", "min_history",
                 "lock_timeout", "slide"):
        if getattr(trending, name) is None:
            continue
        seconds = duration_seconds(getattr(trending, name), f"trending.{name}")
        if seconds <= 0 and name in ("window", "slide", "baseline_half_life", "popularity_period"):
            raise ConfigError(f"trending.{name}: {getattr(trending, name)!r} must be longer than 0")
        if name in ("window", "slide") and seconds != int(seconds):  # the query counts whole seconds
            whole = max(1, round(seconds))
            raise ConfigError(f"trending.{name}: {getattr(trending, name)!r} is not a whole number of seconds; "
                              f"give one, e.g. '{whole} second{'s' if whole != 1 else ''}'")
    if trending.slide is not None and (duration_seconds(trending.slide, "trending.slide")
                                       > duration_seconds(trending.window, "trending.window")):
        raise ConfigError(f"trending.slide: {trending.slide!r} is longer than trending.window ({trending.window!r}); "
                          "a window slides by at most its length (leave `slide` out for tumbling windows)")
    if "trending" in top.data:  # without a trending section the config may serve ingest alone
        check_trending_source(trending, sources)

    mt = top.section("maintenance", tuple(MaintenanceSettings.__dataclass_fields__))
    m = MaintenanceSettings()
    maintenance = MaintenanceSettings(
        vacuum_retention_hours=mt.positive("vacuum_retention_hours", float, m.vacuum_retention_hours),
        quarantine_retention_days=mt.positive("quarantine_retention_days", float, m.quarantine_retention_days),
        ledger_retention_days=mt.positive("ledger_retention_days", float, m.ledger_retention_days),
        model_retention_days=mt.positive("model_retention_days", float, m.model_retention_days),
    )

    return Config(
        path=path, lakehouse=resolve_path(top.get("lakehouse", str, "lakehouse")), database=database,
        spark=spark, interaction_types=MappingProxyType(weights), sources=MappingProxyType(sources),
        ingest=ingest, train=train, similarity=similarity, trending=trending, maintenance=maintenance,
    )


def default_config_path() -> str:
    """INTERLAKE_CONF, else the ``conf/local.yaml`` shipped inside the package (never a current-directory lookup)."""
    if env := os.environ.get("INTERLAKE_CONF"):
        return env
    from importlib.resources import files

    return str(files("interlake.conf") / "local.yaml")


_ENV_REF = re.compile(r"\$\$|\$\{([^}:]*)(?::-([^}]*))?\}")


def expand_env(data: Any, env: Mapping[str, str], where: str = "") -> Any:
    """``data`` with ``${NAME}`` in its text values replaced by the environment's NAME (``${NAME:-default}``: the
    default when NAME is unset or empty; ``$$`` is a ``$``), as schedulers template configs (``lakehouse:
    s3a://${BUCKET}/lake``). Keys are left alone; the values stay text (``rank: ${RANK}`` is read as a number as any
    quoted number is). An unset NAME without a default is a one-line ConfigError naming the key."""
    if isinstance(data, Mapping):
        return {k: expand_env(v, env, f"{where}.{k}" if where else str(k)) for k, v in data.items()}
    if isinstance(data, list):
        return [expand_env(v, env, f"{where}[{i}]") for i, v in enumerate(data)]
    if not isinstance(data, str) or "$" not in data:
        return data

    def value(m: re.Match) -> str:
        if m.group(0) == "$$":
            return "$"
        name, default = m.group(1), m.group(2)
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise ConfigError(f"{where}: {m.group(0)!r} does not name an environment variable (letters, digits and "
                              "_); write $$ for a $")
        if env.get(name):
            return env[name]
        if default is not None:
            return default
        raise ConfigError(f"{where}: ${{{name}}} is not set in the environment; set it, or give a default as "
                          f"${{{name}:-value}}")

    return _ENV_REF.sub(value, data)


def check_trending_source(trending: TrendingSettings, sources: Mapping[str, SourceConfig]) -> None:
    """`trending.source` must be `interactions` or a queue_dump source: checked when a trending section is given,
    and by the trending job before Spark starts (its default, `pixel_queue`, may name no source of this config)."""
    if trending.source == "interactions":
        return
    src = sources.get(trending.source)
    if src is None or src.format != "queue_dump":
        qd = [n for n, s_ in sources.items() if s_.format == "queue_dump"]
        default = " (the default)" if trending.source == TrendingSettings().source else ""
        raise ConfigError(
            f"trending.source: {trending.source!r}{default} is neither 'interactions' nor a queue_dump source; "
            f"queue_dump sources here: {', '.join(qd) or 'none'}: set trending.source to one of them or to "
            "interactions"
        )
    if src.encoding != "utf-8":
        raise ConfigError(f"trending.source: {trending.source!r} is {src.encoding} text (sources.{src.name}.options), "
                          "and the stream reads a queue's dumps as UTF-8 (Spark's text stream, line by line); set "
                          "trending.source: interactions, which the stream then reads as ingest stores it")


def yaml_error(path: str, exc: yaml.YAMLError) -> ConfigError:
    """A file's YAML syntax error as one line: where it is and what the parser found (a config's, a bundle's)."""
    mark = getattr(exc, "problem_mark", None)
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
    return ConfigError(f"{path}: not valid YAML{where}: {getattr(exc, 'problem', exc)}")


def yaml_text(path: str, raw: bytes) -> str:
    """A YAML file's bytes as text: UTF-8 (a byte order mark dropped), or UTF-16 with its byte order mark, as YAML 1.2
    allows; not the locale's encoding, which a scheduler's environment may set otherwise. Bytes that are not UTF-8 (a
    config saved in windows-1252 by an editor) are one line naming where."""
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return raw.decode("utf-16")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        start = exc.start
        line = raw[:start].count(b"\n") + 1
        column = start - (raw.rfind(b"\n", 0, start) + 1) + 1
        raise ConfigError(f"{path}: not UTF-8 text at line {line}, column {column} (byte 0x{raw[start]:02x}): save the "
                          "file as UTF-8, the encoding of YAML files (iconv -f windows-1252 -t utf-8 converts one "
                          "saved in windows-1252)") from None


def load_config(path: str | None = None) -> Config:
    """Read and validate a YAML config; one-line ConfigError on any problem. ``${NAME}`` in a value is the
    environment's NAME (``expand_env``)."""
    path = path or default_config_path()
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        if re.match(r"^[A-Za-z][A-Za-z0-9+.-]+:/", path):  # a URI (one letter before ':' is a Windows drive)
            raise ConfigError(
                f"--conf {path}: a config is a file on the disk of the machine the job starts on (the driver's), not "
                "a URI: ship it with the job (spark-submit --files conf.yaml, then --conf conf.yaml; on Databricks a "
                "workspace file, or /dbfs/… for a file in DBFS)") from None
        raise ConfigError(f"--conf {path}: cannot read the file ({exc.strerror}); pass an existing YAML file") from None
    text = yaml_text(path, raw)
    try:
        data = yaml.load(text, Loader=_Yaml12Loader)  # noqa: S506  (a safe loader: SafeLoader's subclass)
    except yaml.YAMLError as exc:
        raise yaml_error(path, exc) from None
    try:
        return parse_config(expand_env(data, os.environ), path)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None

"""Raw standard values -> the interaction schema. Pure DataFrame -> DataFrame; runs in batch and streaming alike.

Example:
    >>> raw_df.transform(standardize, type_map={"5": "purchase"}, vocabulary=("view", "purchase"),
    ...                  timestamp_format="epoch_s")
"""

from __future__ import annotations

from collections.abc import Mapping

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from interlake.config import EPOCH_UNITS, TIMESTAMP_KINDS
from interlake.schemas import columns as C

EPOCH_LIMIT_S = 10**11  # ~ year 5138: larger values are garbage, and would overflow in ANSI arithmetic
# White space a value may be padded with: ASCII (tab, CR, LF, ...), no-break and other Unicode spaces, the BOM.
# Spark's trim() takes off spaces only: an id exported as "u1\t" was stored apart from "u1", with another event_id.
WHITE_SPACE = (" \t\n\r\f\u000b\u0085\u00a0\u1680" + "".join(map(chr, range(0x2000, 0x200b)))
               + "\u2028\u2029\u202f\u205f\u3000\ufeff")


def strip(raw: Column) -> Column:
    """``raw`` without leading or trailing white space (``WHITE_SPACE``: what Python's ``str.strip()`` takes off, but
    the ASCII separators 0x1C-0x1F, and the BOM).

    Kept to one small expression on purpose: a guarded version (plain ``trim`` unless an end byte is not printable
    ASCII) made the generated code of the parsing stage too large for the JIT to compile, and parsing a batch took
    twice as long; this one costs ~12% of parsing (measured side by side, bench/RESULTS.md 2026-11-30)."""
    return F.trim(raw, F.lit(WHITE_SPACE))


def parse_timestamp(raw: Column, timestamp_format: str, timezone: str | None = None) -> Column:
    """A TIMESTAMP truncated to milliseconds, or NULL when ``raw`` cannot be parsed. Never raises (ANSI-safe).

    ``epoch_s`` / ``epoch_ms`` / ``epoch_us`` / ``epoch_ns``: numbers, fractions allowed; ``iso8601``: e.g.
    2026-10-01T12:00:00.123+02:00; anything else is a Spark datetime pattern. A value without an offset is a time in
    ``timezone`` (an IANA name such as ``Europe/Berlin``; UTC when None); a value with one is that instant, whatever
    ``timezone`` says.
    """
    return _parse_stripped(_strip_timestamp(raw, timestamp_format), timestamp_format, timezone)


def _strip_timestamp(raw: Column, timestamp_format: str) -> Column:
    """Spark's number casts and its ISO-8601 parser ignore tabs and line ends at a value's ends themselves, so those
    formats take the cheap ``trim`` (spaces); a datetime pattern does not, so it takes ``strip``."""
    return F.trim(raw) if timestamp_format in TIMESTAMP_KINDS else strip(raw)


# An ISO-8601 value whose time of day is followed by an offset or a zone (``10:00Z``, ``10:00:00.5+02:00``, ``+0200``,
# `` UTC``, ``Europe/Paris``); a date alone (``2026-09-21``) has none.
_ISO_ZONED = r"\d:\d\d(:\d\d)?([.,]\d+)?\s*[A-Za-z+-]"


def _iso_spellings(text: Column) -> Column:
    """ISO-8601 spellings Spark's parser refuses, in one it reads: a time without seconds before a zone or offset
    (``10:00Z``, ``10:00+02:00``: without a zone Spark reads ``10:00``), a lower-case ``t`` or ``z`` (RFC 3339 allows
    them), a decimal comma (``10:00:00,5Z``)."""
    # only the T and the Z upper-cased: a zone name (Europe/Berlin) is case-sensitive
    fixed = F.regexp_replace(text, r"^(\d{4}-\d\d-\d\d)t(\d)", "$1T$2")
    fixed = F.regexp_replace(fixed, r"(\d)z$", "$1Z")
    fixed = F.regexp_replace(fixed, r"([T ]\d\d:\d\d)(?=Z|[+-]| |$)", "$1:00")
    return F.regexp_replace(fixed, r"(:\d\d),(\d)", "$1.$2")


def _parse_stripped(text: Column, timestamp_format: str, timezone: str | None = None) -> Column:
    if timestamp_format in EPOCH_UNITS:
        units = EPOCH_UNITS[timestamp_format]
        # 24 digits hold every epoch_s/ms/us value below the limit; nanoseconds need 20 before the point
        number = text.try_cast("decimal(24,6)" if units < 10**9 else "decimal(29,6)")
        seconds = number if units == 1 else number / units
        millis = F.when(F.abs(seconds) < EPOCH_LIMIT_S, F.floor(seconds * 1000))
        return F.timestamp_millis(millis.cast("bigint"))
    if timestamp_format == "iso8601":
        # the other spellings only for a value Spark's parser refused: coalesce stops at the first that is not NULL
        parsed = F.coalesce(F.try_to_timestamp(text), F.try_to_timestamp(_iso_spellings(text)))
    else:
        parsed = F.try_to_timestamp(text, F.lit(timestamp_format))
    if timezone:  # parsed in the session's UTC: a wall-clock time in `timezone` is shifted to its instant
        local = F.to_utc_timestamp(parsed, timezone)
        # a pattern has an offset field in every value or in none (the config refuses `timezone` with one)
        parsed = F.when(text.rlike(_ISO_ZONED), parsed).otherwise(local) if timestamp_format == "iso8601" else local
    return F.timestamp_millis(F.unix_millis(parsed))


def map_interaction_type(text: Column, type_map: Mapping[str, str], vocabulary: tuple[str, ...]) -> Column:
    """Mapped value if ``text`` (stripped already) is a key of ``type_map``; else ``text`` itself when it
    (lower-cased) is a vocabulary name; else ``text`` unchanged, for validation to reject with its original spelling."""
    lowered = F.lower(text)
    known = F.when(lowered.isin(*vocabulary), lowered).otherwise(text)
    if not type_map:
        return known
    lookup = F.create_map(*[F.lit(x) for kv in type_map.items() for x in kv])
    return F.coalesce(F.element_at(lookup, text), known)


EVENT_ID_SEPARATOR = "\u001f"


def event_id(user: Column, item: Column, itype: Column, ts: Column) -> Column:
    """SHA-256 of the four standard values, the timestamp as epoch milliseconds: the same interaction from any
    source gets the same id.

    The values are joined by U+001F. An id holding that character itself would make two interactions one text (user
    ``a␟b`` with item ``c``, user ``a`` with item ``b␟c``: before 2026-12-07 the second was counted a duplicate of the
    first). Such a row's text starts with the separator and the user id's length, which no other row's text does and
    which splits only one way (the type and the milliseconds never hold it); every other row keeps the id it always
    had, so tables ingested before keep matching their sources."""
    ms = F.unix_millis(ts).cast("string")
    plain = F.concat_ws(EVENT_ID_SEPARATOR, user, item, itype, ms)
    framed = F.concat_ws(EVENT_ID_SEPARATOR, F.lit(""), F.length(user).cast("string"), user, item, itype, ms)
    holds_separator = user.contains(EVENT_ID_SEPARATOR) | item.contains(EVENT_ID_SEPARATOR)
    return F.sha2(F.when(holds_separator, framed).otherwise(plain), 256)


def standardize(df: DataFrame, *, type_map: Mapping[str, str], vocabulary: tuple[str, ...],
                timestamp_format: str, timezone: str | None = None) -> DataFrame:
    """Add the standard columns (user_id, item_id, interaction_type, event_ts, event_date, event_id) next to the raw
    ones, which validation and quarantine still need. ``timezone``: see ``parse_timestamp``."""
    # Each raw value stripped once, in a projection of its own, then used by name (the type's text is used four times
    # by the mapping). What keeps the parsing fast is strip() staying one small expression: see its docstring.
    stripped = {f"_{f}": strip(F.col(f"{f}_raw")) for f in ("user_id", "item_id", "interaction_type")}
    stripped["_timestamp"] = _strip_timestamp(F.col("timestamp_raw"), timestamp_format)
    user, item, itype = F.col("_user_id"), F.col("_item_id"), F.col("_interaction_type")
    return (
        df.withColumns(stripped)
        .withColumn(C.USER_ID, F.when(user != "", user))
        .withColumn(C.ITEM_ID, F.when(item != "", item))
        .withColumn(C.INTERACTION_TYPE, F.when(itype != "", map_interaction_type(itype, type_map, vocabulary)))
        .withColumn(C.EVENT_TS, _parse_stripped(F.col("_timestamp"), timestamp_format, timezone))
        .withColumn(C.EVENT_DATE, F.to_date(F.col(C.EVENT_TS)))
        .withColumn(C.EVENT_ID, event_id(F.col(C.USER_ID), F.col(C.ITEM_ID), F.col(C.INTERACTION_TYPE),
                                         F.col(C.EVENT_TS)))
        .drop(*stripped)
    )

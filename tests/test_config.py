import copy
import dataclasses
import os
import re
import subprocess
import sys

import pytest
import yaml
from interlake.config import load_config, parse_config
from interlake.errors import ConfigError

from tests.conftest import BASE, ROOT


def doc(**changes):
    d = copy.deepcopy(BASE)
    d["lakehouse"] = "/tmp/lake"
    d.update(changes)
    return d


SHOP = {"format": "csv", "path": "in/shop", "options": {"header": "true"},
        "fields": {"user_id": "customer", "item_id": "product", "interaction_type": "stars", "timestamp": "time"},
        "interaction_type_map": {"5": "purchase", "4": "add_to_cart", "3": "view"}, "timestamp_format": "epoch_s"}


def test_the_shipped_local_config_is_valid():
    cfg = load_config(str(ROOT / "conf" / "local.yaml"))
    assert cfg.database == "interlake"
    assert cfg.vocabulary == ("view", "add_to_cart", "purchase")
    assert cfg.interaction_types["purchase"] == 8.0
    assert cfg.sources["pixel_queue"].format == "queue_dump"
    assert cfg.table_path("interactions") == cfg.lakehouse + "/interactions"
    assert cfg.lakehouse.startswith("/")  # resolved against the current directory, once


def test_issue_example_source_parses_and_is_frozen():
    cfg = parse_config(doc(sources={"shop_export": SHOP}))
    src = cfg.sources["shop_export"]
    assert src.fields["interaction_type"] == "stars"
    assert src.interaction_type_map["5"] == "purchase"
    with pytest.raises(dataclasses.FrozenInstanceError):
        src.format = "json"  # frozen
    with pytest.raises(TypeError):
        src.fields["user_id"] = "x"  # read-only mapping


def test_a_file_uri_with_one_slash_is_the_local_path_not_a_folder_named_file_colon(make_config):
    """``file:/data/lake``, as Spark and the ledger spell a local path, was taken for a relative path: the tables
    went to ``./file:/data/lake``, and a source path copied from the ledger named no file."""
    cfg = make_config(lakehouse="file:/data/lake", sources={"s": {**SHOP, "path": "file:/data/in"}})
    assert (cfg.lakehouse, cfg.sources["s"].path) == ("file:///data/lake", "file:///data/in")
    cfg = make_config(lakehouse="file:///data/lake", sources={"s": {**SHOP, "path": "data/in"}})
    assert (cfg.lakehouse, cfg.sources["s"].path) == ("file:///data/lake", os.path.abspath("data/in"))
    # file: and a relative path, which Hadoop refuses ("Relative path in absolute URI"): was ./file:lake
    with pytest.raises(ConfigError, match=r"^lakehouse: file:lake: a file: URI takes an absolute path "
                                          r"\(file:///data/lake\); write a relative one without file: \(lake\)$"):
        make_config(lakehouse="file:lake")
    with pytest.raises(ConfigError, match=r"^sources\.s\.path: file:data/in: a file: URI takes an absolute path"):
        make_config(sources={"s": {**SHOP, "path": "file:data/in"}})


def test_the_local_folder_of_a_path_or_a_file_uri_and_none_for_other_filesystems():
    """What the run locks, the local catalog, DuckDB and the answers without Spark take for this machine's disk."""
    from interlake.config import local_folder

    assert [local_folder(p) for p in ("/data/lake", "data/lake", "file:/data/lake", "file:///data/lake/")] == [
        "/data/lake", os.path.abspath("data/lake"), "/data/lake", "/data/lake/"]
    assert [local_folder(p) for p in ("s3a://bucket/lake", "hdfs:///lake", "file://host/lake")] == [None] * 3


def test_uri_lakehouse_is_kept_as_is():
    assert parse_config(doc(lakehouse="s3a://bucket/lake")).table_path("x") == "s3a://bucket/lake/x"


@pytest.mark.parametrize("change, message", [
    ({"sources": {"s": {**SHOP, "format": "xml"}}},
     r"sources\.s\.format: 'xml' is not a known format; expected one of csv, json, jsonl, parquet, queue_dump"),
    ({"sources": {"s": {**SHOP, "interaction_type_map": {"5": "love"}}}},
     r"sources\.s\.interaction_type_map: '5' maps to unknown type 'love'; interaction_types has view"),
    ({"sources": {"s": {**SHOP, "fields": {"user_id": "c", "item_id": "p", "timestamp": "t"}}}},
     r"sources\.s\.fields: no mapping for interaction_type"),
    ({"sources": {"s": {**SHOP, "constants": {"interaction_type": "gift"}}}},
     r"'interaction_type' is both mapped"),
    ({"lakehouse_root": "x"}, r"lakehouse_root: unknown key; known keys here are lakehouse, database"),
    ({"interaction_types": {}}, r"interaction_types: missing"),
    # a list was "expected a mapping, got list ['view', 'like']", without saying which mapping
    ({"interaction_types": ["view", "like"]},
     r"^interaction_types: a list of names; give each type its training weight as a mapping: "
     r"\{view: \{weight: 1\.0\}, like: \{weight: 1\.0\}\}$"),
    ({"interaction_types": {"view": {"weight": -1}}}, r"interaction_types\.view\.weight: -1\.0 must be greater than 0"),
    ({"interaction_types": {"view": {"weight": "heavy"}}}, r"interaction_types\.view\.weight: 'heavy' is not a number"),
    # NaN and infinity used to pass (nan > 0 is False, so "not <= 0"): ALS then failed on "Ratings MUST NOT be NaN"
    ({"interaction_types": {"view": {"weight": float("nan")}}}, r"weight: nan is not a finite"),
    ({"train": {"alpha": float("inf")}}, r"^train\.alpha: inf is not a finite number$"),
    ({"trending": {"threshold": "1e999"}}, r"^trending\.threshold: inf is not a finite number$"),
    # a fraction where a count is meant used to be cut silently (rank 10.7 trained rank 10)
    ({"train": {"rank": 10.7}}, r"^train\.rank: 10\.7 is not a whole number$"),
    ({"train": {"max_iter": "twelve"}}, r"^train\.max_iter: 'twelve' is not a whole number$"),
    ({"train": {"rank": 0}}, r"train\.rank: 0 must be greater than 0"),
    ({"train": {"holdout": "cutoff"}}, r"train\.holdout_cutoff: required"),
    ({"similarity": {"method": "annoy"}}, r"similarity\.method: 'annoy' is not one of lsh, exact"),
    ({"trending": {"window": "an hour"}}, r"trending\.window: 'an hour' is not a duration"),
    ({"trending": {"source": "nope"}}, r"trending\.source: 'nope' is neither 'interactions' nor a queue_dump source"),
    ({"trending": {"window": "1 hour", "slide": "2 hours"}},
     r"^trending\.slide: '2 hours' is longer than trending\.window \('1 hour'\); a window slides by at most"),
    ({"trending": {"slide": "0 minutes"}}, r"^trending\.slide: '0 minutes' must be longer than 0$"),
    ({"trending": {"window": "0 hours"}}, r"^trending\.window: '0 hours' must be longer than 0$"),
    ({"trending": {"window": "90.5 seconds"}},  # the query took 90 seconds; '0.5 seconds' failed it once it started
     r"^trending\.window: '90\.5 seconds' is not a whole number of seconds; give one, e\.g\. '90 seconds'$"),
    ({"trending": {"slide": "0.5 seconds"}},
     r"^trending\.slide: '0\.5 seconds' is not a whole number of seconds; give one, e\.g\. '1 second'$"),
    ({"ingest": {"max_quarantine_share": 2}}, r"ingest\.max_quarantine_share: 2\.0 must be a share between 0 and 1"),
    # were accepted, and training then failed saying the holdout had no user to predict for
    ({"train": {"holdout_share": 1}}, r"^train\.holdout_share: 1\.0 must be more than 0 and less than 1 \(the share of "
     r"each user's latest interactions held out to evaluate the model: 0 holds none out, 1 leaves nothing to train "
     r"on\)$"),
    ({"train": {"holdout_share": 0}}, r"^train\.holdout_share: 0\.0 must be more than 0 and less than 1 "),
    ({"ingest": {"lock_timeout": "soon"}}, r"ingest\.lock_timeout: 'soon' is not a duration"),
    ({"trending": {"lock_timeout": 5}}, r"trending\.lock_timeout: '5' is not a duration"),
    ({"sources": {"s": {**SHOP, "fields": "customer"}}}, r"sources\.s\.fields: expected a mapping"),
    # was accepted: every row's item was its user
    ({"sources": {"s": {**SHOP, "fields": {**SHOP["fields"], "item_id": SHOP["fields"]["user_id"]}}}},
     r"^sources\.s\.fields: user_id and item_id both map to 'customer'; each standard field reads a field of its "
     r"own$"),
    ({"sources": {"s": {**SHOP, "timestamp_format": "unix"}}},
     r"^sources\.s\.timestamp_format: 'unix' is not a format: expected epoch_s, epoch_ms, epoch_us, epoch_ns, iso8601 "
     r"or a Spark datetime pattern such as yyyy-MM-dd HH:mm:ss \('u' is a week-based field, which Spark does not "
     r"read\)$"),
    ({"sources": {"s": {**SHOP, "timestamp_format": "YYYY-MM-dd"}}},
     r"\('Y' is a week-based field, .*; the year is y\)$"),
    ({"sources": {"s": {**SHOP, "timestamp_format": "yyyy-MM-ddTHH:mm:ss"}}},
     r"\('T' is not a pattern letter; put literal text in quotes, as in yyyy-MM-dd'T'HH:mm:ss\)$"),
    ({"sources": {"s": {**SHOP, "timestamp_format": "EEE, dd MMM yyyy HH:mm:ss"}}},
     r"\('E' \(day of week or quarter\) is for formatting only; Spark cannot parse it\)$"),
    ({"sources": {"s": {**SHOP, "timestamp_format": "yyyy-MM-dd'T HH"}}},
     r"\(the quote at position 11 is not closed\)$"),
    ({"sources": {"s": {**SHOP, "fields": {**SHOP["fields"], "user_id": ["a", "b"]}}}},
     r"^sources\.s\.fields\.user_id: only timestamp can be a list of source fields \(a date and a time column\); "
     r"map user_id to one field$"),
    ({"sources": {"s": {**SHOP, "fields": {**SHOP["fields"], "timestamp": []}}}},
     r"^sources\.s\.fields\.timestamp: \[\] is not a list of source fields; expected one field, or e\.g\. "
     r"\[sale_date, sale_time\]"),
    ({"sources": {"s": {**SHOP, "timestamp_format": "iso8601", "timezone": "Berlin"}}},
     r"^sources\.s\.timezone: 'Berlin' is not a time zone; use an IANA name such as Europe/Berlin"),
    ({"sources": {"s": {**SHOP, "timezone": "Europe/Berlin"}}},
     r"^sources\.s\.timezone: epoch_s values count from 1970-01-01 UTC and carry no time zone; remove timezone$"),
    ({"sources": {"s": {**SHOP, "timestamp_format": "yyyy-MM-dd'T'HH:mm XXX", "timezone": "Europe/Berlin"}}},
     r"^sources\.s\.timezone: the pattern .* reads each value's own offset or zone; remove timezone$"),
    ({"sources": {"s": {**SHOP, "options": {"header": "true", "timeZone": "Europe/Berlin"}}}},
     r"^sources\.s\.options\.timeZone: has no effect on how timestamps are read here; say the zone of timestamps "
     r"without an offset as sources\.s\.timezone"),
    ({"sources": {"s": {**SHOP, "options": {"header": "true", "modifiedAfter": "2026-06-01T00:00:00"}}}},
     r"^sources\.s\.options\.modifiedAfter: files are chosen by the job, not the reader \(a file Spark left out would "
     r"be marked taken, its records never read\); remove it: the ledger takes each file once, so move the files not "
     r"to take out of the folder, or narrow sources\.s\.path with a glob$"),
    ({"sources": {"s": {**SHOP, "options": {"header": "true", "path": "in/other"}}}},
     r"^sources\.s\.options\.path: the source's files are found under sources\.s\.path; remove options\.path \(a "
     r"second folder is a source of its own\)$"),
    ({"sources": {"s": {**SHOP, "options": {"IgnoreCorruptFiles": True}}}},
     r"^sources\.s\.options\.IgnoreCorruptFiles: Spark would skip the rest of such a file without a word and the "
     r"file would be marked taken; remove it: a file that cannot be read fails its source in one line naming it"),
    ({"sources": {"q": {**SHOP, "format": "queue_dump", "options": {"encoding": "UTF-16"}}},
      "trending": {"source": "q"}},
     r"^trending\.source: 'q' is utf-16 text \(sources\.q\.options\), and the stream reads a queue's dumps as UTF-8 "
     r"\(Spark's text stream, line by line\); set trending\.source: interactions, which the stream then reads as "
     r"ingest stores it$"),
    ({"sources": {"s": {**SHOP, "value_field": "payload"}}},
     r"^sources\.s\.value_field: only a queue_dump's records hold the event in a field; remove value_field \(format "
     r"is csv\)$"),
    ({"sources": {"s": {**SHOP, "format": "queue_dump", "value_field": "a..b"}}},
     r"^sources\.s\.value_field: 'a\.\.b' is not a field name such as payload$"),
    ({"sources": {"s": {**SHOP, "value_encoding": "base64"}}},
     r"^sources\.s\.value_encoding: only a queue_dump's record values are encoded; remove value_encoding \(format "
     r"is csv\)$"),
    ({"sources": {"s": {**SHOP, "format": "queue_dump", "value_encoding": "hex"}}},
     r"^sources\.s\.value_encoding: 'hex' is not an encoding; expected none or base64$"),
    # Spark's cast took `tomorrow` (every nightly holdout empty) and `yesterday`; `2001-02-30` failed every source
    ({"train": {"holdout": "cutoff", "holdout_cutoff": "tomorrow"}},
     r"^train\.holdout_cutoff: 'tomorrow' is not a date or time; expected e\.g\. 2026-11-01 or 2026-11-01 18:00 \(UTC "
     r"unless it has an offset: 2026-11-01T18:00\+01:00\)$"),
    ({"train": {"holdout": "cutoff", "holdout_cutoff": "20261101"}}, r"^train\.holdout_cutoff: '20261101' is not a"),
    ({"ingest": {"min_timestamp": "yesterday"}}, r"^ingest\.min_timestamp: 'yesterday' is not a date or time; "),
    ({"ingest": {"min_timestamp": "2001-02-30"}}, r"^ingest\.min_timestamp: '2001-02-30' is not a date or time; "),
    # was ignored: the holdout stayed each user's latest share
    ({"train": {"holdout_cutoff": "2026-12-04"}},
     r"^train\.holdout_cutoff: '2026-12-04' is set, but train\.holdout is 'last_share', which does not use it: set "
     r"train\.holdout: cutoff to hold out everything from that time on, or remove train\.holdout_cutoff$"),
])
def test_bad_config_names_the_key_and_what_is_expected(change, message):
    with pytest.raises(ConfigError, match=message):
        parse_config(doc(**change))


def test_reader_options_that_have_no_effect_are_named_with_why():
    """Options a source's reader does not use (a JSON format's records are parsed by parse_json, every value is read
    as text) were ignored without a word before 2026-12-06; each is now named with why (ingest logs them)."""
    fields = {"fields": {"user_id": "u", "item_id": "i", "interaction_type": "t", "timestamp": "ts"}}
    cfg = parse_config(doc(sources={
        "lines": {"format": "jsonl", "path": "in/l", **fields, "options": {
            "allowComments": "true", "multiLine": "true", "encoding": "UTF-16", "lineSep": "\n"}},
        "docs": {"format": "json", "path": "in/d", **fields, "options": {"multiLine": "true", "lineSep": "\n"}},
        "shop": {**SHOP, "options": {"header": "true", "timestampFormat": "dd.MM.yyyy"}}}))
    taken = "its options are encoding, lineSep, recursiveFileLookup and pathGlobFilter"
    assert cfg.sources["lines"].unused_options == [
        "options.allowComments has no effect: a jsonl source's records are parsed as strict JSON (Spark's parse_json, "
        f"not its JSON reader), and a record that is not is quarantined with its reason; {taken}",
        "options.multiLine has no effect: a jsonl source is one JSON record per line (a document per file, an array "
        "of records, is format: json)"]
    assert cfg.sources["docs"].unused_options == [
        "options.lineSep has no effect: a json source is one document per file, read whole (one record per line is "
        "format: jsonl)"]
    assert cfg.sources["shop"].unused_options == [
        "options.timestampFormat has no effect: values are read as text, then parsed as "
        "sources.shop.timestamp_format says (epoch_s)"]


def test_a_date_in_the_yaml_is_the_text_written_and_checked_by_its_key(tmp_path):
    """Before 2026-12-06 an unquoted `2026-13-04` was a ValueError out of the YAML loader (`interlake train: failed:
    ValueError: month must be in 1..12`), and `2026-11-01T18:00:00Z` came back as another text."""
    conf = tmp_path / "c.yaml"
    conf.write_text(yaml.safe_dump({**doc(), "ingest": {"min_timestamp": "MIN"},
                                    "train": {"holdout": "cutoff", "holdout_cutoff": "CUT"}}))
    text = conf.read_text()
    conf.write_text(text.replace("MIN", "2001-01-01").replace("CUT", "2026-11-01T18:00+01:00"))
    cfg = load_config(str(conf))
    assert (cfg.ingest.min_timestamp, cfg.train.holdout_cutoff) == ("2001-01-01", "2026-11-01T18:00+01:00")
    assert cfg.train.holdout_cutoff_utc == "2026-11-01 17:00:00.000000+00:00"  # what the split casts, any zone
    conf.write_text(text.replace("MIN", "2001-01-01").replace("CUT", "2026-13-04"))
    with pytest.raises(ConfigError) as err:
        load_config(str(conf))
    assert str(err.value) == (f"{conf}: train.holdout_cutoff: '2026-13-04' is not a date or time; expected e.g. "
                              "2026-11-01 or 2026-11-01 18:00 (UTC unless it has an offset: 2026-11-01T18:00+01:00)")

def test_a_session_time_zone_other_than_utc_is_one_line_saying_to_set_the_sources_timezone():
    """``spark.sql.session.timeZone: America/New_York`` made Spark read ``2026-12-01 10:00:00`` as 15:00 UTC: event_ts,
    event_date and the event id moved by the offset, against the README's "UTC unless the source's timezone"."""
    said = (r"^spark\.conf\.spark\.sql\.session\.timeZone: the jobs keep every time in UTC, and 'America/New_York' "
            r"would read timestamps written without an offset in that zone .*; leave it out, and set "
            r"sources\.<name>\.timezone for a source whose timestamps are local wall-clock times$")
    with pytest.raises(ConfigError, match=said):
        parse_config(doc(spark={"conf": {"spark.sql.session.timeZone": "America/New_York"}}))
    for utc in ("UTC", "Etc/UTC", "Z", "+00:00"):
        cfg = parse_config(doc(spark={"conf": {"spark.sql.session.timeZone": utc}}))
        assert cfg.spark.conf["spark.sql.session.timeZone"] == utc


@pytest.mark.parametrize(("key", "value", "why"), [
    ("spark.sql.legacy.timeParserPolicy", "LEGACY", r"CORRECTED: the jobs parse timestamps with Spark's own parser, "
     r"which quarantines a value its timestamp_format does not match whole; LEGACY stores '2026-11-30 10:00:00xyz' "
     r"as 10:00 .*and EXCEPTION fails the whole source on such a value"),
    ("spark.sql.legacy.timeParserPolicy", "EXCEPTION", r"CORRECTED: "),
    ("spark.sql.legacy.parquet.nanosAsLong", "false", r"true: Parquet TIMESTAMP\(NANOS\), as pandas "),
    ("spark.sql.legacy.javaCharsets", "false", r"true: a source's encoding may be any the JVM has "),
])
def test_a_setting_the_jobs_fix_is_one_line_when_the_config_gives_another_value(key, value, why):
    """``spark.sql.legacy.timeParserPolicy: LEGACY`` stored ``2026-11-30 10:00:00xyz`` (pattern
    ``yyyy-MM-dd HH:mm:ss``) as 10:00 instead of quarantining it; EXCEPTION failed the source on that one value."""
    with pytest.raises(ConfigError, match=rf"^spark\.conf\.{re.escape(key)}: the jobs run with {why}.*; leave it out$"):
        parse_config(doc(spark={"conf": {key: value}}))
    same = {"timeParserPolicy": "corrected", "nanosAsLong": "True", "javaCharsets": "true"}[key.split(".")[-1]]
    assert parse_config(doc(spark={"conf": {key: same}})).spark.conf[key] == same



@pytest.mark.parametrize("pattern", ["dd.MM.yyyy HH:mm", "yyyy-MM-dd'T'HH:mm:ss[.SSS]XXX", "M/d/yy h:mm a",
                                     "yyyy-MM-dd'T'HH:mm:ss''Z''", "yyyyDDD", "'day' d 'of' MMMM yyyy"])
def test_spark_datetime_patterns_are_taken(pattern):
    src = parse_config(doc(sources={"s": {**SHOP, "timestamp_format": pattern}})).sources["s"]
    assert src.timestamp_format == pattern


def test_a_timestamp_may_be_mapped_to_several_fields():
    split = {**SHOP["fields"], "timestamp": ["day", "hour"]}
    src = parse_config(doc(sources={"s": {**SHOP, "fields": split}})).sources["s"]
    assert (src.fields["timestamp"], src.timestamp_more) == ("day", ("hour",))
    assert dict(src.read_fields) == {**SHOP["fields"], "timestamp": "day", "timestamp#2": "hour"}
    assert parse_config(doc(sources={"s": SHOP})).sources["s"].read_fields == SHOP["fields"]


def test_constant_field_replaces_a_mapping():
    src = {**SHOP, "fields": {"user_id": "c", "item_id": "p", "timestamp": "t"},
           "constants": {"interaction_type": "purchase"}}
    assert parse_config(doc(sources={"s": src})).sources["s"].constants["interaction_type"] == "purchase"


def test_environment_variables_in_values(tmp_path, monkeypatch):
    """``${NAME}`` as schedulers template configs: replaced in values (not keys), ``${NAME:-default}`` when unset or
    empty, ``$$`` a dollar, a number still read as one; an unset name is one line naming the key."""
    monkeypatch.setenv("IL_LAKE", "s3a://bucket/lake")
    monkeypatch.setenv("IL_RANK", "16")
    monkeypatch.setenv("IL_EMPTY", "")
    monkeypatch.delenv("IL_UNSET", raising=False)
    conf = tmp_path / "c.yaml"
    conf.write_text(yaml.safe_dump({
        "lakehouse": "${IL_LAKE}", "train": {"rank": "${IL_RANK}"},
        "interaction_types": {"view": {"weight": 1.0}, "add_to_cart": {}, "purchase": {"weight": 8.0}},
        "sources": {"shop": {**SHOP, "path": "${IL_UNSET:-/data}/shop/${IL_EMPTY:-all}",
                             "fields": {**SHOP["fields"], "item_id": "price$$", "timestamp": "ts.$date"}}}}))
    cfg = load_config(str(conf))
    assert (cfg.lakehouse, cfg.train.rank) == ("s3a://bucket/lake", 16)
    assert (cfg.sources["shop"].path, cfg.sources["shop"].fields["item_id"]) == ("/data/shop/all", "price$")
    assert cfg.sources["shop"].fields["timestamp"] == "ts.$date"  # a lone $ (a MongoDB export's key) stays
    conf.write_text(conf.read_text().replace("${IL_LAKE}", "s3a://${IL_UNSET}/lake"))
    with pytest.raises(ConfigError) as err:
        load_config(str(conf))
    assert str(err.value) == (f"{conf}: lakehouse: ${{IL_UNSET}} is not set in the environment; set it, or give a "
                              "default as ${IL_UNSET:-value}")
    conf.write_text(conf.read_text().replace("${IL_UNSET}", "${bucket name}"))
    with pytest.raises(ConfigError, match=r"lakehouse: '\$\{bucket name\}' does not name an environment variable"):
        load_config(str(conf))


def test_load_config_reports_missing_file_and_bad_yaml(tmp_path):
    with pytest.raises(ConfigError, match=r"cannot read the file"):
        load_config(str(tmp_path / "nope.yaml"))
    # a URI (a config kept beside the lakehouse in an object store) is not read: it says how to ship the file
    with pytest.raises(ConfigError) as err:
        load_config("s3a://bucket/conf/nightly.yaml")
    assert str(err.value) == (
        "--conf s3a://bucket/conf/nightly.yaml: a config is a file on the disk of the machine the job starts on (the "
        "driver's), not a URI: ship it with the job (spark-submit --files conf.yaml, then --conf conf.yaml; on "
        "Databricks a workspace file, or /dbfs/… for a file in DBFS)")
    bad = tmp_path / "bad.yaml"
    bad.write_text("lakehouse: [unclosed\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml: not valid YAML at line"):
        load_config(str(bad))


def test_a_file_that_is_no_config_or_a_long_list_for_a_mapping_is_shown_in_a_short_line(tmp_path):
    """``--conf`` given a CSV export (or ``/etc/passwd``), or a long list where a mapping belongs: the whole text or
    list was the error's one line, as long as the file."""
    export = tmp_path / "export.csv"
    export.write_text("customer,product,event,time " + "u1,i1,VIEW,1790000000 " * 500 + "\n")
    with pytest.raises(ConfigError) as err:
        load_config(str(export))
    assert str(err.value) == (f"{export}: config: expected a mapping, got str "
                              "'customer,product,event,time u1,i1,VIEW,1790000000 u1,i1,VIE…")
    listed = tmp_path / "listed.yaml"
    listed.write_text("lakehouse: x\ninteraction_types: {view: {weight: 1}}\nsources: {}\nspark: {conf: ["
                      + ", ".join(["spark.sql.shuffle.partitions=8"] * 100) + "]}\n")
    with pytest.raises(ConfigError) as err:
        load_config(str(listed))
    assert str(err.value) == (f"{listed}: spark.conf: expected a mapping, got "
                              "['spark.sql.shuffle.partitions=8', 'spark.sql.shuffle.partit…")


def test_a_config_is_read_as_utf_8_or_utf_16_and_other_bytes_are_one_line_naming_where(tmp_path):
    """Before 2026-12-07 a config saved in windows-1252 (an editor's default on Windows; here an accented type name)
    ended in `failed: UnicodeDecodeError: 'utf-8' codec can't decode byte 0xe9 …` (exit 1), one in UTF-16 too."""
    text = ("lakehouse: lake\ninteraction_types: {view: {weight: 1.0}, achat: {weight: 8.0}}\n"
            "sources:\n  shop:\n    format: csv\n    path: in\n"
            "    fields: {user_id: c, item_id: p, interaction_type: t, timestamp: ts}\n"
            "    interaction_type_map: {vue: view, payé: achat}  # le café\n")
    for name, data in [("utf8.yaml", text.encode()), ("bom.yaml", text.encode("utf-8-sig")),
                       ("utf16.yaml", text.encode("utf-16")), ("utf16be.yaml", b"\xfe\xff" + text.encode("utf-16-be"))]:
        (tmp_path / name).write_bytes(data)
        assert dict(load_config(str(tmp_path / name)).sources["shop"].interaction_type_map) == {
            "vue": "view", "payé": "achat"}, name
    (tmp_path / "cp1252.yaml").write_bytes(text.encode("cp1252"))
    with pytest.raises(ConfigError) as err:
        load_config(str(tmp_path / "cp1252.yaml"))
    assert str(err.value) == (
        f"{tmp_path / 'cp1252.yaml'}: not UTF-8 text at line 8, column 42 (byte 0xe9): save the file as UTF-8, the "
        "encoding of YAML files (iconv -f windows-1252 -t utf-8 converts one saved in windows-1252)")


def test_a_key_given_twice_is_an_error_not_the_last_one_silently(tmp_path):
    """A source block copied and not renamed: PyYAML kept the second ``shop:`` and dropped the first without a word
    (its files were never ingested) before 2026-11-30. Keys a merge brings in may still be overridden."""
    twice = tmp_path / "twice.yaml"
    twice.write_text("lakehouse: lake\nsources:\n  shop:\n    format: csv\n    path: in/a\n"
                     "  shop:\n    format: csv\n    path: in/b\n")
    with pytest.raises(ConfigError) as err:
        load_config(str(twice))
    assert str(err.value) == (f"{twice}: not valid YAML at line 6, column 3: key 'shop' appears twice in one mapping "
                              "(first at line 3); a key may appear once: rename or remove one")
    merged = tmp_path / "merged.yaml"  # a source made from another one: its path overrides the merged one
    merged.write_text("lakehouse: lake\ninteraction_types: {view: {weight: 1.0}}\n"
                      "sources:\n  a: &src\n    format: csv\n    path: in/a\n"
                      "    fields: {user_id: c, item_id: p, interaction_type: t, timestamp: ts}\n"
                      "  b:\n    <<: *src\n    path: in/b\n")
    sources = load_config(str(merged)).sources
    assert [(n, s.path.rsplit("/", 2)[-2:], s.fields["user_id"]) for n, s in sources.items()] == [
        ("a", ["in", "a"], "c"), ("b", ["in", "b"], "c")]


def test_cli_bad_config_is_one_line_without_traceback(write_yaml):
    path = write_yaml(doc(sources={"s": {**SHOP, "format": "xml"}}))
    proc = subprocess.run([sys.executable, "-m", "interlake", "ingest", "--conf", path],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("interlake ingest: error: ") and "sources.s.format: 'xml'" in lines[0]
    assert "Traceback" not in proc.stderr
    # a config without sources is a config error too, said before Spark starts (no JVM line on stderr)
    empty = write_yaml({**doc(), "sources": {}})
    proc = subprocess.run([sys.executable, "-m", "interlake", "ingest", "--conf", empty],
                          capture_output=True, text=True, timeout=120)
    assert (proc.returncode, proc.stderr) == (2, "interlake ingest: error: sources: none configured; add one under "
                                                 "`sources:` in the config (see conf/local.yaml)\n")


def test_json_log_lines_for_schedulers(capsys):
    import json
    import logging

    from interlake.log import progress, setup_logging

    setup_logging("json")
    progress(logging.getLogger("interlake.test"), "reading", source="shop", files=3)
    line = capsys.readouterr().err.strip().splitlines()[-1]
    doc = json.loads(line)
    assert doc["message"] == "reading  source=shop files=3"
    assert doc["source"] == "shop" and doc["files"] == 3 and doc["level"] == "info"
    setup_logging("text")


def test_log_lines_go_to_stderr_as_it_is_when_logged(monkeypatch):
    """A notebook or a test harness replaces ``sys.stderr`` after logging is set up, and closes the old one; a
    streaming query's batches log on from a callback thread. Before, each such line was a "Logging error ... I/O
    operation on closed file" traceback on the terminal instead of the line."""
    import io
    import logging

    from interlake.log import setup_logging

    first = io.StringIO()
    monkeypatch.setattr("sys.stderr", first)
    setup_logging("text")
    first.close()
    now = io.StringIO()
    monkeypatch.setattr("sys.stderr", now)
    logging.getLogger("interlake.test").info("trending batch 3")
    assert now.getvalue().rstrip().endswith("interlake.test: trending batch 3")
    monkeypatch.undo()
    setup_logging("text")

"""Seeded, realistic e-commerce interactions for demos, tests and benchmarks.

What it models (each a knob below):
- long-tailed item popularity (Zipf within each category) and users whose tastes cover 1-3 categories;
- sessions that are journeys: 1-4 views in one category, then add_to_cart, then purchase, with drop-off;
- a daily traffic cycle (quiet at night, peak in the evening, UTC);
- a few items that surge for one hour (recorded in the truth file);
- queue re-deliveries and events present in both the CSV export and the queue (exact duplicates);
- a small share of malformed records of every kind ingestion must quarantine.

Outputs under ``out``: ``shop_export/*.csv`` (customer, product, event=VIEW|CART|BUY, time=epoch seconds with
milliseconds), ``pixel_queue/*.jsonl`` (queue records ``{topic, partition, offset, timestamp, key, value}``
where value is an object or, for a share of records, a string holding JSON), ``items.csv``, ``users.csv``
and ``truth.json``.

Example:
    >>> truth = generate("data/sample", users=2000, items=400, days=14, seed=7)
"""

from __future__ import annotations

import json
import logging
import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd

from interlake.errors import ConfigError
from interlake.fs import file_in_the_way

log = logging.getLogger(__name__)

TYPES = np.array(["view", "add_to_cart", "purchase"])
CSV_CODES = {"view": "VIEW", "add_to_cart": "CART", "purchase": "BUY"}
# Share of traffic per UTC hour: night trough, evening peak (the cycle trending must not call a trend).
HOURLY = np.array([2, 1.2, 0.8, 0.6, 0.6, 0.8, 1.5, 2.5, 3.5, 4, 4.2, 4.5, 5, 4.8, 4.5, 4.5, 4.8, 5.5, 6.5, 7.5,
                   8, 7.5, 5.5, 3.5])
HOURLY = HOURLY / HOURLY.sum()


@dataclass(frozen=True)
class Knobs:
    sessions_per_user_day: float = 0.6
    cart_rate: float = 0.3
    purchase_rate: float = 0.45
    export_share: float = 0.25  # events that reach the CSV export (the rest only the queue)
    both_share: float = 0.03  # events present in both the export and the queue
    redelivery_share: float = 0.01  # queue records delivered twice
    malformed_share: float = 0.01
    value_as_string_share: float = 0.3
    surge_factor: float = 12.0


def _ids(prefix: str, n: int) -> np.ndarray:
    width = max(5, len(str(n)))
    return np.array([f"{prefix}-{i:0{width}d}" for i in range(n)])


def generate(out: str, *, users: int = 2000, items: int = 400, days: int = 14, seed: int = 7,
             start: str | None = None, knobs: Knobs = Knobs()) -> dict:
    """Write a sample data set under ``out`` and return its truth (also written to ``truth.json``)."""
    for name, value, least in (("users", users, 2), ("items", items, 6), ("days", days, 1)):
        if value < least:  # the surges pick items outside the top 5, users interact with each other's items
            raise ConfigError(f"--{name} {value}: too few for a sample (at least {least})")
    if seed < 0:  # numpy's generator takes none: `failed: ValueError: expected non-negative integer`
        raise ConfigError(f"--seed {seed}: a seed is a whole number of 0 or more")
    if start is not None:
        try:
            datetime.fromisoformat(start)
        except ValueError:
            raise ConfigError(f"--start {start!r}: expected a date as YYYY-MM-DD") from None
    rng = np.random.default_rng(seed)
    try:  # each day's files are named by its date: the days must lie within the years 1 to 9999
        if start is None:
            today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
            start_dt = today - timedelta(days=days)
        else:
            start_dt = datetime.fromisoformat(start).replace(tzinfo=UTC)
        start_dt + timedelta(days=days)
    except OverflowError:  # was `failed: ValueError: year 10000 is out of range` or `OverflowError: date value …`
        since = f"from --start {start}" if start else "before today"
        raise ConfigError(f"--days {days} {since}: the sample's dates must lie between 0001-01-01 and "
                          f"9999-12-30; give fewer days or another --start") from None
    # a path under a file, or a file: was `failed: NotADirectoryError` (FileExistsError) after the data was made
    blocker = file_in_the_way(out, itself=True)
    if blocker:
        raise ConfigError(f"--out {out}: {blocker} is a file; the sample is a folder (its sources and truth.json): "
                          "give a folder's name")
    start_ms = int(start_dt.timestamp() * 1000)

    # Catalog: categories with Zipf popularity inside each.
    n_cat = max(4, items // 40)
    item_cat = rng.integers(0, n_cat, items)
    item_pop = 1.0 / (1 + rng.permutation(items)) ** 1.1
    item_ids, user_ids = _ids("sku", items), _ids("u", users)
    cat_items = [np.flatnonzero(item_cat == c) for c in range(n_cat)]
    cat_items = [c if len(c) else np.array([0]) for c in cat_items]
    cat_p = [item_pop[c] / item_pop[c].sum() for c in cat_items]

    # Users: tastes concentrated on a few categories, lognormal activity.
    taste = rng.dirichlet(np.full(n_cat, 0.15), users)
    activity = rng.lognormal(0, 0.8, users)
    n_sessions = rng.poisson(knobs.sessions_per_user_day * days * activity / activity.mean())
    s_user = np.repeat(np.arange(users), n_sessions)
    n_s = len(s_user)
    s_cat = (taste[s_user].cumsum(1) > rng.random(n_s)[:, None]).argmax(1)
    s_day = rng.integers(0, days, n_s)
    s_hour = rng.choice(24, n_s, p=HOURLY)
    s_ms = start_ms + ((s_day * 24 + s_hour) * 3600 + rng.random(n_s) * 3300) .astype(np.int64) * 1000 \
        + rng.integers(0, 1000, n_s)

    # Journeys: views, then maybe cart, then maybe purchase of the last viewed item.
    n_views = rng.integers(1, 5, n_s)
    ev_sess = np.repeat(np.arange(n_s), n_views)
    step = np.arange(len(ev_sess)) - np.repeat(np.cumsum(n_views) - n_views, n_views)
    ev_item = np.empty(len(ev_sess), dtype=np.int64)
    for c in range(n_cat):
        mask = s_cat[ev_sess] == c
        ev_item[mask] = rng.choice(cat_items[c], mask.sum(), p=cat_p[c])
    ev_type = np.zeros(len(ev_sess), dtype=np.int64)
    ev_ms = s_ms[ev_sess] + step * rng.integers(5_000, 90_000, len(ev_sess))
    last = np.cumsum(n_views) - 1
    carted = last[rng.random(n_s) < knobs.cart_rate]
    bought = carted[rng.random(len(carted)) < knobs.purchase_rate]
    parts_sess = [ev_sess, ev_sess[carted], ev_sess[bought]]
    parts_item = [ev_item, ev_item[carted], ev_item[bought]]
    parts_type = [ev_type, np.ones(len(carted), np.int64), np.full(len(bought), 2)]
    parts_ms = [ev_ms, ev_ms[carted] + rng.integers(10_000, 120_000, len(carted)),
                ev_ms[bought] + rng.integers(150_000, 600_000, len(bought))]

    # Surges: a few items get many extra views from random users within one hour (never on the first 3 days,
    # so the forecast has history).
    surges = []
    n_surges = max(2, days // 4)
    popular = np.argsort(-item_pop)
    for _i in range(n_surges):
        item = int(popular[rng.integers(5, max(6, items // 4))])
        day = int(rng.integers(min(3, days - 1), days))
        hour = int(rng.integers(9, 22))
        base_hourly = 1 + len(ev_item) * item_pop[item] / item_pop.sum() * HOURLY[hour] / max(days, 1)
        extra = int(knobs.surge_factor * base_hourly + 40)
        t0 = start_ms + (day * 24 + hour) * 3_600_000
        parts_sess.append(np.full(extra, -1))
        parts_item.append(np.full(extra, item))
        parts_type.append(np.zeros(extra, np.int64))
        parts_ms.append(t0 + rng.integers(0, 3_600_000, extra))
        surges.append({"item_id": str(item_ids[item]), "window_start": _iso(t0), "window_end": _iso(t0 + 3_600_000),
                       "extra_events": extra})
    sess = np.concatenate(parts_sess)
    user = np.where(sess >= 0, s_user[np.maximum(sess, 0)], rng.integers(0, users, len(sess)))
    events = pd.DataFrame({"user_id": user_ids[user], "item_id": item_ids[np.concatenate(parts_item)],
                           "interaction_type": TYPES[np.concatenate(parts_type)], "ts_ms": np.concatenate(parts_ms)})
    events = events.drop_duplicates(["user_id", "item_id", "interaction_type", "ts_ms"]).sort_values("ts_ms")
    events = events[events.ts_ms < start_ms + days * 86_400_000].reset_index(drop=True)

    # Routing: export only, queue only, or both.
    r = rng.random(len(events))
    in_both = r < knobs.both_share
    in_export = in_both | (r > 1 - knobs.export_share)
    in_queue = in_both | ~in_export
    export, queue = events[in_export], events[in_queue]
    os.makedirs(f"{out}/shop_export", exist_ok=True)
    os.makedirs(f"{out}/pixel_queue", exist_ok=True)
    _remove_earlier_days(out, {_iso(start_ms + d * 86_400_000)[:10] for d in range(days)})
    n_bad_csv = _write_export(export, f"{out}/shop_export", start_ms, days, rng, knobs)
    n_bad_queue, n_redelivered = _write_queue(queue, f"{out}/pixel_queue", start_ms, days, rng, knobs)

    pd.DataFrame({"item_id": item_ids, "category": [f"cat-{c:02d}" for c in item_cat]}).to_csv(
        f"{out}/items.csv", index=False)
    pd.DataFrame({"user_id": user_ids, "top_category": [f"cat-{c:02d}" for c in taste.argmax(1)]}).to_csv(
        f"{out}/users.csv", index=False)
    counts = events.interaction_type.value_counts()
    truth = {
        "seed": seed, "users": users, "items": items, "days": days, "start": _iso(start_ms),
        "end": _iso(start_ms + days * 86_400_000),
        "unique_events": int(len(events)),
        "events_by_type": {t: int(counts.get(t, 0)) for t in TYPES},
        "export_rows_valid": int(len(export)), "queue_records_valid": int(len(queue)),
        "events_in_both_sources": int(in_both.sum()), "queue_redeliveries": n_redelivered,
        "malformed": {"shop_export": n_bad_csv, "pixel_queue": n_bad_queue},
        "surges": surges,
    }
    with open(f"{out}/truth.json", "w") as fh:
        json.dump(truth, fh, indent=2)
    return truth


def _remove_earlier_days(out: str, dates: set[str]) -> None:
    """An earlier sample written to the same folder with other days (``--start``, ``--days``) would otherwise leave its
    day files next to this one's, to be ingested with them while ``truth.json`` describes this sample alone. Only the
    generator's own names are touched (``shop_export/export_<date>.csv``, ``pixel_queue/dump_<date>.jsonl``)."""
    removed = []
    for folder, pattern in (("shop_export", r"export_(\d{4}-\d{2}-\d{2})\.csv"),
                            ("pixel_queue", r"dump_(\d{4}-\d{2}-\d{2})\.jsonl")):
        for name in sorted(os.listdir(f"{out}/{folder}")):
            m = re.fullmatch(pattern, name)
            if m and m.group(1) not in dates:
                os.remove(f"{out}/{folder}/{name}")
                removed.append(f"{folder}/{name}")
    if removed:
        log.warning("removed %d day file%s of an earlier sample under %s (%s)", len(removed),
                    "s" if len(removed) != 1 else "", out, ", ".join(removed[:4]) + (", …" if len(removed) > 4 else ""))


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _day_of(ms: np.ndarray, start_ms: int) -> np.ndarray:
    return (ms - start_ms) // 86_400_000


def _write_export(df: pd.DataFrame, folder: str, start_ms: int, days: int, rng, knobs: Knobs) -> int:
    lines = pd.DataFrame({
        "customer": df.user_id.values,
        "product": df.item_id.values,
        "event": pd.Series(df.interaction_type.values).map(CSV_CODES).values,
        "time": [f"{ms // 1000}.{ms % 1000:03d}" for ms in df.ts_ms.values],
    })
    n_bad = int(len(lines) * knobs.malformed_share)
    bad_rows = rng.choice(len(lines), n_bad, replace=False) if n_bad else np.array([], int)
    kinds = rng.integers(0, 5, n_bad)
    text = lines.astype(str).agg(",".join, axis=1).to_numpy(dtype=object)
    for row, kind in zip(bad_rows, kinds, strict=False):
        c, p, e, t = lines.iloc[row]
        text[row] = [f",{p},{e},{t}", f"{c},{p},LIKE,{t}", f"{c},{p},{e},yesterday", f"{c},{p},{e}",
                     f"{c},{p},{e},{int(float(t)) + 400 * 86400}"][kind]
    day = _day_of(df.ts_ms.values, start_ms)
    for d in range(days):
        chunk = text[day == d]
        date = _iso(start_ms + d * 86_400_000)[:10]
        with open(f"{folder}/export_{date}.csv", "w") as fh:
            fh.write("customer,product,event,time\n")
            fh.write("\n".join(chunk) + ("\n" if len(chunk) else ""))
    return n_bad


def _write_queue(df: pd.DataFrame, folder: str, start_ms: int, days: int, rng, knobs: Knobs) -> tuple[int, int]:
    n = len(df)
    partition = rng.integers(0, 3, n)
    as_string = rng.random(n) < knobs.value_as_string_share
    users, items, types, ts = df.user_id.values, df.item_id.values, df.interaction_type.values, df.ts_ms.values
    pages = rng.integers(1, 50, n)
    records = []
    for i in range(n):
        value = (f'{{"uid":"{users[i]}","sku":"{items[i]}","action":"{types[i]}","ts":{ts[i]},'
                 f'"ctx":{{"page":"/p/{pages[i]}","ua":"Mozilla/5.0"}}}}')
        records.append(value)
    n_bad = int(n * knobs.malformed_share)
    bad_rows = rng.choice(n, n_bad, replace=False) if n_bad else np.array([], int)
    broken = set()
    for row, kind in zip(bad_rows, rng.integers(0, 5, n_bad), strict=False):
        u, it, ty, t = users[row], items[row], types[row], ts[row]
        if kind == 0:
            records[row] = f'{{"uid":"{u}","sku":"{it}","action":"{ty}","ts":{t}'  # truncated JSON
            broken.add(row)
        elif kind == 1:
            records[row] = f'{{"sku":"{it}","action":"{ty}","ts":{t}}}'  # no user
        elif kind == 2:
            records[row] = f'{{"uid":"{u}","sku":"{it}","action":"wishlist","ts":{t}}}'  # outside the vocabulary
        elif kind == 3:
            records[row] = f'{{"uid":"{u}","sku":"{it}","action":"{ty}","ts":"soon"}}'  # bad timestamp
        else:
            records[row] = f'{{"uid":"{u}","sku":" ","action":"{ty}","ts":{t}}}'  # blank item
    lines = np.empty(n, dtype=object)
    offsets = np.zeros(3, dtype=np.int64)
    for i in range(n):
        p = partition[i]
        if i in broken:
            lines[i] = records[i]  # a torn write: the whole line is broken, not just the value
        else:
            value = json.dumps(records[i]) if as_string[i] else records[i]
            lines[i] = (f'{{"topic":"pixel-events","partition":{p},"offset":{offsets[p]},"timestamp":{ts[i] + 50},'
                        f'"key":"{users[i]}","value":{value}}}')
        offsets[p] += 1
    redeliver = rng.random(n) < knobs.redelivery_share
    redeliver[list(broken)] = False
    day = _day_of(ts, start_ms)
    for d in range(days):
        sel = day == d
        date = _iso(start_ms + d * 86_400_000)[:10]
        chunk = list(lines[sel]) + list(lines[sel & redeliver])
        with open(f"{folder}/dump_{date}.jsonl", "w") as fh:
            fh.write("\n".join(chunk) + ("\n" if chunk else ""))
    return n_bad, int(redeliver.sum())

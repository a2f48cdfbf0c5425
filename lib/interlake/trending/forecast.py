"""The trending score: how far an item's count in a window is above its own forecast, comparable across items.

For item i and window t (step = the window slide), from the item's counts in the ``lookback`` before t (windows
without interactions count as zero), each past window weighted by 0.5 ** (age / half_life):

1. winsorize: past counts are capped at 4 * q90 + 5, so a past surge cannot teach the forecast that it is normal;
2. level L = weighted mean of the capped past; seasonal S = weighted mean of the capped past at the same time of day
   (the daily cycle: the evening rise is expected, not a trend);
3. expected e = (n * S + 2 * L) / (n + 2), n = same-time-of-day windows seen: shrinks S to L while history is short;
4. burstiness: real counts vary far more than Poisson, so var(count) = e + phi * e**2 (negative binomial), with phi
   estimated from the item's own past residuals (clamped to [0.05, 5]);
5. score = (count - e) / sqrt(e + phi * e**2 + 1): a z-score, so 4 means the same on a rare and a popular item.
``is_trending`` = score >= threshold and count >= min_count and at least ``min_history`` (default 2 days) of stream
history before the window: with less, nobody knows an item's usual evening yet.

It is a pure function of the counts before t, so it does not depend on how the stream was cut into micro-batches.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pandas as pd

OUT_COLUMNS = ["item_id", "window_start", "interactions", "expected", "score", "is_trending"]
EXACT_IN_FLOAT32 = 2**24  # every integer count below this is exact in float32


def _padded_quantile(past: np.ndarray, n_valid: np.ndarray, q: float, exact_f32: bool) -> np.ndarray:
    """Per-row ``q`` quantile (linear interpolation, as ``np.quantile``) of the ``n_valid`` values (>= 0) of each row
    whose other entries are zeros (the grid's padding), in one vectorized sort: sorted, those zeros come first, so
    rank r of the values sits at r + (row length - n_valid), and no mask is needed. Integer counts below 2**24 are
    sorted as float32, exact for them and several times faster than float64 here. Rows without values: 0."""
    s = np.sort(past.astype(np.float32) if exact_f32 else past, axis=1)
    skip = np.minimum(past.shape[1] - n_valid, past.shape[1] - 1)  # (a row without values reads any entry)
    pos = q * np.maximum(n_valid - 1, 0)
    lo = np.floor(pos).astype(np.int64)
    hi = np.minimum(lo + 1, np.maximum(n_valid - 1, 0))
    rows = np.arange(len(s))
    lo_v, hi_v = s[rows, lo + skip].astype(np.float64), s[rows, hi + skip].astype(np.float64)
    return np.where(n_valid > 0, lo_v + (pos - lo) * (hi_v - lo_v), 0.0)


@lru_cache(maxsize=8)
def _age_weights(look: int, per_day: int, step_s: int, half_life_s: float) -> tuple[np.ndarray, ...]:
    """The look-back's weights, the same for every chunk of a call (made once, not per chunk): ``by_column[i, p]`` is
    the weight of the age in column i of a look-back row (oldest first) if its time of day is p, else 0;
    ``weight_upto[v]`` sums the weights of ages 1..v per time of day; ``per_column`` is each column's weight."""
    ages = np.arange(1, look + 1)
    by_age = np.zeros((look, per_day))  # phase 0: the same time of day as the window
    by_age[np.arange(look), ages % per_day] = 0.5 ** (ages * step_s / half_life_s)
    weight_upto = np.vstack((np.zeros((1, per_day)), np.cumsum(by_age, axis=0)))
    by_column = np.ascontiguousarray(by_age[::-1])
    arrays = (by_column, weight_upto, by_column.sum(axis=1))
    for a in arrays:
        a.flags.writeable = False  # shared between calls
    return arrays


def _scores(c: np.ndarray, ts: np.ndarray, *, step_s: int, half_life_s: float, lookback_s: float,
            first: np.ndarray, exact_f32: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Expected count and score of the windows ``ts`` (indexes into ``c``). ``c`` holds many items' gap-free grids of
    counts (>= 0) one after the other, each preceded by as many zeros as the look-back of its windows in ``ts``
    reaches before it; ``first[j]`` is where the grid of window ``ts[j]``'s item begins. The zeros make every
    look-back row full length: entries before the item's grid add nothing to the weighted sums and sort first for
    the quantile."""
    per_day = max(1, int(round(86400 / step_s)))
    look = max(1, int(lookback_s // step_s))
    # past[j, look - a] = count a windows before ts[j] (a = 1..look), oldest first: rows of a sliding window over c
    past = np.lib.stride_tricks.sliding_window_view(c, look)[ts - look]
    k = ts - first  # windows of the item's grid before ts[j]
    n_valid = np.minimum(k, look)
    has_past = k > 0  # ts[j] is not the first window of its item's grid
    by_column, weight_upto, per_column = _age_weights(look, per_day, int(step_s), float(half_life_s))
    with np.errstate(invalid="ignore", divide="ignore"):
        q90 = _padded_quantile(past, n_valid, 0.9, exact_f32)
        capped = np.minimum(past, (4 * q90 + 5)[:, None])
        by_phase = capped @ by_column  # weighted sum of the capped past per time of day
        w_phase = weight_upto[n_valid]  # and its weight (valid ages only)
        wsum = w_phase.sum(axis=1)
        level = by_phase.sum(axis=1) / wsum
        n = n_valid // per_day  # same-time-of-day windows seen
        seasonal = np.where(n > 0, by_phase[:, 0] / w_phase[:, 0], level)
        e = (n * seasonal + 2 * level) / (n + 2)
        # weighted variance around each time of day's mean: sum w (x - m_p)^2 = sum w x^2 - sum_p (sum_p w x)^2 / w_p
        explained = np.where(w_phase > 0, by_phase**2 / w_phase, 0.0).sum(axis=1)
        var = np.maximum((capped * capped) @ per_column - explained, 0.0) / wsum
        phi = np.where(level > 0, np.clip((var - level) / np.maximum(level, 1e-6) ** 2, 0.05, 5.0), 0.05)
    e = np.where(has_past, e, 0.0)
    phi = np.where(has_past, phi, 0.05)
    return e, (c[ts] - e) / np.sqrt(e + phi * e * e + 1.0)


def score_items(counts: pd.DataFrame, *, step_s: int, history_start: pd.Timestamp, half_life_s: float,
                lookback_s: float, threshold: float, min_count: int, min_history_s: float = 2 * 86400,
                chunk_rows: int = 512, carry: tuple[str, ...] = ()) -> pd.DataFrame:
    """Many items at once: ``counts`` has (item_id, window_start, interactions, from_ts), any number of rows per item
    and window (they are summed); each item's windows >= its ``from_ts`` with interactions are scored. Every item's
    gap-free grid goes into one array and the windows are scored ``chunk_rows`` at a time, whatever item they belong
    to (no Python loop over items); 512 rows keep a chunk's look-back matrices (~2 MB each) in the CPU's cache, 2x
    faster than 4096 here. ``carry``: more numeric columns of ``counts``, summed per window like
    ``interactions`` and returned with the scored windows."""
    columns = OUT_COLUMNS + list(carry)
    if counts.empty:
        return pd.DataFrame([], columns=columns)
    # windows are aligned to the epoch (as Spark's window()): put the history start on the same grid
    h0 = int(pd.Timestamp(history_start).floor(pd.Timedelta(seconds=step_s)).value // 1_000_000_000)
    codes, names = pd.factorize(counts["item_id"], sort=False)
    ws = counts["window_start"].to_numpy().astype("datetime64[s]").astype(np.int64)
    starts = counts["from_ts"].to_numpy().astype("datetime64[s]").astype(np.int64)
    n = counts["interactions"].to_numpy().astype(float)
    if (n < 0).any():
        raise ValueError("score_items: interaction counts must be >= 0")
    k = len(names)
    first = np.full(k, h0)  # per item: min(first window, history start)
    np.minimum.at(first, codes, ws)
    last = np.full(k, np.iinfo(np.int64).min)
    np.maximum.at(last, codes, ws)
    start = np.full(k, np.iinfo(np.int64).max)
    np.minimum.at(start, codes, starts)
    length = (last - first) // step_s + 1
    look = max(1, int(lookback_s // step_s))  # windows in a look-back, as _scores counts them
    # Zeros before an item's grid, as many as the look-back of its first scored window reaches before the grid (none
    # for an item with a full look-back of history): a look-back row never reaches into another item's counts.
    pad = np.clip(look - (start - first) // step_s, 0, look)
    offset = np.concatenate(([0], np.cumsum(length + pad)[:-1])) + pad  # where each item's grid begins
    cell = offset[codes] + (ws - first[codes]) // step_s  # every row's cell
    c = np.bincount(cell, weights=n, minlength=int((length + pad).sum()))
    item = np.repeat(np.arange(k), length + pad)  # the item of every cell
    cell_start = first[item] + (np.arange(len(c)) - offset[item]) * step_s  # (padding: before the item's grid)
    ts = np.flatnonzero((cell_start >= start[item]) & (c > 0))
    if len(ts) == 0:
        return pd.DataFrame([], columns=columns)
    e = np.empty(len(ts))
    score = np.empty(len(ts))
    exact_f32 = bool(c.max() < EXACT_IN_FLOAT32 and np.all(n == np.floor(n)))
    for a in range(0, len(ts), chunk_rows):
        part = ts[a:a + chunk_rows]
        e[a:a + chunk_rows], score[a:a + chunk_rows] = _scores(
            c, part, step_s=step_s, half_life_s=half_life_s, lookback_s=lookback_s, first=offset[item[part]],
            exact_f32=exact_f32)
    it = item[ts]
    hist_idx = (h0 - first[it]) // step_s
    enough_history = ((ts - offset[it]) - hist_idx) * step_s >= min_history_s
    out = {"item_id": np.asarray(names, dtype=object)[it],
           "window_start": pd.to_datetime(cell_start[ts], unit="s"),
           "interactions": c[ts].astype(np.int64),
           "expected": e.astype(float),
           "score": score.astype(float),
           "is_trending": enough_history & (score >= threshold) & (c[ts] >= min_count)}
    for name in carry:
        out[name] = np.bincount(cell, weights=counts[name].to_numpy().astype(float), minlength=len(c))[ts]
    return pd.DataFrame(out, columns=columns)


def score_item(counts: pd.DataFrame, *, item_id: str, step_s: int, start: pd.Timestamp, history_start: pd.Timestamp,
               half_life_s: float, lookback_s: float, threshold: float, min_count: int,
               min_history_s: float = 2 * 86400) -> pd.DataFrame:
    """``counts``: (window_start, interactions) of one item. Scores every window >= ``start`` with interactions."""
    frame = counts[["window_start", "interactions"]].assign(item_id=item_id, from_ts=pd.Timestamp(start))
    return score_items(frame, step_s=step_s, history_start=history_start, half_life_s=half_life_s,
                       lookback_s=lookback_s, threshold=threshold, min_count=min_count, min_history_s=min_history_s)

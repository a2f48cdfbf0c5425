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

import numpy as np
import pandas as pd

OUT_COLUMNS = ["item_id", "window_start", "interactions", "expected", "score", "is_trending"]


def score_item(counts: pd.DataFrame, *, item_id: str, step_s: int, start: pd.Timestamp, history_start: pd.Timestamp,
               half_life_s: float, lookback_s: float, threshold: float, min_count: int,
               min_history_s: float = 2 * 86400) -> pd.DataFrame:
    """``counts``: (window_start, interactions) of one item. Scores every window >= ``start`` with interactions."""
    counts = counts.groupby("window_start", as_index=False)["interactions"].sum()
    # windows are aligned to the epoch (as Spark's window()): put the history start on the same grid
    history_start = history_start.floor(pd.Timedelta(seconds=step_s))
    first = min(counts.window_start.min(), history_start)
    last = counts.window_start.max()
    grid = pd.date_range(first, last, freq=pd.Timedelta(seconds=step_s))
    c = counts.set_index("window_start")["interactions"].reindex(grid, fill_value=0).to_numpy(dtype=float)
    per_day = max(1, int(round(86400 / step_s)))
    look = max(1, int(lookback_s // step_s))
    hist_idx = int((history_start - first) / pd.Timedelta(seconds=step_s))
    out = []
    for t in np.flatnonzero((grid >= start) & (c > 0)):
        lo = max(0, t - look)
        past = c[lo:t]
        if len(past) == 0:
            e, phi = 0.0, 0.05
        else:
            ages = np.arange(t - lo, 0, -1, dtype=float)
            w = 0.5 ** (ages * step_s / half_life_s)
            capped = np.minimum(past, 4 * np.quantile(past, 0.9) + 5)
            level = float(np.sum(w * capped) / np.sum(w))
            pos = np.arange(lo, t)
            same = (t - pos) % per_day == 0
            n = int(same.sum())
            seasonal = float(np.sum(w[same] * capped[same]) / np.sum(w[same])) if n else level
            e = (n * seasonal + 2 * level) / (n + 2)
            phase = (t - pos) % per_day
            hour_mean = np.zeros(per_day)
            for h in np.unique(phase):
                m = phase == h
                hour_mean[h] = np.sum(w[m] * capped[m]) / np.sum(w[m])
            resid = capped - hour_mean[phase]
            var = float(np.sum(w * resid**2) / np.sum(w))
            phi = float(np.clip((var - level) / max(level, 1e-6) ** 2, 0.05, 5.0)) if level > 0 else 0.05
        score = (c[t] - e) / np.sqrt(e + phi * e * e + 1.0)
        enough_history = (t - hist_idx) * step_s >= min_history_s
        out.append((item_id, grid[t], int(c[t]), float(e), float(score),
                    bool(enough_history and score >= threshold and c[t] >= min_count)))
    return pd.DataFrame(out, columns=OUT_COLUMNS)

"""The vectorized trending scorer against a straightforward per-window loop (the definition in forecast.py)."""

import numpy as np
import pandas as pd
import pytest
from interlake.trending.forecast import score_item, score_items


def reference(counts, *, item_id, step_s, start, history_start, half_life_s, lookback_s, threshold, min_count,
              min_history_s):
    """One window at a time, exactly as the module docstring defines the score."""
    counts = counts.groupby("window_start", as_index=False)["interactions"].sum()
    history_start = history_start.floor(pd.Timedelta(seconds=step_s))
    first = min(counts.window_start.min(), history_start)
    grid = pd.date_range(first, counts.window_start.max(), freq=pd.Timedelta(seconds=step_s))
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
        ok = (t - hist_idx) * step_s >= min_history_s
        out.append((item_id, grid[t], int(c[t]), float(e), float(score), bool(ok and score >= threshold
                                                                              and c[t] >= min_count)))
    return out


@pytest.mark.parametrize("seed, lookback_s", [(1, 9 * 86400), (2, 9 * 86400), (3, 9 * 86400), (4, 1800)])
def test_vectorized_scores_equal_the_per_window_definition(seed, lookback_s):
    rng = np.random.default_rng(seed)
    t0 = pd.Timestamp("2026-09-01")
    hours = np.sort(rng.choice(24 * 30, 400, replace=False))  # gaps, partial look-back at the start
    counts = pd.DataFrame({"window_start": t0 + pd.to_timedelta(hours, unit="h"),
                           "interactions": rng.poisson(6, len(hours)) + (hours == hours[-5]) * 80})
    kw = dict(item_id="i1", step_s=3600, start=t0 + pd.Timedelta(days=1), history_start=t0 - pd.Timedelta(hours=3),
              half_life_s=3 * 86400, lookback_s=lookback_s, threshold=4.0, min_count=10, min_history_s=2 * 86400)
    got = score_item(counts, **kw)
    want = reference(counts, **kw)
    assert len(got) == len(want) > 300
    for row, ref in zip(got.itertuples(index=False), want, strict=True):
        assert (row.item_id, row.window_start, row.interactions, row.is_trending) == (ref[0], ref[1], ref[2], ref[5])
        assert row.expected == pytest.approx(ref[3], rel=1e-9, abs=1e-9)
        assert row.score == pytest.approx(ref[4], rel=1e-9, abs=1e-9)
    assert got.is_trending.any()  # the injected burst is flagged


@pytest.mark.parametrize("lookback_s", [3 * 86400, 1800])  # 1800: a look-back shorter than one window
def test_first_window_of_an_item_has_no_forecast(lookback_s):
    counts = pd.DataFrame({"window_start": [pd.Timestamp("2026-09-01 05:00")], "interactions": [30]})
    got = score_item(counts, item_id="new", step_s=3600, start=pd.Timestamp("2026-09-01"),
                     history_start=pd.Timestamp("2026-09-01 05:00"), half_life_s=86400, lookback_s=lookback_s,
                     threshold=4.0, min_count=10, min_history_s=0)
    assert got.to_dict("records") == [{"item_id": "new", "window_start": pd.Timestamp("2026-09-01 05:00"),
                                       "interactions": 30, "expected": 0.0, "score": 30 / np.sqrt(1.0),
                                       "is_trending": True}]


def test_many_items_in_one_call_equal_one_call_per_item():
    from interlake.trending.forecast import score_items

    rng = np.random.default_rng(5)
    t0 = pd.Timestamp("2026-09-01")
    frames, kw = [], dict(step_s=3600, history_start=t0, half_life_s=86400, lookback_s=3 * 86400, threshold=3.0,
                          min_count=5, min_history_s=86400)
    for item, start_day in (("b", 2), ("a", 1), ("c", 3)):
        hours = np.sort(rng.choice(24 * 5, 60, replace=False))
        frames.append(pd.DataFrame({"item_id": item, "window_start": t0 + pd.to_timedelta(hours, unit="h"),
                                    "interactions": rng.poisson(4, 60) + 1,
                                    "from_ts": t0 + pd.Timedelta(days=start_day)}))
    together = score_items(pd.concat(frames).sample(frac=1, random_state=1), **kw)
    one_by_one = pd.concat([score_item(f[["window_start", "interactions"]], item_id=f.item_id.iloc[0],
                                       start=f.from_ts.iloc[0], **kw) for f in frames])
    key = ["item_id", "window_start"]
    pd.testing.assert_frame_equal(together.sort_values(key).reset_index(drop=True),
                                  one_by_one.sort_values(key).reset_index(drop=True))
    assert set(together.item_id) == {"a", "b", "c"}


@pytest.mark.parametrize("exact_f32", [True, False])
def test_padded_quantile_equals_numpy_on_the_values_alone(exact_f32):
    """Rows of n_valid values after zeros (the grid's padding before an item's first window, as the scorer lays out
    each look-back, oldest first): the quantile of the values alone, sorted as float32 (integer counts) or float64."""
    from interlake.trending.forecast import _padded_quantile

    rng = np.random.default_rng(0)
    n_valid = rng.integers(0, 31, 200)
    values = np.zeros((200, 30))
    for row, n in enumerate(n_valid):
        counts = rng.poisson(5, n) * (rng.random(n) < 0.8)  # integers, zeros among them
        values[row, 30 - n:] = counts if exact_f32 else counts * rng.random(n)
    got = _padded_quantile(values, n_valid, 0.9, exact_f32)
    want = [np.quantile(values[row, 30 - n:], 0.9) if n else 0.0 for row, n in enumerate(n_valid)]
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)
    assert (n_valid == 0).any() and (n_valid == 30).any()


def test_many_items_in_one_call_equal_each_item_alone():
    """score_items scores all items' windows together (one grid array, chunks of windows across items): the same
    rows as scoring each item by itself, whatever its first window, look-back start or gaps."""
    rng = np.random.default_rng(7)
    t0 = pd.Timestamp("2026-09-01")
    frames, kw = [], dict(step_s=3600, history_start=t0 + pd.Timedelta(hours=5), half_life_s=2 * 86400,
                          lookback_s=6 * 86400, threshold=4.0, min_count=5, min_history_s=86400)
    for i in range(6):
        hours = np.sort(rng.choice(24 * 12, int(rng.integers(1, 150)), replace=False)) + int(rng.integers(0, 48))
        frames.append(pd.DataFrame({"item_id": f"i{i}", "window_start": t0 + pd.to_timedelta(hours, unit="h"),
                                    "interactions": rng.poisson(4, len(hours)) + 1,
                                    "from_ts": t0 + pd.Timedelta(hours=int(rng.integers(0, 200)))}))
    counts = pd.concat(frames, ignore_index=True).sample(frac=1.0, random_state=1)  # any row order
    together = score_items(counts, chunk_rows=7, **kw).sort_values(["item_id", "window_start"])
    alone = pd.concat([score_items(f, **kw) for f in frames]).sort_values(["item_id", "window_start"])
    assert len(together) > 50
    pd.testing.assert_frame_equal(together.reset_index(drop=True), alone.reset_index(drop=True))
    for f in frames:  # and each item alone equals the per-window definition
        item = f.item_id.iloc[0]
        want = reference(f[["window_start", "interactions"]], item_id=item, start=f.from_ts.iloc[0], **kw)
        got = together[together.item_id == item]
        assert [(r.window_start, r.interactions, r.is_trending) for r in got.itertuples()] == \
            [(w[1], w[2], w[5]) for w in want]
        np.testing.assert_allclose(got.score.to_numpy(), [w[4] for w in want], rtol=1e-9, atol=1e-9)


def test_rows_of_one_window_are_summed_and_carried_columns_with_them():
    """The stream hands the scorer one row per window and batch that counted it: split rows score like their sum,
    and a carried column (the weighted counts) comes back summed per scored window."""
    rng = np.random.default_rng(11)
    t0 = pd.Timestamp("2026-09-01")
    hours = np.sort(rng.choice(24 * 6, 100, replace=False))
    whole = pd.DataFrame({"item_id": "i", "window_start": t0 + pd.to_timedelta(hours, unit="h"),
                          "interactions": rng.poisson(8, 100) + 2, "from_ts": t0 + pd.Timedelta(days=2)})
    whole["weighted"] = whole.interactions * 1.5
    first = whole.assign(interactions=whole.interactions // 2, weighted=whole.weighted / 3)
    split = pd.concat([first, whole.assign(interactions=whole.interactions - first.interactions,
                                           weighted=whole.weighted - first.weighted)]).sample(frac=1, random_state=2)
    kw = dict(step_s=3600, history_start=t0, half_life_s=86400, lookback_s=3 * 86400, threshold=3.0, min_count=5,
              min_history_s=86400, carry=("weighted",))
    got = score_items(split, **kw).sort_values("window_start").reset_index(drop=True)
    want = score_items(whole, **kw).sort_values("window_start").reset_index(drop=True)
    pd.testing.assert_frame_equal(got, want, check_exact=False, rtol=1e-12)
    assert len(got) > 50
    np.testing.assert_allclose(got.weighted, got.interactions * 1.5, rtol=1e-12)

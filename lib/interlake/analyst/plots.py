"""The analyst views' charts, drawn on a matplotlib ``Axes``: one drawing for ``interlake report`` and the notebooks.

Each function takes the frame its view returns (``interlake.analyst.views``) and an ``Axes`` (a new figure's when
``ax`` is None) and returns the ``Axes``. A frame without rows (a lakehouse where the job that fills the table has not
run yet) draws no chart but the note saying which command fills it, so a notebook opened before the first training
shows ``No training run yet: run `interlake train`.`` instead of pandas' ``TypeError: no numeric data to plot``.

Example (a notebook):
    >>> plots.volume(views.daily_volume(spark, cfg, every_day=True))
"""

from __future__ import annotations

import pandas as pd

NO_INTERACTIONS = "No interactions yet: run `interlake ingest`."
NO_MODELS = "No training run yet: run `interlake train`."
NO_TRENDING = "No trending windows yet: run `interlake trending`."
NO_QUARANTINE = "No quarantined records."
NO_SIMILAR = "No similar items yet: run `interlake train`."


def _axes(ax, figsize: tuple[float, float], title: str, note: str):
    """``ax`` (a new figure's when None) titled; with a ``note`` (the frame has no rows), the note in its middle and
    no ticks."""
    if ax is None:
        import matplotlib.pyplot as plt

        ax = plt.subplots(figsize=figsize)[1]
    ax.set_title(title)
    if note:
        ax.text(0.5, 0.5, note, ha="center", va="center", transform=ax.transAxes, wrap=True)
        ax.set_xticks([])
        ax.set_yticks([])
    return ax


def volume(vol: pd.DataFrame, ax=None):
    """Interactions per day, a line per type in the vocabulary's order (``views.daily_volume``)."""
    ax = _axes(ax, (8, 3.2), "Interactions per day and type", NO_INTERACTIONS if vol.empty else "")
    if not vol.empty:
        (vol.pivot(index="event_date", columns="interaction_type", values="n")
         [list(dict.fromkeys(vol["interaction_type"]))].plot(ax=ax))  # the legend in the vocabulary's order
    return ax


def funnel(fun: pd.DataFrame, ax=None):
    """Users reaching each step of the vocabulary (``views.funnel``); a step nobody reached is a bar of 0."""
    ax = _axes(ax, (5, 3), "Funnel: users reaching each step", NO_INTERACTIONS if fun.empty else "")
    if not fun.empty:
        ax.bar(fun["step"].astype(str), fun["users"])
    return ax


def models(hist: pd.DataFrame, ax=None):
    """Each training run's nDCG against the popularity baseline's (``views.model_history``), at each run's k."""
    ax = _axes(ax, (6, 3), "Models over time vs the baseline", NO_MODELS if hist.empty else "")
    if not hist.empty:
        at = "@" + "/".join(str(k) for k in sorted(hist["k"].dropna().unique()))  # each run's own train.k
        ax.plot(hist["model_version"], hist["ndcg"], "o-", label=f"model nDCG{at}")
        ax.plot(hist["model_version"], hist["baseline_ndcg"], "s--", label=f"popularity nDCG{at}")
        ax.legend()
        ax.tick_params(axis="x", rotation=30)
    return ax


def trending(tl: pd.DataFrame, ax=None):
    """One item's counts per window against the forecast, its trending windows marked (``views.trending_timeline``)."""
    if tl.empty:
        return _axes(ax, (8, 3.2), "Trending timeline", NO_TRENDING)
    ax = _axes(ax, (8, 3.2), f"Trending timeline of {tl['item_id'].iloc[0]}", "")
    # markers: a line of one window (an item seen in one window so far) draws nothing; `expected` is missing in the
    # quiet windows, where its line breaks
    ax.plot(tl["window_start"], tl["interactions"], ".-" if len(tl) <= 72 else "-", label="interactions")
    ax.plot(tl["window_start"], tl["expected"].astype(float), ".-", label="expected")
    surge = tl[tl["is_trending"].astype(bool)]
    ax.scatter(surge["window_start"], surge["interactions"], color="red", zorder=3, label="trending")
    if len(tl) == 1:  # matplotlib would show four years around one point
        at = pd.Timestamp(tl["window_start"].iloc[0])
        ax.set_xlim(at - pd.Timedelta(hours=12), at + pd.Timedelta(hours=12))
    ax.legend()
    return ax

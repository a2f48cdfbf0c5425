"""``interlake report``: a static HTML page with plots of the analyst views, to look at rather than read."""

from __future__ import annotations

import html
import os
from datetime import UTC, datetime

from pyspark.sql import SparkSession

from interlake.analyst import views
from interlake.config import Config


def _save(fig, folder: str, name: str) -> str:
    fig.tight_layout()
    fig.savefig(os.path.join(folder, name), dpi=90)
    import matplotlib.pyplot as plt

    plt.close(fig)
    return name


def write_report(spark: SparkSession, cfg: Config, out: str) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    os.makedirs(out, exist_ok=True)
    images, tables = [], []

    vol = views.daily_volume(spark, cfg, every_day=True)  # a day without data as 0, not a line across it
    fig, ax = plt.subplots(figsize=(8, 3.2))
    if len(vol):
        (vol.pivot(index="event_date", columns="interaction_type", values="n")
         [list(dict.fromkeys(vol["interaction_type"]))].plot(ax=ax))  # the legend in the vocabulary's order
    ax.set_title("Interactions per day and type")
    images.append(("Volume per day", _save(fig, out, "volume.png"),
                   "" if len(vol) else "No interactions yet: run `interlake ingest`."))

    fun = views.funnel(spark, cfg)
    fig, ax = plt.subplots(figsize=(5, 3))
    ax.bar(fun["step"].astype(str), fun["users"])
    ax.set_title("Funnel: users reaching each step")
    images.append(("Funnel", _save(fig, out, "funnel.png"), ""))

    hist = views.model_history(spark, cfg)
    fig, ax = plt.subplots(figsize=(6, 3))
    if len(hist):
        at = "@" + "/".join(str(k) for k in sorted(hist["k"].dropna().unique()))  # each run's own train.k
        ax.plot(hist["model_version"], hist["ndcg"], "o-", label=f"model nDCG{at}")
        ax.plot(hist["model_version"], hist["baseline_ndcg"], "s--", label=f"popularity nDCG{at}")
        ax.legend()
        ax.tick_params(axis="x", rotation=30)
    ax.set_title("Models over time vs the baseline")
    images.append(("Models", _save(fig, out, "models.png"),
                   "" if len(hist) else "No training run yet: run `interlake train`."))

    tl = views.trending_timeline(spark, cfg, every_window=True)  # quiet windows as 0, not a line across them
    fig, ax = plt.subplots(figsize=(8, 3.2))
    if len(tl):
        # markers: a line of one window (an item seen in one window so far) draws nothing; `expected` is missing in
        # the quiet windows, where its line breaks
        ax.plot(tl["window_start"], tl["interactions"], ".-" if len(tl) <= 72 else "-", label="interactions")
        ax.plot(tl["window_start"], tl["expected"], ".-", label="expected")
        surge = tl[tl["is_trending"]]
        ax.scatter(surge["window_start"], surge["interactions"], color="red", zorder=3, label="trending")
        if len(tl) == 1:  # matplotlib would show four years around one point
            import pandas as pd

            at = pd.Timestamp(tl["window_start"].iloc[0])
            ax.set_xlim(at - pd.Timedelta(hours=12), at + pd.Timedelta(hours=12))
        ax.legend()
        ax.set_title(f"Trending timeline of {tl['item_id'].iloc[0]}")
    images.append(("Trending", _save(fig, out, "trending.png"),
                   "" if len(tl) else "No trending windows yet: run `interlake trending`."))

    reasons = views.quarantine_reasons(spark, cfg)
    sims = views.similar_examples(spark, cfg)
    tables.append(("Quarantine reasons", reasons.head(15), "No quarantined records."))
    tables.append(("Similar items (examples)", sims, "No similar items yet: run `interlake train`."))
    generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    body = "".join(f"<h2>{html.escape(t)}</h2>" + (f"<p class='empty'>{html.escape(note)}</p>" if note else "")
                   + f"<img src='{src}' alt='{html.escape(t)}'>" for t, src, note in images)
    body += "".join(f"<h2>{html.escape(t)}</h2>" + (df.to_html(index=False, border=0) if len(df) else
                                                     f"<p class='empty'>{html.escape(note)}</p>")
                    for t, df, note in tables)
    page = f"""<!doctype html><html><head><meta charset="utf-8"><title>interlake report</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:60em}} img{{max-width:100%}}
td,th{{padding:2px 8px;text-align:left}}</style></head>
<body data-images="pending"><h1>interlake report</h1><p>lakehouse {html.escape(cfg.lakehouse)}, {generated}</p>{body}
<script>window.addEventListener("load", function () {{
  var imgs = Array.from(document.images), ok = imgs.filter(function (i) {{ return i.complete && i.naturalWidth > 0; }});
  document.body.setAttribute("data-images", ok.length + "/" + imgs.length);
}});</script></body></html>"""
    path = os.path.join(out, "index.html")
    with open(path, "w") as fh:
        fh.write(page)
    return os.path.abspath(path)

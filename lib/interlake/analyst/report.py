"""``interlake report``: a static HTML page with plots of the analyst views, to look at rather than read."""

from __future__ import annotations

import html
import os
from datetime import UTC, datetime

from pyspark.sql import SparkSession

from interlake.analyst import plots, views
from interlake.config import Config


def _save(fig, folder: str, name: str) -> str:
    fig.tight_layout()
    fig.savefig(os.path.join(folder, name), dpi=90)
    import matplotlib.pyplot as plt

    plt.close(fig)
    return name


def write_report(spark: SparkSession, cfg: Config, out: str) -> str:
    import matplotlib

    matplotlib.use("Agg")  # no display: the charts are files
    os.makedirs(out, exist_ok=True)
    images, tables = [], []

    vol = views.daily_volume(spark, cfg, every_day=True)  # a day without data as 0, not a line across it
    images.append(("Volume per day", _save(plots.volume(vol).figure, out, "volume.png"),
                   "" if len(vol) else plots.NO_INTERACTIONS))

    fun = views.funnel(spark, cfg)
    images.append(("Funnel", _save(plots.funnel(fun).figure, out, "funnel.png"), ""))

    hist = views.model_history(spark, cfg)
    images.append(("Models", _save(plots.models(hist).figure, out, "models.png"), "" if len(hist) else plots.NO_MODELS))

    tl = views.trending_timeline(spark, cfg, every_window=True)  # quiet windows as 0, not a line across them
    images.append(("Trending", _save(plots.trending(tl).figure, out, "trending.png"),
                   "" if len(tl) else plots.NO_TRENDING))

    reasons = views.quarantine_reasons(spark, cfg)
    sims = views.similar_examples(spark, cfg)
    tables.append(("Quarantine reasons", reasons.head(15), plots.NO_QUARANTINE))
    tables.append(("Similar items (examples)", sims, plots.NO_SIMILAR))
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

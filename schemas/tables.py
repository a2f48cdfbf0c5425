"""Delta table names and schemas (DDL strings). The interaction table is the enforced contract."""

from pyspark.sql.types import StructType

INTERACTIONS = "interactions"
QUARANTINE = "interactions_quarantine"
LEDGER = "ingest_ledger"
ITEM_SIMILARITY = "item_similarity"
USER_RECOMMENDATIONS = "user_recommendations"
ITEM_FACTORS = "item_factors"
MODEL_RUNS = "model_runs"
TRENDING_ITEMS = "trending_items"
ITEM_POPULARITY = "item_popularity"
STREAM_PROGRESS = "stream_progress"

# event_date is GENERATED ALWAYS AS (CAST(event_ts AS DATE)) and the partition column; every column NOT NULL.
INTERACTIONS_COLUMNS = (
    ("event_id", "STRING"),
    ("user_id", "STRING"),
    ("item_id", "STRING"),
    ("interaction_type", "STRING"),
    ("event_ts", "TIMESTAMP"),
    ("event_date", "DATE"),
    ("source", "STRING"),
    ("ingested_at", "TIMESTAMP"),
)
INTERACTIONS_GENERATED = {"event_date": "CAST(event_ts AS DATE)"}
INTERACTIONS_PARTITION = ("event_date",)
VOCABULARY_CONSTRAINT = "interaction_type_in_vocabulary"

QUARANTINE_DDL = "source STRING, file STRING, raw STRING, reasons ARRAY<STRING>, run_id STRING, ingested_at TIMESTAMP"

# `status` extends the columns: 'pending' while a run is writing, 'committed' once every table has it.
LEDGER_DDL = (
    "source STRING, file STRING, file_size BIGINT, file_modified TIMESTAMP, rows_read BIGINT, rows_accepted BIGINT, "
    "rows_duplicate BIGINT, rows_quarantined BIGINT, run_id STRING, ingested_at TIMESTAMP, status STRING"
)


def interactions_schema() -> StructType:
    return StructType.fromDDL(", ".join(f"{n} {t} NOT NULL" for n, t in INTERACTIONS_COLUMNS))

ITEM_SIMILARITY_DDL = ("item_id STRING, similar_item_id STRING, score DOUBLE, rank INT, co_users BIGINT, "
                       "model_version STRING")
USER_RECOMMENDATIONS_DDL = "user_id STRING, item_id STRING, score DOUBLE, rank INT, model_version STRING"
ITEM_FACTORS_DDL = "item_id STRING, factors ARRAY<FLOAT>, model_version STRING"
MODEL_RUNS_DDL = ("model_version STRING, trained_at TIMESTAMP, data_version BIGINT, params STRING, "
                  "metrics MAP<STRING, DOUBLE>, artifact_path STRING, published BOOLEAN, reason STRING")

TRENDING_BATCH_COUNTS = "trending_batch_counts"
# weighted_interactions extends the columns: type-weighted count, used for popularity
TRENDING_ITEMS_DDL = ("window_start TIMESTAMP, window_end TIMESTAMP, item_id STRING, interactions BIGINT, "
                      "expected DOUBLE, score DOUBLE, is_trending BOOLEAN, is_final BOOLEAN, updated_at TIMESTAMP, "
                      "weighted_interactions DOUBLE")
# window_date (GENERATED ALWAYS AS CAST(window_start AS DATE)) extends them too: the partition column, so each
# micro-batch's MERGE rewrites only the days it touches, not the whole table
TRENDING_ITEMS_GENERATED = {"window_date": ("DATE", "CAST(window_start AS DATE)")}
TRENDING_ITEMS_PARTITION = ("window_date",)
TRENDING_BATCH_COUNTS_DDL = ("window_start TIMESTAMP, window_end TIMESTAMP, item_id STRING, batch_id BIGINT, "
                             "interactions BIGINT, weighted DOUBLE")
ITEM_POPULARITY_DDL = "item_id STRING, interactions BIGINT, weighted_score DOUBLE, rank INT, as_of TIMESTAMP"
STREAM_PROGRESS_DDL = ("batch_id BIGINT, input_rows BIGINT, accepted BIGINT, quarantined BIGINT, dropped_late BIGINT, "
                       "min_event_ts TIMESTAMP, max_event_ts TIMESTAMP, watermark TIMESTAMP, processing_ms BIGINT, "
                       "updated_at TIMESTAMP")

# What each table and column means, written into the Delta schema when a job creates the table: `DESCRIBE
# interactions` and a catalog browser (Unity Catalog, the Hive metastore) show them next to the columns, and delta-rs
# keeps them in the schema's metadata. Tables created before these existed carry none (a comment added later would
# be a metadata commit that conflicts with every concurrent writer).
DESCRIPTIONS: dict[str, tuple[str, dict[str, str]]] = {
    INTERACTIONS: ("Every accepted interaction, once: who (user_id) did what (interaction_type) on what (item_id), and "
                   "when (event_ts). Written by interlake ingest, an insert-only MERGE on event_id.", {
        "event_id": "SHA-256 of user_id, item_id, interaction_type and event_ts in epoch milliseconds: the same "
                    "interaction from any source has the same id",
        "user_id": "the user, as the source wrote it, white space trimmed",
        "item_id": "the item (product, content), as the source wrote it, white space trimmed",
        "interaction_type": "a name of the configured vocabulary (interaction_types), after the source's "
                            "interaction_type_map",
        "event_ts": "when the interaction happened, UTC, millisecond precision",
        "event_date": "the UTC date of event_ts (generated; the partition column)",
        "source": "the configured source whose copy of the event was stored",
        "ingested_at": "when the ingest run that stored it started, UTC",
    }),
    QUARANTINE: ("Records that ingestion or the trending stream did not accept, with every reason: nothing is "
                 "dropped.", {
        "source": "the configured source (or the trending stream's queue source)",
        "file": "the file the record came from",
        "raw": ("the record as it came: a JSON line or record, a queue record, a CSV line that did not parse; a CSV or "
                "Parquet row that parsed as JSON keyed by its column names"),
        "reasons": "every reason the record was not accepted, in words",
        "run_id": "the ingest run, or trending-<batch id>, that quarantined it",
        "ingested_at": "when that ingest run started, or the trending micro-batch wrote it, UTC",
    }),
    LEDGER: ("Every file an ingest run took: rows_read = rows_accepted + rows_duplicate + rows_quarantined. A file "
             "listed here with the same size and modification time is not taken again.", {
        "source": "the configured source",
        "file": "the file's URI, as Spark lists it",
        "file_size": "its size in bytes when taken",
        "file_modified": "its modification time when taken, UTC (a changed file is taken again)",
        "rows_read": "records read from the file",
        "rows_accepted": "new events this file's records stored in interactions",
        "rows_duplicate": "valid records whose event was stored already, or came twice in the run",
        "rows_quarantined": "records written to interactions_quarantine",
        "run_id": "the ingest run that took the file",
        "ingested_at": "when that run started, UTC",
        "status": "pending while the run writes, committed once every table has its rows",
    }),
    ITEM_SIMILARITY: ("You may also like: each item's most similar items by the published model's factors "
                      "(train: similarity.k per item).", {
        "item_id": "the item",
        "similar_item_id": "an item similar to it",
        "score": "cosine similarity of the two items' ALS factors",
        "rank": "1 = the most similar",
        "co_users": "users who interacted with both items",
        "model_version": "the model_runs row that wrote it",
    }),
    USER_RECOMMENDATIONS: ("Each user's top items from the published model; items the user interacted with are "
                           "left out.", {
        "user_id": "the user",
        "item_id": "a recommended item",
        "score": "the model's predicted preference (ALS, implicit feedback)",
        "rank": "1 = the first recommendation",
        "model_version": "the model_runs row that wrote it",
    }),
    ITEM_FACTORS: ("The published model's item factors (ALS), L2-normalized copies of which give item_similarity.", {
        "item_id": "the item",
        "factors": "the item's latent factor vector (train.rank values)",
        "model_version": "the model_runs row that wrote it",
    }),
    MODEL_RUNS: ("Every training run, published or not: data version, parameters, metrics and the gate's reason, so "
                 "models compare over time.", {
        "model_version": "the run's id; its artifacts are under artifact_path",
        "trained_at": "when the run started, UTC",
        "data_version": "the interactions table version it trained on (train --data-version reproduces it)",
        "params": "the run's parameters as JSON",
        "metrics": "holdout metrics at train.k of the model and of the popularity baseline (baseline_*), and the "
                   "LSH recall against exact similarity",
        "artifact_path": "the folder of the saved ALS and LSH models, indexes and metadata.json",
        "published": "whether the gold tables switched to this model",
        "reason": "why it was published or not (the promotion gate)",
    }),
    TRENDING_ITEMS: ("Interactions per (event-time window, item) from the trending stream, with the item's forecast "
                     "and surge score; updated while a window is open.", {
        "window_start": "the window's start, UTC",
        "window_end": "the window's end, UTC",
        "item_id": "the item",
        "interactions": "interactions in the window",
        "expected": "the forecast for this window from the item's own history (daily cycle, surges capped)",
        "score": "how far interactions is above expected, in the item's own spread (negative binomial z-score)",
        "is_trending": "score >= trending.threshold, interactions >= trending.min_count and trending.min_history "
                       "of stream history",
        "is_final": "the window ended before the watermark: no later event changes it",
        "updated_at": "when a micro-batch last wrote the row, UTC",
        "weighted_interactions": "interactions weighted by type (interaction_types.<type>.weight)",
        "window_date": "the UTC date of window_start (generated; the partition column)",
    }),
    TRENDING_BATCH_COUNTS: ("The trending stream's exactly-once ledger: each micro-batch's counts per (window, item); "
                            "a replayed batch rewrites its own rows.", {
        "window_start": "the window's start, UTC",
        "window_end": "the window's end, UTC",
        "item_id": "the item",
        "batch_id": "the micro-batch that counted them",
        "interactions": "interactions that micro-batch counted",
        "weighted": "the same, weighted by type",
    }),
    ITEM_POPULARITY: ("Items ranked by type-weighted interactions over the last trending.popularity_period, "
                      "rewritten by every micro-batch.", {
        "item_id": "the item",
        "interactions": "interactions in the period",
        "weighted_score": "interactions weighted by type (interaction_types.<type>.weight)",
        "rank": "1 = the most popular",
        "as_of": "the end of the period: the latest event time the stream has seen, UTC",
    }),
    STREAM_PROGRESS: ("One row per micro-batch of the trending stream.", {
        "batch_id": "the micro-batch",
        "input_rows": "records the micro-batch read",
        "accepted": "valid records counted (neither quarantined nor too late)",
        "quarantined": "records written to interactions_quarantine",
        "dropped_late": "events older than the watermark: not counted",
        "min_event_ts": "the earliest event time among the micro-batch's valid records, UTC",
        "max_event_ts": "the latest event time among the micro-batch's valid records, UTC",
        "watermark": "the watermark after the micro-batch (the latest event time seen minus trending.watermark): "
                     "later micro-batches drop events older than it, UTC",
        "processing_ms": "the micro-batch's processing time in milliseconds",
        "updated_at": "when it ended, UTC",
    }),
}

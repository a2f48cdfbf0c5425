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

"""Column names, defined once. Transforms take them as keyword defaults (as recommenders does)."""

EVENT_ID = "event_id"
USER_ID = "user_id"
ITEM_ID = "item_id"
INTERACTION_TYPE = "interaction_type"
EVENT_TS = "event_ts"
EVENT_DATE = "event_date"
SOURCE = "source"
INGESTED_AT = "ingested_at"

# The four standard values every source maps to (config `fields:` keys).
STANDARD_FIELDS = ("user_id", "item_id", "interaction_type", "timestamp")

# Lineage / bookkeeping
FILE = "file"
RAW = "raw"
REASONS = "reasons"
RUN_ID = "run_id"

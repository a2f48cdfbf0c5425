"""The one session builder: a config's Spark settings on a session that is already running."""

from interlake.config import SparkSettings
from interlake.session import build_session

from tests.conftest import TEST_SPARK_CONF


def test_runtime_settings_apply_to_a_running_session_and_static_ones_do_not_fail_it(spark, tmp_path, caplog):
    """A notebook or a job calling the builder twice: runtime SQL settings change the running session; a static one
    (fixed when the session started, like the codegen cache size) cannot: a warning says so, not an error."""
    before = spark.conf.get("spark.sql.codegen.cache.maxEntries")
    conf = {**TEST_SPARK_CONF, "spark.sql.shuffle.partitions": "3", "spark.sql.codegen.cache.maxEntries": "999"}
    try:
        same = build_session(SparkSettings(master="local[2]", conf=conf), str(tmp_path / "lake"), register=False)
        assert same is spark
        assert spark.conf.get("spark.sql.shuffle.partitions") == "3"
        assert spark.conf.get("spark.sql.codegen.cache.maxEntries") == before
        assert [r.getMessage() for r in caplog.records if r.levelname == "WARNING"] == [
            f"spark.conf spark.sql.codegen.cache.maxEntries=999 not applied: it is a static setting and this "
            f"process's session already runs with {before}; set it where the session is built (spark-submit --conf, "
            f"the cluster)"]
    finally:
        spark.conf.set("spark.sql.shuffle.partitions", TEST_SPARK_CONF["spark.sql.shuffle.partitions"])

"""One Delta-enabled SparkSession for the whole run, built by interlake's own builder (local[2], 2 shuffle
partitions, UI off). Tables live under tmp_path; configs are built per test with ``make_config``."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from interlake.config import SparkSettings, parse_config
from interlake.session import build_session

ROOT = Path(__file__).resolve().parents[1]
TEST_SPARK_CONF = {
    "spark.sql.shuffle.partitions": "2",
    "spark.default.parallelism": "2",
    "spark.sql.catalogImplementation": "in-memory",
    "spark.driver.memory": "3g",
    "spark.databricks.delta.snapshotPartitions": "2",
}


@pytest.fixture(scope="session")
def spark(tmp_path_factory):
    lake = tmp_path_factory.mktemp("session-lake")
    session = build_session(SparkSettings(master="local[2]", conf=TEST_SPARK_CONF), str(lake), register=False)
    yield session
    session.stop()


BASE = {
    "database": "interlake",
    "spark": {"master": "local[2]", "conf": TEST_SPARK_CONF},
    "interaction_types": {"view": {"weight": 1.0}, "add_to_cart": {"weight": 4.0}, "purchase": {"weight": 8.0}},
    "sources": {},
}


@pytest.fixture
def make_config(tmp_path):
    """``make_config(sources={...}, train={...})`` -> a validated Config whose lakehouse is under tmp_path."""

    def _make(**sections):
        doc = copy.deepcopy(BASE)
        doc["lakehouse"] = str(tmp_path / "lake")
        doc.update(copy.deepcopy(sections))
        return parse_config(doc, "test.yaml")

    return _make


@pytest.fixture
def write_yaml(tmp_path):
    def _write(doc: dict, name: str = "conf.yaml") -> str:
        path = tmp_path / name
        path.write_text(yaml.safe_dump(doc))
        return str(path)

    return _write

"""Write the class archive the tests' new JVMs start from (``conftest.CLASS_ARCHIVE``), run by a session fixture as
``python -m tests.jvm_classes WORK ARCHIVE``.

One process ingests a small generated sample, queries it and runs one trending batch, as the CLI processes of the tests
do, so its JVM loads the classes they load (Spark's, Delta's, Hadoop's, ...); when it exits, the JVM writes them to
ARCHIVE (``-XX:ArchiveClassesAtExit``, the JDK's dynamic class-data-sharing archive). A JVM given the archive maps
those classes instead of reading, parsing and verifying them again: about 4-6 s less per process (bench/RESULTS.md,
session 58). A JVM that cannot use it (another JDK, another class path) starts as it did without it."""

from __future__ import annotations

import copy
import sys
from pathlib import Path

import yaml
from interlake.cli import main
from interlake.sample.generator import generate
from pyspark import SparkContext

from tests.conftest import BASE, PROCESS_JVM_WITHOUT_ARCHIVE, ROOT

root, archive = Path(sys.argv[1]), sys.argv[2]
generate(str(root / "sample"), users=40, items=20, days=2, seed=1, start="2026-09-01")
local = yaml.safe_load((ROOT / "conf/local.yaml").read_text())
doc = {**copy.deepcopy(BASE), "lakehouse": str(root / "lake"), "sources": local["sources"],
       "trending": {"source": "pixel_queue"}}
# the code cache of the JIT's first tier alone (48 MB) fills in this process, which runs three commands
doc["spark"]["conf"]["spark.driver.extraJavaOptions"] = (
    f"{PROCESS_JVM_WITHOUT_ARCHIVE} -XX:ReservedCodeCacheSize=240m -XX:ArchiveClassesAtExit={archive}")
for source in doc["sources"].values():
    source["path"] = str(root / "sample" / source["path"].rsplit("/", 1)[-1])
conf = root / "conf.yaml"
conf.write_text(yaml.safe_dump(doc))
for command in (["ingest"], ["sql", "SELECT count(*) FROM interactions"], ["trending", "--once"]):
    if main([*command, "--conf", str(conf)]) != 0:
        raise SystemExit(f"interlake {command[0]} failed while loading the classes to archive")
# the JVM exits when its standard input closes (PySpark's gateway); it writes the archive then, so wait for it
gateway = SparkContext._gateway.proc
gateway.stdin.close()
raise SystemExit(gateway.wait(timeout=600))

"""Where the Delta jars of the local default live, and how set-up prunes what pyspark already ships.

`make setup` copies Delta's runtime closure from Maven Central into ``.spark-jars/``; a jar whose artifact
pyspark already ships (scala-library, hadoop, jackson, parquet ...) is removed so one version of each class
is on the classpath.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

from interlake.errors import SetupError

_VERSION = re.compile(r"-\d[\w.]*(-[\w.]+)*$")


def artifact_of(jar_name: str) -> str:
    """``jackson-core-2.13.5.jar`` -> ``jackson-core``."""
    return _VERSION.sub("", jar_name.removesuffix(".jar"))


def pyspark_jars_dir() -> Path:
    import pyspark

    return Path(pyspark.__file__).parent / "jars"


def default_jars_dir() -> Path:
    """INTERLAKE_JARS_DIR, else ``.spark-jars`` at the root of the source checkout."""
    if env := os.environ.get("INTERLAKE_JARS_DIR"):
        return Path(env)
    return Path(__file__).resolve().parents[2] / ".spark-jars"


def local_jars(jars_dir: Path | None = None) -> list[str]:
    """The jar paths a local session passes with ``spark.jars``; a clear error when set-up has not run."""
    folder = jars_dir or default_jars_dir()
    jars = sorted(str(p) for p in folder.glob("*.jar"))
    if not any("delta-spark" in Path(j).name for j in jars):
        raise SetupError(
            f"Delta jars not found in {folder}: run `make setup` (or set INTERLAKE_JARS_DIR to a folder holding "
            "delta-spark_4.1_2.13-4.4.0.jar and its dependencies)"
        )
    return jars


def prune(folder: Path) -> list[str]:
    shipped = {artifact_of(p.name) for p in pyspark_jars_dir().glob("*.jar")}
    removed = []
    for jar in sorted(folder.glob("*.jar")):
        if artifact_of(jar.name) in shipped:
            jar.unlink()
            removed.append(jar.name)
    return removed


if __name__ == "__main__":  # python -m interlake.jars prune DIR
    if len(sys.argv) != 3 or sys.argv[1] != "prune":
        sys.exit("usage: python -m interlake.jars prune DIR")
    gone = prune(Path(sys.argv[2]))
    kept = sorted(p.name for p in Path(sys.argv[2]).glob("*.jar"))
    print(f"spark jars: kept {len(kept)} ({', '.join(kept)}); pruned {len(gone)} that pyspark ships")

"""Batch ingestion of every configured source into the Delta table `interactions`.

    spark-submit --py-files dist/interlake-0.1.0-py3-none-any.whl \
        --packages io.delta:delta-spark_4.1_2.13:4.4.0 jobs/ingest.py --conf conf/cluster.yaml \
        [--source NAME ...] [--dry-run] [--retake-quarantined]
"""

import sys

from interlake.cli import main

if __name__ == "__main__":
    sys.exit(main(["ingest", *sys.argv[1:]]))

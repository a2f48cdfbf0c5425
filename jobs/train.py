"""Train ALS + LSH item similarity, evaluate against popularity, publish if the promotion gate passes.

    spark-submit --py-files dist/interlake-0.1.0-py3-none-any.whl \
        --packages io.delta:delta-spark_4.1_2.13:4.4.0 \
        jobs/train.py --conf conf/cluster.yaml [--data-version N] [--force]
"""

import sys

from interlake.cli import main

if __name__ == "__main__":
    sys.exit(main(["train", *sys.argv[1:]]))

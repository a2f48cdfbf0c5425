"""The trending Structured Streaming job (continuous, or --once to process what is there and stop).

    spark-submit --py-files dist/interlake-0.1.0-py3-none-any.whl \
        --packages io.delta:delta-spark_4.1_2.13:4.4.0 jobs/trending.py --conf conf/cluster.yaml [--once]
"""

import sys

from interlake.cli import main

if __name__ == "__main__":
    sys.exit(main(["trending", *sys.argv[1:]]))

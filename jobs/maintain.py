"""Table maintenance: OPTIMIZE / Z-order, VACUUM with the configured retention, quarantine and ledger trimming.

    spark-submit --py-files dist/interlake-0.1.0-py3-none-any.whl \
        --packages io.delta:delta-spark_4.1_2.13:4.4.0 jobs/maintain.py --conf conf/cluster.yaml [--force]
"""

import sys

from interlake.cli import main

if __name__ == "__main__":
    sys.exit(main(["maintain", *sys.argv[1:]]))

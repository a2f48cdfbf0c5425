"""interlake: Spark + Delta Lake jobs for user-content interaction data.

The library lives in lib/interlake; schemas/ and conf/ are shipped inside the wheel as the
``interlake.schemas`` and ``interlake.conf`` packages, so a job run from a wheel finds them without
depending on the current directory.
"""

from setuptools import find_packages, setup

VERSION = "0.1.0"

RUNTIME = [
    "pyspark==4.1.1",
    "delta-spark==4.4.0",
    "great-expectations[spark]==1.24.1",
    "pyarrow>=15",
    "pandas>=2.2,<3",
    "pyyaml>=6",
    "deltalake>=1.1",
]

setup(
    name="interlake",
    version=VERSION,
    description="Spark + Delta Lake jobs that turn user-content interactions into intelligence",
    python_requires=">=3.11,<3.12",
    package_dir={
        "interlake": "lib/interlake",
        "interlake.schemas": "schemas",
        "interlake.conf": "conf",
    },
    packages=["interlake", *(f"interlake.{p}" for p in find_packages("lib/interlake")),
              "interlake.schemas", "interlake.conf"],
    package_data={
        "interlake.schemas": ["expectations/*.json"],
        "interlake.conf": ["*.yaml", "*.properties"],
    },
    install_requires=RUNTIME,
    extras_require={
        "test": ["pytest>=8", "chispa>=0.10", "duckdb>=1.1", "nbclient>=0.10", "nbformat>=5", "ipykernel>=6",
                 "matplotlib>=3.8", "ruff>=0.6"],
        "bench": ["implicit>=0.7"],
        "report": ["matplotlib>=3.8"],
        "analyst": ["duckdb>=1.1", "matplotlib>=3.8", "jupyterlab>=4"],
    },
    entry_points={"console_scripts": ["interlake = interlake.cli:main"]},
)

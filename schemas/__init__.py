"""The interaction schema and every table's columns, in one place. Imported everywhere as
``from interlake.schemas import columns as C`` / ``tables as T``; expectation suites live in ``expectations/``."""

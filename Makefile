# Two commands on a fresh machine: `make demo` and `make test`. Everything else is set-up they run themselves.
# Set-up is idempotent: the venv is rebuilt only when setup.py changes, the jars only when pom.xml changes.
PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
JARS   := .spark-jars
CONF   ?= conf/local.yaml
SAMPLE ?= data/sample

.PHONY: setup chromium demo test lint bench dist clean

setup: $(VENV)/.installed $(JARS)/.resolved chromium

# The report test renders the HTML report in headless Chromium (Debian's package), installed where missing.
chromium:
	@command -v chromium >/dev/null 2>&1 || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null)

$(VENV)/.installed: setup.py
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test,report]'
	touch $@

# Delta and its runtime closure from Maven Central, minus every jar pyspark already ships.
$(JARS)/.resolved: pom.xml $(VENV)/.installed
	rm -rf $(JARS).tmp && mkdir -p $(JARS).tmp
	mvn -q -B -f pom.xml dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory=$(CURDIR)/$(JARS).tmp
	$(PY) -m interlake.jars prune $(JARS).tmp
	rm -rf $(JARS) && mv $(JARS).tmp $(JARS) && touch $@

demo: setup
	$(VENV)/bin/interlake generate --out $(SAMPLE) --users 2000 --items 400 --days 14 --seed 7
	$(VENV)/bin/interlake ingest --conf $(CONF)
	@echo "re-running ingest: nothing is new, so it answers from the ledger without starting Spark"
	$(VENV)/bin/interlake ingest --conf $(CONF)
	$(VENV)/bin/interlake train --conf $(CONF)
	$(VENV)/bin/interlake trending --conf $(CONF) --once
	$(VENV)/bin/interlake tables --conf $(CONF)
	@echo "you may also like: each item's 3 most similar, with both categories (DuckDB, no Spark):"
	$(VENV)/bin/interlake sql --conf $(CONF) --engine duckdb "SELECT s.item_id, s.rank, s.similar_item_id, \
	  round(s.score, 3) AS score, a.category, b.category AS similar_category FROM item_similarity s \
	  JOIN read_csv('$(SAMPLE)/items.csv') a ON a.item_id = s.item_id \
	  JOIN read_csv('$(SAMPLE)/items.csv') b ON b.item_id = s.similar_item_id \
	  WHERE s.rank <= 3 ORDER BY s.item_id, s.rank LIMIT 9"
	$(VENV)/bin/interlake report --conf $(CONF) --out report

test: setup
	$(PY) -m pytest -q --durations=25 tests

lint: setup
	$(VENV)/bin/ruff check lib jobs tests bench schemas

bench: setup
	$(PY) bench/ingest.py

dist: setup
	$(PY) -m pip wheel -q --no-deps -w dist .

clean:
	rm -rf lakehouse data report dist build spark-warehouse metastore_db derby.log

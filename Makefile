# Two entry points, both from a fresh clone (needs Python 3.11+, Java 17, Maven):
#   make run   - venv + local Neo4j (unless NEO4J_URI is set) + the daemon on examples/
#   make test  - venv + the whole test suite (starts its own throw-away Neo4j)
PYTHON ?= python3.11
VENV := .venv
STAMP := $(VENV)/.installed

.PHONY: run test lint neo4j-start neo4j-stop neo4j-status bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e '.[test]'
	touch $(STAMP)

venv: $(STAMP)

# The local Neo4j also serves Neo4j Browser; its address is printed before the daemon starts.
run: $(STAMP)
	@if [ -z "$$NEO4J_URI" ]; then \
	  eval "$$($(VENV)/bin/python scripts/neo4j_local.py start --name dev --http)" && \
	  exec $(VENV)/bin/lineaged run --realtime --config config.toml; \
	else \
	  exec $(VENV)/bin/lineaged run --realtime --config config.toml; \
	fi

test: $(STAMP)
	$(VENV)/bin/ruff check lineaged tests scripts
	$(VENV)/bin/ruff format --check lineaged tests scripts
	$(VENV)/bin/python scripts/neo4j_local.py install
	bash scripts/ensure_chromium.sh
	$(VENV)/bin/pytest -q

lint: $(STAMP)
	$(VENV)/bin/ruff check lineaged tests scripts
	$(VENV)/bin/ruff format --check lineaged tests scripts

neo4j-start: $(STAMP)
	@$(VENV)/bin/python scripts/neo4j_local.py start --name dev --http

neo4j-stop:
	@$(PYTHON) scripts/neo4j_local.py stop --name dev

neo4j-status:
	@$(PYTHON) scripts/neo4j_local.py status --name dev

bench: $(STAMP)
	for b in tests/bench/bench_*.py; do $(VENV)/bin/python $$b || exit 1; done

clean:
	rm -rf $(VENV) .lineaged .pytest_cache .ruff_cache

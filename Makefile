# One command to run the service, one to run the tests; both set up the virtualenv first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: run test lint bench phone clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

run: $(BIN)/.installed
	$(BIN)/sms-ktp serve

phone: $(BIN)/.installed
	$(BIN)/sms-ktp simulate --phone $${PHONE:-081234567890}

# ruff, then the layers and boundaries of pyproject's [tool.importlinter] contracts.
# Two pytest workers (the machine's two cores; much of the suite waits on servers and
# processes); each test file stays on one worker, with its module-wide fixtures.
# PYTEST_STATUS=<file>: pytest's own exit status is written there, since make exits 2 whatever
# failed (.ci/run reads it: 5 is "no tests collected").
test: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/lint-imports --no-cache
	$(BIN)/python -m pytest -n 2 --dist loadfile --durations=25; status=$$?; \
	$(if $(PYTEST_STATUS),echo $$status > '$(PYTEST_STATUS)';) exit $$status

bench: $(BIN)/.installed
	$(BIN)/python bench/sms_turns.py
	$(BIN)/python bench/ussd.py
	$(BIN)/python bench/whatsapp.py
	$(BIN)/python bench/pickup_allocation.py
	$(BIN)/python bench/worklist.py

clean:
	rm -rf $(VENV) var .pytest_cache

# The production processes on this machine (see docs/production.md): the schema, one
# `sms-ktp worker` in the background, the web app under gunicorn; Ctrl-C stops both.
.PHONY: serve-production bench-surge
serve-production: $(BIN)/.installed
	$(BIN)/sms-ktp init-db
	$(BIN)/sms-ktp worker & worker=$$!; \
	trap 'kill $$worker 2>/dev/null' EXIT; \
	$(BIN)/gunicorn -c deploy/gunicorn.conf.py sms_ktp.web.wsgi:app

# 50,000 inbound SMS through gunicorn and a worker on PostgreSQL (bench/README.md).
bench-surge: $(BIN)/.installed
	$(BIN)/python bench/surge.py

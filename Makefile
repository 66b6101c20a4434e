# drover's entry points. `make dev` and `make test` are the README's two
# commands; both install what they need first (scripts/ensure-deps.sh).

CARGO ?= cargo
DATA_DIR ?= ./drover-data
HTTP_ADDR ?= 127.0.0.1:4646

.PHONY: dev test chaos lint bench deps build fmt ui-screenshots

# Tests build their container images from busybox-static (no registry is
# reachable), so the docker tools are part of what `make test` installs.
deps:
	@scripts/ensure-deps.sh --with-docker-tools

build: deps
	$(CARGO) build --release -p drover-cli

# Build, then `drover dev`: etcd (data under $(DATA_DIR)), one server and one
# agent on the local Docker (simulated nodes when Docker is unreachable) until
# Ctrl-C, which stops the agent, the server, then etcd. A restart reuses the data.
dev: build
	target/release/drover dev --data-dir $(DATA_DIR) --http-addr $(HTTP_ADDR)

# The whole suite, against a real etcd started for it on a free port, then
# the fault scenarios (`make chaos`) on their own.
test: deps lint
	$(CARGO) build --workspace --all-targets
	scripts/test-etcd.sh $(CARGO) test --workspace --no-fail-fast
	$(MAKE) --no-print-directory chaos

# Faults injected into a live fleet of real processes — a 3-member etcd,
# 2 servers, 4 agents on the local Docker, a proxy to cut one agent off —
# one scenario at a time (cli/tests/it/chaos.rs). Each asserts its outcome
# and prints its figures as `chaos: …` lines.
chaos: deps
	$(CARGO) test -p drover-cli --test it -- --ignored --test-threads=1 --nocapture chaos::

# The web UI's browser tests (headless Chromium over WebDriver, part of
# `make test`), keeping their screenshots of every view, light and dark, in
# docs/ui/ (docs/ui.md shows them).
ui-screenshots: deps
	DROVER_UI_SCREENSHOTS=$(CURDIR)/docs/ui scripts/test-etcd.sh $(CARGO) test -p drover-cli --test it -- ui_browser::

lint: deps
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

fmt:
	$(CARGO) fmt --all

# Figures, not assertions (the drover-bench binary, bench/): raw etcd throughput and watch latency,
# what an ACL check adds to a request (in process, ACLs off / management / a client token), the
# scheduler end to end (100,000 allocations over 5,000 simulated nodes), the
# DNS server on one core (queries per second over 50 services x 3 instances),
# the catalog following the fleet (healthy → in /v1/health/service and DNS,
# stop → gone, over 50 instances on simulated nodes), churn (1,000 jobs applied,
# updated and stopped through the API on 50 simulated nodes: update latency,
# etcd's size before and after GC, compaction and defragmentation; on 2 cores:
# update → new version running p50 1.6 s, p90 2.6 s, p99 2.9 s, max 2.9 s with all
# 1,000 updates in flight 16 at a time, each deployment successful within 10 ms
# of that; etcd 11,152 keys / 23.7 MB after the updates, 152 keys after
# stop + GC (3.5 s), 0.1 MB in use once compaction's space is freed, a 0.1 MB
# file after defragmentation), the web UI on the placed fleet (each page's
# render time p50/p99/max over 10 asks, at most 30 s a page, and its size with
# the stylesheet and script; a scale reaching an open page's live stream and
# its new <main>), then one agent on the local Docker (binding → container running over 50
# allocations; its RSS idle and loaded), which needs a reachable Docker.
BENCH_NODES ?= 5000
BENCH_ALLOCS ?= 100000
BENCH_AGENT_ALLOCS ?= 50
bench: deps
	$(CARGO) build --release -p drover-cli -p drover-bench
	$(CARGO) run --release -p drover-store --example store_bench
	$(CARGO) run --release -p drover-apiserver --example acl_bench -- --json
	target/release/drover-bench schedule --nodes $(BENCH_NODES) --allocs $(BENCH_ALLOCS) --json
	target/release/drover-bench dns --services 50 --instances 3 --json
	target/release/drover-bench catalog --instances 50 --json
	target/release/drover-bench churn --jobs 1000 --nodes 50 --json
	target/release/drover-bench ui --nodes $(BENCH_NODES) --allocs $(BENCH_ALLOCS) --json
	@if docker info >/dev/null 2>&1; then \
	  target/release/drover-bench agent --allocs $(BENCH_AGENT_ALLOCS) --json; \
	else \
	  echo "bench agent: skipped, Docker is unreachable (docker info failed)"; \
	fi

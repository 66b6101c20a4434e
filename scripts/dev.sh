#!/usr/bin/env bash
# `make dev`: a local drover. Starts etcd (data under $DATA_DIR), one
# `drover server` and one `drover agent` on the local Docker (simulated
# nodes instead when Docker is not reachable). Ctrl-C stops everything;
# containers keep running, and a restart reuses the data and adopts them.
set -euo pipefail

DATA_DIR=${DATA_DIR:-./drover-data}
ETCD_CLIENT_URL=${ETCD_CLIENT_URL:-http://127.0.0.1:2379}
ETCD_PEER_URL=${ETCD_PEER_URL:-http://127.0.0.1:2380}
SIM_NODES=${SIM_NODES:-3}
AGENT_ADDRESS=${AGENT_ADDRESS:-127.0.0.1}
DROVER=${DROVER:-target/release/drover}

mkdir -p "$DATA_DIR/etcd"
pids=()
# Stop in reverse order, etcd last, so the server and agent shut down
# cleanly while etcd still answers.
stop() {
  trap - INT TERM EXIT
  for ((i=${#pids[@]}-1; i>=0; i--)); do
    kill "${pids[$i]}" 2>/dev/null || true
    for _ in $(seq 1 100); do
      kill -0 "${pids[$i]}" 2>/dev/null || break
      sleep 0.1
    done
  done
}
trap stop INT TERM EXIT

# etcd runs in its own session, so a terminal's Ctrl-C (sent to the whole
# foreground group) reaches it only through stop(), after the others.
rm -f "$DATA_DIR/etcd.pid"
setsid sh -c 'echo $$ > "$0"; exec "$@"' "$DATA_DIR/etcd.pid" \
  etcd --name drover-dev --data-dir "$DATA_DIR/etcd" \
  --listen-client-urls "$ETCD_CLIENT_URL" --advertise-client-urls "$ETCD_CLIENT_URL" \
  --listen-peer-urls "$ETCD_PEER_URL" --initial-advertise-peer-urls "$ETCD_PEER_URL" \
  --initial-cluster "drover-dev=$ETCD_PEER_URL" --logger zap --log-level warn \
  >"$DATA_DIR/etcd.log" 2>&1 &
for _ in $(seq 1 50); do [ -s "$DATA_DIR/etcd.pid" ] && break; sleep 0.1; done
pids+=("$(cat "$DATA_DIR/etcd.pid")")

for _ in $(seq 1 100); do
  if ETCDCTL_API=3 etcdctl --endpoints="$ETCD_CLIENT_URL" endpoint health >/dev/null 2>&1; then
    break
  fi
  if ! kill -0 "${pids[0]}" 2>/dev/null; then
    echo "error: etcd exited; see $DATA_DIR/etcd.log (is $ETCD_CLIENT_URL already in use?)" >&2
    exit 1
  fi
  sleep 0.1
done

"$DROVER" server --etcd "$ETCD_CLIENT_URL" --name dev-server &
pids+=($!)
if docker info >/dev/null 2>&1; then
  "$DROVER" agent --etcd "$ETCD_CLIENT_URL" --address "$AGENT_ADDRESS" \
    --data-dir "$DATA_DIR/agent" &
  nodes="one agent on the local Docker (ports on $AGENT_ADDRESS)"
else
  echo "note: Docker is not reachable (docker info failed); running $SIM_NODES simulated nodes instead" >&2
  "$DROVER" agent --simulate "$SIM_NODES" --etcd "$ETCD_CLIENT_URL" --name-prefix dev &
  nodes="$SIM_NODES simulated nodes"
fi
pids+=($!)

cat <<MSG
drover: etcd at $ETCD_CLIENT_URL (data in $DATA_DIR), one server, $nodes.
try:    $DROVER validate manifests/examples/*
        ETCDCTL_API=3 etcdctl --endpoints=$ETCD_CLIENT_URL get --prefix --keys-only /drover/
Ctrl-C stops everything.
MSG
wait -n

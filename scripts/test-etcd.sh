#!/usr/bin/env bash
# Runs a command with a throwaway etcd on a free loopback port, exported as
# DROVER_TEST_ETCD_ENDPOINTS; stops etcd and removes its data afterwards,
# whatever the command's outcome. Usage: scripts/test-etcd.sh CMD [ARGS...]
set -euo pipefail

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

data_dir=$(mktemp -d -t drover-test-etcd.XXXXXX)
client_port=$(free_port)
peer_port=$(free_port)
client_url="http://127.0.0.1:${client_port}"

etcd --name drover-test --data-dir "$data_dir" \
  --listen-client-urls "$client_url" --advertise-client-urls "$client_url" \
  --listen-peer-urls "http://127.0.0.1:${peer_port}" \
  --initial-advertise-peer-urls "http://127.0.0.1:${peer_port}" \
  --initial-cluster "drover-test=http://127.0.0.1:${peer_port}" \
  --logger zap --log-level error >"$data_dir.log" 2>&1 &
etcd_pid=$!

cleanup() {
  kill "$etcd_pid" 2>/dev/null || true
  wait "$etcd_pid" 2>/dev/null || true
  rm -rf "$data_dir" "$data_dir.log"
}
trap cleanup EXIT

for _ in $(seq 1 100); do
  if ETCDCTL_API=3 etcdctl --endpoints "$client_url" endpoint health >/dev/null 2>&1; then
    break
  fi
  if ! kill -0 "$etcd_pid" 2>/dev/null; then
    echo "error: the test etcd exited at start-up:" >&2
    cat "$data_dir.log" >&2
    exit 1
  fi
  sleep 0.1
done

echo "test etcd at $client_url"
export DROVER_TEST_ETCD_ENDPOINTS="$client_url"
"$@"

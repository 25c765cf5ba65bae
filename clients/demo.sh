#!/usr/bin/env bash
# The main job: two frepd partners on loopback, each with its own SQLite
# file, checked through frepctl. Everything lives in a temp dir and both
# daemons are stopped by PID at the end.
set -euo pipefail
FREPD=${FREPD:-build/rpc/frepd}
FREPCTL=${FREPCTL:-build/clients/frepctl}
work=$(mktemp -d /tmp/frep-demo-XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

port_a=$((20000 + RANDOM % 20000)); port_b=$((port_a + 1))
A=tcp://127.0.0.1:$port_a; B=tcp://127.0.0.1:$port_b
"$FREPD" --listen "$A" --db "$work/a.db" 2>"$work/a.log" & pids+=($!)
"$FREPD" --listen "$B" --db "$work/b.db" 2>"$work/b.log" & pids+=($!)

step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@"; }
# frepctl waits (bounded by --timeout) for the connection: no sleep needed.
step "$FREPCTL" --server "$A" --timeout 5000 health
step "$FREPCTL" --server "$B" --timeout 5000 health
step "$FREPCTL" --server "$A" describe
echo
echo "demo: both partners SERVING"

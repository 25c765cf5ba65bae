#!/usr/bin/env bash
# The main job: two frepd failover partners on loopback, each with its own
# embedded SQLite store; a scope with exclusions, reservations, options and
# a policy on A; a relationship A<->B (created on both, replicated once); a
# change on A; a what-if that shows the partner's diff; a replication that
# applies it; both digests equal. Then the pair keeping itself in step
# (issue 15): auto-sync on, a change on A appears on B with no replicate
# command, `failover status` says in_sync; a server-level option only on A
# shows in the status and `replicate --server-settings` settles it.
# Everything lives in a temp dir; both daemons are stopped by PID at the end.
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

say() { printf '\n\033[1m# %s\033[0m\n' "$*"; }
on() { local url=$1; shift; printf '\033[2m$ frepctl --server %s %s\033[0m\n' "$url" "$*"; "$FREPCTL" --server "$url" --timeout 10000 "$@"; }

say "both partners up (frepctl --wait: wait-for-ready, bounded by the deadline)"
on "$A" --wait health
on "$B" --wait health

say "server A: a scope with exclusions, reservations, options and a policy"
on "$A" scope add 10.0.0.0/24 --range 10.0.0.10-10.0.0.200 --name Office --lease 8d >/dev/null
on "$A" exclusion add 10.0.0.0 10.0.0.50-10.0.0.59
on "$A" reservation add 10.0.0.0 10.0.0.20 --client-id 00-11-22-33-44-55 --name printer >/dev/null
on "$A" reservation add 10.0.0.0 10.0.0.21 --client-id 00-11-22-33-44-66 --name scanner >/dev/null
on "$A" option set --scope 10.0.0.0 3 10.0.0.1 >/dev/null
on "$A" option set --scope 10.0.0.0 6 10.0.0.2,10.0.0.3 >/dev/null
on "$A" option set --scope 10.0.0.0 --reservation 10.0.0.20 15 printers.example.org >/dev/null
on "$A" policy add bootp-clients --scope 10.0.0.0 --criterion user-class:eq:"Default BOOTP Class" \
  --range 10.0.0.150-10.0.0.160 --lease 1h >/dev/null
on "$A" scope show 10.0.0.0

say "a failover relationship A<->B: created on both servers, its scope replicated once"
say "(auto-sync off for now: the manual replication first, as on Windows)"
printf 'demo-shared-secret\n' > "$work/secret"
on "$A" failover add office-pair --partner "$B" --scope 10.0.0.0 --mode load-balance --percent 60 \
  --secret-file "$work/secret" --local "$A" --no-auto-sync >/dev/null
on "$B" failover list

say "a change on A: one reservation renamed, one added, one removed; an exclusion moved"
on "$A" reservation set 10.0.0.0 10.0.0.20 --name printer-2nd-floor >/dev/null
on "$A" reservation add 10.0.0.0 10.0.0.22 --client-id 00-11-22-33-44-77 --name laptop >/dev/null
on "$A" reservation remove 10.0.0.0 10.0.0.21
on "$A" exclusion remove 10.0.0.0 10.0.0.50-10.0.0.59
on "$A" exclusion add 10.0.0.0 10.0.0.60-10.0.0.69

say "replicate --what-if: the partner's diff, nothing changed"
on "$A" replicate --name office-pair --what-if

say "replicate: the partner's copy replaced atomically"
on "$A" replicate --name office-pair --force

say "both digests"
da=$("$FREPCTL" --server "$A" --json scope show 10.0.0.0 | python3 -c 'import json,sys; print(json.load(sys.stdin)["digest"])')
db=$("$FREPCTL" --server "$B" --json scope show 10.0.0.0 | python3 -c 'import json,sys; print(json.load(sys.stdin)["digest"])')
echo "A: $da"
echo "B: $db"
[ "$da" = "$db" ] || { echo "demo: digests differ"; exit 1; }
on "$B" reservation list 10.0.0.0
on "$A" audit --limit 3

say "auto-sync on (both servers): from now on a change replicates by itself"
on "$A" failover set office-pair --auto-sync on >/dev/null
on "$B" failover get office-pair | grep auto_sync

say "a change on A, and no replicate command"
on "$A" reservation add 10.0.0.0 10.0.0.23 --client-id 00-11-22-33-44-88 --name camera >/dev/null
for _ in $(seq 100); do
  "$FREPCTL" --server "$B" reservation get 10.0.0.0 10.0.0.23 >/dev/null 2>&1 && break
  sleep 0.05
done
on "$B" reservation get 10.0.0.0 10.0.0.23
for _ in $(seq 100); do
  "$FREPCTL" --server "$A" failover status --no-server-settings >/dev/null 2>&1 && break
  sleep 0.05
done
on "$A" failover status --no-server-settings

say "a server-level option set on A only: not replicated with the scope, but the status shows it"
on "$A" option set 42 10.0.0.123 >/dev/null
on "$A" failover status || echo "(exit $?: not everything is in_sync)"
on "$A" replicate --server-settings --what-if
on "$A" replicate --server-settings --force >/dev/null
on "$A" failover status
echo
echo "demo: both partners hold scope 10.0.0.0 and the same server-level settings; auto-sync keeps them so"

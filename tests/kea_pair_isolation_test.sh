#!/usr/bin/env bash
# Issue 16, a live pair: B's store holds a value Kea refuses (forced into
# B's own db with sqlite3 while B's frepd is stopped, as an older frep could
# have left it). B's frepd leaves that object out of its Kea's
# configuration, pushes the rest, and says so (kea status: left_out, exit
# 0; Health frep.v1.DataPlane: DEGRADED with a detail; the log); a
# reservation added later on A in another scope is replicated and reaches
# B's Kea. No root needed: the Kea listens on no interface. Needs
# kea-dhcp4 and sqlite3 (77 without: FREP-SKIP(kea), FREP-SKIP(sqlite3)).
set -u
# skip TAG WHY: prints FREP-SKIP(TAG) for tests/skip_guard.sh, exits 77.
skip() {
	local tag=$1
	shift
	echo "FREP-SKIP($tag): $*"
	exit 77
}
command -v kea-dhcp4 >/dev/null 2>&1 || skip kea "kea-dhcp4 is not on PATH (make deps)"
command -v sqlite3 >/dev/null 2>&1 || skip sqlite3 "sqlite3 is not on PATH (make deps)"
FREPD=${FREPD:?run through ctest}
FREPCTL=${FREPCTL:?run through ctest}
T=$(mktemp -d --tmpdir frep-keapair.XXXXXX)
KEA_PID=
A_PID=
B_PID=
stop() {
	[ -n "$1" ] || return 0
	kill "$1" 2>/dev/null
	wait "$1" 2>/dev/null
	return 0
}
cleanup() {
	stop "$B_PID"
	stop "$A_PID"
	stop "$KEA_PID"
	rm -rf "$T"
}
trap cleanup EXIT
fail() {
	echo "FAIL: $*" >&2
	for f in "$T"/*.log "$T"/*.out; do
		[ -f "$f" ] && { echo "--- $f" >&2; tail -n 20 "$f" >&2; }
	done
	exit 1
}
export KEA_PIDFILE_DIR="$T" KEA_LOCKFILE_DIR="$T"
printf '%s\n' '{ "Dhcp4": { "interfaces-config": { "interfaces": [] },' \
	"  \"control-socket\": { \"socket-type\": \"unix\", \"socket-name\": \"$T/b.sock\" }," \
	'  "lease-database": { "type": "memfile", "persist": false },' \
	"  \"loggers\": [ { \"name\": \"kea-dhcp4\", \"severity\": \"WARN\", \"output_options\": [ { \"output\": \"$T/kea-b.log\" } ] } ] } }" \
	>"$T/b.json"
kea-dhcp4 -c "$T/b.json" >"$T/kea-b.stdout.log" 2>&1 &
KEA_PID=$!
for _ in $(seq 100); do
	[ -S "$T/b.sock" ] && break
	sleep 0.1
done
[ -S "$T/b.sock" ] || fail "Kea did not open its control socket"

A="ipc://$T/a.ipc"
B="ipc://$T/b.ipc"
on() {
	local s=$1
	shift
	"$FREPCTL" --server "$s" --timeout 10000 "$@"
}
start_b() {
	"$FREPD" --listen "$B" --db "$T/b.db" --kea-socket "$T/b.sock" --kea-base "$T/b.json" \
		2>>"$T/frepd-b.log" &
	B_PID=$!
	for _ in $(seq 100); do
		on "$B" health >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	fail "frepd B not healthy"
}
"$FREPD" --listen "$A" --db "$T/a.db" 2>"$T/frepd-a.log" &
A_PID=$!
start_b
for _ in $(seq 100); do
	on "$A" health >/dev/null 2>&1 && break
	sleep 0.1
done

# status_is PYTHON: waits until B's kea status (s) satisfies it.
status_is() {
	for _ in $(seq 150); do
		on "$B" --json kea status >"$T/status.out" 2>&1
		python3 -c 'import json, sys
s = json.load(open(sys.argv[1]))
sys.exit(0 if eval(sys.argv[2], {"s": s}) else 1)' "$T/status.out" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	fail "kea status never satisfied: $1"
}
IN_STEP='s.get("last_pushed_digest") and s["last_pushed_digest"] == s.get("current_digest") and not s.get("pending") and not s.get("consecutive_failures")'

# B's own scope with a good option 15; the pair's scope on A, replicated.
on "$B" scope add 10.0.1.0/24 --range 10.0.1.10-10.0.1.200 --name b-only >/dev/null ||
	fail "scope on B"
on "$B" option set --scope 10.0.1.0 15 example.com >/dev/null || fail "option 15 on B"
on "$A" scope add 10.0.2.0/24 --range 10.0.2.10-10.0.2.200 --name shared >/dev/null ||
	fail "scope on A"
echo s3cret-pair >"$T/secret"
on "$A" failover add pair --partner "$B" --scope 10.0.2.0 --secret-file "$T/secret" >/dev/null ||
	fail "failover add"
on "$A" replicate --name pair --force >/dev/null || fail "replicate"
status_is "$IN_STEP and not s.get('left_out_total')"

# Force a value Kea refuses into B's store, under the validation.
stop "$B_PID"
B_PID=
sqlite3 "$T/b.db" "UPDATE option_value SET vals = '0:' WHERE option_id = 15" || fail "sqlite3"
start_b
status_is "$IN_STEP and s.get('left_out_total') == 1"
python3 -c 'import json, sys
s = json.load(open(sys.argv[1]))
l = s["left_out"][0]
assert (l["scope"], l["kind"], l["key"]) == ("10.0.1.0", "option", "15"), l
assert "15" in l["message"], l' "$T/status.out" || fail "left_out"
on "$B" health frep.v1.DataPlane >"$T/health.out" 2>&1 && fail "health exit 0 while degraded"
grep -q '^DEGRADED: 1 object' "$T/health.out" || fail "health is not DEGRADED with a detail"
on "$B" kea status >"$T/text.out" 2>&1 || fail "kea status exit 1 while Kea serves the rest"
grep -q "left out: scope 10.0.1.0 option 15" "$T/text.out" || fail "kea status does not list it"
grep -q "kea: left out: scope 10.0.1.0 option 15" "$T/frepd-b.log" || fail "not logged"
grep -q '"10.0.1.0/24"' "$T/b.json" || fail "B's Kea lost the rest of scope 10.0.1.0"

# A later good change in the other scope reaches B's Kea.
on "$A" reservation add 10.0.2.0 10.0.2.50 --client-id 02-00-00-5e-10-01 --name later \
	>/dev/null || fail "reservation add on A"
on "$A" replicate --name pair --force >/dev/null || fail "replicate the reservation"
status_is "$IN_STEP and s.get('left_out_total') == 1"
grep -q '"10.0.2.50"' "$T/b.json" || fail "the reservation did not reach B's Kea (config-write)"

# And the same value can no longer be set through the API.
on "$A" option set --raw --scope 10.0.2.0 15 "" >"$T/set.out" 2>&1 && fail "option 15 '' accepted"
grep -q "INVALID_ARGUMENT" "$T/set.out" || fail "option 15 '': not INVALID_ARGUMENT"
echo "PASS"

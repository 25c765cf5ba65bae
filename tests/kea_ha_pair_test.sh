#!/usr/bin/env bash
# Issue 19, a live pair on loopback (no root, no interface): two frepd, each
# driving its own kea-dhcp4 whose base file has no HA section. frepd's
# --kea-ha-url is checked (a malformed one: exit 2 naming flag and value);
# AddFailover exchanges the HA URLs (each side's relationship holds both,
# whatever URLs the request carried: frepd's, never the caller's); a
# SetFailover whose update_mask names an HA URL is refused, a whole-object
# SetFailover (no mask) carrying other URLs leaves them as they are; both
# Keas get the mirrored HA hook and reach hot-standby (as `kea
# status` reports Kea's state); `failover set` to load balance re-renders
# both sides and both reach load-balancing; the warnings (MCLT, 70/30) are
# in `kea status` and `kea render`; a Kea whose HA listener cannot bind its
# port (another process holds it) is named in `kea status`. Needs kea-dhcp4
# (77 without).
set -u
skip() {
	echo "FREP-SKIP(kea): $*"
	exit 77
}
command -v kea-dhcp4 >/dev/null 2>&1 || skip "kea-dhcp4 is not installed"
FREPD=${FREPD:?run through ctest}
FREPCTL=${FREPCTL:?run through ctest}
T=$(mktemp -d --tmpdir frep-keaha.XXXXXX)
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do
		kill "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	rm -rf "$T"
}
trap cleanup EXIT
fail() {
	echo "FAIL: $*" >&2
	for f in "$T"/*.log "$T"/*.out; do
		[ -f "$f" ] && { echo "--- $f" >&2; tail -n 15 "$f" >&2; }
	done
	exit 1
}
export KEA_PIDFILE_DIR="$T" KEA_LOCKFILE_DIR="$T"
# Two HA ports for this run. Not port 0: both Keas need each other's HA URL
# before either starts (docs/TESTS.md, "Ports": the one exception); below the
# ephemeral range (32768-60999), where an outgoing connection may hold one.
PORT=$((26000 + ($$ % 3000) * 2))
HA_A="http://127.0.0.1:$PORT/"
HA_B="http://127.0.0.1:$((PORT + 1))/"

# A malformed --kea-ha-url: a clear status naming the flag and the value.
"$FREPD" --db "$T/x.db" --kea-ha-url "http://kea-a.example:8001/" >"$T/bad.out" 2>&1
rc=$?
[ "$rc" -ne 0 ] || fail "frepd accepted a host name in --kea-ha-url"
grep -q 'INVALID_ARGUMENT: --kea-ha-url "http://kea-a.example:8001/"' "$T/bad.out" ||
	fail "the refusal does not name --kea-ha-url and its value"

for s in a b; do
	printf '%s\n' '{ "Dhcp4": { "interfaces-config": { "interfaces": [] },' \
		"  \"control-socket\": { \"socket-type\": \"unix\", \"socket-name\": \"$T/kea-$s.sock\" }," \
		'  "lease-database": { "type": "memfile", "persist": false },' \
		"  \"loggers\": [ { \"name\": \"kea-dhcp4\", \"severity\": \"INFO\", \"output_options\": [ { \"output\": \"$T/kea-$s.log\" } ] } ] } }" \
		>"$T/kea-$s.json"
	kea-dhcp4 -c "$T/kea-$s.json" >"$T/kea-$s.stdout.log" 2>&1 &
	PIDS+=($!)
done
for s in a b; do
	for _ in $(seq 100); do
		[ -S "$T/kea-$s.sock" ] && break
		sleep 0.1
	done
	[ -S "$T/kea-$s.sock" ] || fail "Kea $s did not open its control socket"
done

A="ipc://$T/a.ipc"
B="ipc://$T/b.ipc"
on() {
	local s=$1
	shift
	"$FREPCTL" --server "$s" --timeout 10000 "$@"
}
"$FREPD" --listen "$A" --db "$T/a.db" --kea-socket "$T/kea-a.sock" --kea-base "$T/kea-a.json" \
	--kea-ha-url "$HA_A" 2>"$T/frepd-a.log" &
PIDS+=($!)
FREPD_A=$!
"$FREPD" --listen "$B" --db "$T/b.db" --kea-socket "$T/kea-b.sock" --kea-base "$T/kea-b.json" \
	--kea-ha-url "$HA_B" 2>"$T/frepd-b.log" &
PIDS+=($!)
FREPD_B=$!
for s in "$A" "$B"; do
	for _ in $(seq 100); do
		on "$s" health >/dev/null 2>&1 && break
		sleep 0.1
	done
done

# status_is SERVER PYTHON: waits until SERVER's kea status (s) satisfies it
# (Kea's HA moves through waiting, syncing, ready: bounded only so that a
# broken pair fails instead of hanging).
status_is() {
	local srv=$1
	for _ in $(seq 600); do
		on "$srv" --json kea status >"$T/status.out" 2>&1
		python3 -c 'import json, sys
s = json.load(open(sys.argv[1]))
sys.exit(0 if eval(sys.argv[2], {"s": s}) else 1)' "$T/status.out" "$2" 2>/dev/null && return 0
		sleep 0.1
	done
	fail "$srv: kea status never satisfied: $2"
}

# Kea holds the current rendering (so a state read after it is the new one's).
IN_STEP='s.get("last_pushed_digest") and s["last_pushed_digest"] == s.get("current_digest") and not s.get("pending")'

on "$A" scope add 10.0.2.0/24 --range 10.0.2.10-10.0.2.200 --name shared >/dev/null ||
	fail "scope on A"
# AddFailover as `failover add --mode hot-standby --role active
# --switch-interval 2s --auto-state-transition yes` sends it, plus both HA
# URLs, which frepd must ignore: the URLs are frepd's (--kea-ha-url), never
# the caller's.
on "$A" call /frep.v1.DhcpServer/AddFailover "{\"relationship\": {\"name\": \"pair\",
	\"partnerServer\": \"$B\", \"scopeIds\": [\"10.0.2.0\"], \"sharedSecret\": \"s3cret-pair\",
	\"mode\": \"FAILOVER_MODE_HOT_STANDBY\", \"serverRole\": \"SERVER_ROLE_ACTIVE\",
	\"stateSwitchIntervalS\": 2, \"autoStateTransition\": true,
	\"keaHaUrl\": \"http://127.0.0.1:1/\", \"partnerKeaHaUrl\": \"http://127.0.0.1:2/\"}}" \
	>"$T/add.out" 2>&1 || fail "AddFailover: $(cat "$T/add.out")"

# The URL exchange: each side holds both, mirrored (the request's ignored).
on "$A" --json failover get pair >"$T/rel-a.out" || fail "failover get on A"
on "$B" --json failover get pair >"$T/rel-b.out" || fail "failover get on B"
python3 - "$T/rel-a.out" "$T/rel-b.out" "$HA_A" "$HA_B" <<'PY' || fail "HA URLs not exchanged"
import json, sys
a, b = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
ha, hb = sys.argv[3], sys.argv[4]
assert (a["kea_ha_url"], a["partner_kea_ha_url"]) == (ha, hb), a
assert (b["kea_ha_url"], b["partner_kea_ha_url"]) == (hb, ha), b
PY

# Operators do not write the URLs: SetFailover naming one is refused, and a
# URL in AddFailover / a whole-object SetFailover is ignored.
on "$A" call /frep.v1.DhcpServer/SetFailover \
	'{"relationship": {"name": "pair", "partnerKeaHaUrl": "http://127.0.0.1:1/"}, "updateMask": ["partner_kea_ha_url"]}' \
	>"$T/setmask.out" 2>&1 && fail "SetFailover accepted partner_kea_ha_url in its mask"
grep -q 'INVALID_ARGUMENT.*partner_kea_ha_url' "$T/setmask.out" ||
	fail "the refusal does not name partner_kea_ha_url: $(cat "$T/setmask.out")"
on "$A" --json failover get pair | grep -q "\"partner_kea_ha_url\": \"$HA_B\"" ||
	fail "the refused SetFailover changed the partner's URL"
# A whole-object SetFailover (read, modify, write back with no mask) whose
# object carries other HA URLs: accepted, the URLs stay frepd's on both sides.
on "$A" call /frep.v1.DhcpServer/GetFailover '{"name": "pair"}' >"$T/get.out" 2>&1 ||
	fail "GetFailover: $(cat "$T/get.out")"
python3 - "$T/get.out" >"$T/set.json" <<'PY' || fail "GetFailover's answer: $(cat "$T/get.out")"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["name"] == "pair" and "keaHaUrl" in r and "partnerKeaHaUrl" in r, r
r["keaHaUrl"], r["partnerKeaHaUrl"] = "http://127.0.0.1:1/", "http://127.0.0.1:2/"
print(json.dumps({"relationship": r}))
PY
on "$A" call /frep.v1.DhcpServer/SetFailover "$(cat "$T/set.json")" >"$T/setall.out" 2>&1 ||
	fail "a whole-object SetFailover was refused: $(cat "$T/setall.out")"
on "$A" --json failover get pair >"$T/rel-a.out" || fail "failover get on A"
on "$B" --json failover get pair >"$T/rel-b.out" || fail "failover get on B"
python3 - "$T/rel-a.out" "$T/rel-b.out" "$HA_A" "$HA_B" <<'PY' ||
import json, sys
a, b = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
ha, hb = sys.argv[3], sys.argv[4]
assert (a["kea_ha_url"], a["partner_kea_ha_url"]) == (ha, hb), a
assert (b["kea_ha_url"], b["partner_kea_ha_url"]) == (hb, ha), b
PY
	fail "a whole-object SetFailover changed the HA URLs"

# Both Keas, configured only by frep, reach hot standby.
# A Kea whose HA listener answers has no ha_error (frepd asks it, as the
# partner does).
status_is "$A" 's.get("ha_relationship") == "pair" and s.get("ha_state") == "hot-standby" and not s.get("ha_error")'
status_is "$B" 's.get("ha_relationship") == "pair" and s.get("ha_state") == "hot-standby" and not s.get("ha_error")'
on "$A" kea status >"$T/text.out" 2>&1 || fail "kea status"
grep -q "kea HA: relationship 'pair': Kea reports hot-standby" "$T/text.out" ||
	fail "kea status does not show Kea's HA state"
grep -q "kea HA warning: failover 'pair': max_client_lead_time_s 3600 not rendered" \
	"$T/text.out" || fail "kea status does not show the MCLT warning"
on "$B" kea render >"$T/render-b.out" 2>"$T/render-b.err" || fail "kea render on B"
grep -q '"role": "standby"' "$T/render-b.out" || fail "B's rendering has no standby peer"
grep -q "\"this-server-name\": \"127.0.0.1:$((PORT + 1))\"" "$T/render-b.out" ||
	fail "B's rendering does not name B"

# SetFailover re-renders both sides: load balance 70/30, both reach it.
on "$A" failover set pair --mode load-balance --percent 70 >/dev/null || fail "failover set"
status_is "$A" "$IN_STEP"' and s.get("ha_state") == "load-balancing"'
status_is "$B" "$IN_STEP"' and s.get("ha_state") == "load-balancing" and any("load_balance_percent 30 rendered as 50" in w for w in s.get("ha_warnings", []))'
# B's frepd restarted with another --kea-ha-url: B's relationship takes it
# at start; the next SetFailover tells A, and both Keas re-render with it.
# restart_b URL: B's frepd stopped (it must exit 0) and started again with
# --kea-ha-url URL; returns once it answers.
restart_b() {
	kill "$FREPD_B"
	wait "$FREPD_B" || fail "frepd B exited $? on SIGTERM"
	"$FREPD" --listen "$B" --db "$T/b.db" --kea-socket "$T/kea-b.sock" \
		--kea-base "$T/kea-b.json" --kea-ha-url "$1" 2>>"$T/frepd-b.log" &
	PIDS+=($!)
	FREPD_B=$!
	for _ in $(seq 100); do
		on "$B" health >/dev/null 2>&1 && break
		sleep 0.1
	done
}
HA_B2="http://127.0.0.1:$((PORT + 2))/"
restart_b "$HA_B2"
on "$B" --json failover get pair >"$T/rel-b.out" || fail "failover get on B"
grep -q "\"kea_ha_url\": \"$HA_B2\"" "$T/rel-b.out" || fail "B did not take its new --kea-ha-url"
on "$A" failover set pair --switch-interval 3s >/dev/null || fail "failover set (switch interval)"
on "$A" --json failover get pair >"$T/rel-a.out" || fail "failover get on A"
grep -q "\"partner_kea_ha_url\": \"$HA_B2\"" "$T/rel-a.out" ||
	fail "A did not learn B's new Kea HA URL from SetFailover"
status_is "$A" "$IN_STEP"' and s.get("ha_state") == "load-balancing" and not s.get("ha_error")'
status_is "$B" "$IN_STEP"' and s.get("ha_state") == "load-balancing" and not s.get("ha_error")'
on "$A" kea render >"$T/render-a.out" 2>/dev/null || fail "kea render on A"
grep -q "\"url\": \"$HA_B2\"" "$T/render-a.out" || fail "A's rendering does not use B's new URL"
on "$B" kea render >"$T/render-b.out" 2>/dev/null || fail "kea render on B"
grep -q "\"this-server-name\": \"127.0.0.1:$((PORT + 2))\"" "$T/render-b.out" ||
	fail "B's rendering does not use its new URL"

# B's Kea HA URL on a port another process holds (it answers HTTP, not as
# Kea): Kea 2.2 cannot bind its HA listener and only logs it, its HA state
# stays "waiting" or "ready"; `kea status` says the partner cannot reach it.
HELD=$((PORT + 3))
python3 - "$HELD" "$T/held" <<'PY' &
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(16)
open(sys.argv[2], "w").close()
while True:
    c, _ = s.accept()
    c.settimeout(2)
    try:
        c.recv(4096)
        c.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
    except OSError:
        pass
    c.close()
PY
PIDS+=($!)
for _ in $(seq 100); do
	[ -e "$T/held" ] && break
	sleep 0.1
done
[ -e "$T/held" ] || fail "the port holder did not start"
restart_b "http://127.0.0.1:$HELD/"
on "$A" failover set pair --switch-interval 4s >/dev/null || fail "failover set (held port)"
status_is "$B" 's.get("ha_state") and "cannot reach it" in s.get("ha_error", "") and "another process holds the port" in s["ha_error"]'
on "$B" kea status >"$T/text.out" 2>&1
grep -q "kea HA: .*Kea reports HA state '.*', but the partner cannot reach it: Kea's HA listener http://127.0.0.1:$HELD/: the answer is not Kea's" "$T/text.out" ||
	fail "kea status does not say why the partner cannot reach B's Kea: $(cat "$T/text.out")"
grep "kea HA: .*cannot reach it" "$T/text.out"

# Each frepd stops cleanly (under ASan, a leak makes its exit status non-zero).
for p in "$FREPD_A" "$FREPD_B"; do
	kill "$p"
	wait "$p"
	rc=$?
	[ "$rc" = 0 ] || fail "frepd $p exited $rc on SIGTERM"
done
echo "PASS"

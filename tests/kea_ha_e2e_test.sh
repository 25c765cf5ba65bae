#!/bin/bash
# kea_ha_e2e_test (issue 19): the namespace test's HA half, as root. Two
# frepd partners, each driving its own kea-dhcp4 whose base file has no HA
# section: the HA hook comes only from frep's rendering of the relationship.
# Each Kea runs in a network namespace of its own, on a veth whose other
# end is bridged, with the other Kea's, inside a third namespace where a
# DHCP client runs (198.51.100.0/24, TEST-NET-2: nothing leaves the
# machine; HA traffic between the Keas over the same link). frepd and the
# Keas' control sockets stay on the host (unix sockets in a temp dir).
#  1. `failover add` (hot standby, A active, state switch interval 5 s:
#     short, yet long enough that a loaded machine's late heartbeat does not
#     make the pair flap):
#     both Keas reach the hot-standby state (as `kea status` reports Kea's);
#  2. dhclient in the namespace gets a lease from A's Kea (the server
#     identifier says which), and B's Kea knows that lease (lease4-get over
#     its control socket): the HA hook frep configured keeps leases in step;
#  3. A's Kea stopped: B's Kea goes to partner-down (after the shortened
#     delay, max-response-delay 5 s) and serves the client.
# Without root, Kea, dhclient or network namespaces: prints why and exits
# 77. Everything made here (processes by PID, namespaces and the veths in
# them) is removed at the end, on failure too.
set -u

skip() {
	tag=$1
	shift
	echo "FREP-SKIP($tag): $*"
	exit 77
}
fail() {
	echo "FAIL: $*" >&2
	for s in "$A" "$B"; do
		[ -n "$s" ] && "$FREPCTL" --server "$s" kea status 2>&1 | grep "kea HA" >&2
	done
	for f in "$T"/*.log; do
		[ -f "$f" ] && { echo "--- $f" >&2; grep -v -e "'ha-heartbeat'" "$f" | tail -n 40 >&2; }
	done
	exit 1
}

[ "$(id -u)" = 0 ] || skip root "needs root (network namespace, veth, raw sockets)"
for p in kea-dhcp4 dhclient ip python3; do
	command -v "$p" >/dev/null 2>&1 || skip kea "$p is not installed"
done
FREPD=${FREPD:?FREPD must name the frepd binary}
FREPCTL=${FREPCTL:?FREPCTL must name the frepctl binary}

T=$(mktemp -d --tmpdir frep-keaha.XXXXXX)
RID=$(printf '%04x%04x' $((RANDOM)) $((RANDOM)))
NS="frepha-$RID"  # the client's
NSA="frephaa-$RID" # A's Kea
NSB="frephab-$RID" # B's Kea
MAC=02:00:00:5e:19:01
PIDS=()
MADE=()
A=
B=
KEA_A=

cleanup() {
	for pid in "${PIDS[@]}"; do
		kill "$pid" 2>/dev/null
	done
	for pid in "${PIDS[@]}"; do
		for _ in $(seq 50); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -9 "$pid" 2>/dev/null
	done
	# Whatever still runs in our namespaces (a dhclient cut short) is ours;
	# deleting a namespace deletes the veth ends in it.
	for n in "${MADE[@]}"; do
		for pid in $(ip netns pids "$n" 2>/dev/null); do
			kill -9 "$pid" 2>/dev/null
		done
		ip netns del "$n" 2>/dev/null
	done
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# Each Kea in a namespace of its own (so no other DHCP server on this
# machine, e.g. one listening on every interface, can take its port 67),
# linked by a veth to the client's namespace, where a bridge joins both:
# the client hears both Keas, and the Keas reach each other's HA listener
# over the same link (198.51.100.2 and .3).
for n in "$NS" "$NSA" "$NSB"; do
	ip netns add "$n" 2>"$T/netns.err" ||
		skip netns "cannot create a network namespace here: $(cat "$T/netns.err")"
	MADE+=("$n")
	ip netns exec "$n" ip link set lo up || fail "lo up in $n"
done
inns() { ip netns exec "$NS" "$@"; }
ip netns exec "$NSA" ip link add ka type veth peer name nsa netns "$NS" 2>"$T/veth.err" ||
	skip netns "cannot create a veth pair: $(cat "$T/veth.err")"
ip netns exec "$NSB" ip link add kb type veth peer name nsb netns "$NS" 2>>"$T/veth.err" ||
	skip netns "cannot create a veth pair: $(cat "$T/veth.err")"
ip netns exec "$NSA" ip addr add 198.51.100.2/24 dev ka || fail "address on ka"
ip netns exec "$NSB" ip addr add 198.51.100.3/24 dev kb || fail "address on kb"
ip netns exec "$NSA" ip link set ka up || fail "ka up"
ip netns exec "$NSB" ip link set kb up || fail "kb up"
inns ip link add br0 type bridge forward_delay 0 stp_state 0 || fail "bridge in $NS"
inns ip link set nsa master br0 || fail "nsa into br0"
inns ip link set nsb master br0 || fail "nsb into br0"
inns ip link set br0 address "$MAC" || fail "MAC of br0"
for l in nsa nsb br0; do
	inns ip link set "$l" up || fail "$l up"
done

export KEA_PIDFILE_DIR="$T" KEA_LOCKFILE_DIR="$T"
# The operator's base files: no HA section, no hooks; multi-threading on
# from the start and retries for the DHCP sockets, as docs/KEA.md recommends
# (kea_ha_pair_test covers a base without them).
kea_base() {
	cat >"$T/$1.json" <<EOF
{
  "Dhcp4": {
    "interfaces-config": { "interfaces": [ "$2" ],
                           "service-sockets-max-retries": 20, "service-sockets-retry-wait-time": 250 },
    "multi-threading": { "enable-multi-threading": true },
    "control-socket": { "socket-type": "unix", "socket-name": "$T/$1.sock" },
    "lease-database": { "type": "memfile", "persist": true, "name": "$T/$1.leases", "lfc-interval": 0 },
    "valid-lifetime": 3600,
    "loggers": [ { "name": "kea-dhcp4", "severity": "INFO",
                   "output_options": [ { "output": "$T/kea-$1.log" } ] } ]
  }
}
EOF
}
kea_base a ka
kea_base b kb
for k in a b; do
	n=$NSA
	[ "$k" = b ] && n=$NSB
	# ip netns exec execs kea-dhcp4 in place: $! is Kea's PID.
	ip netns exec "$n" kea-dhcp4 -c "$T/$k.json" >"$T/kea-$k.stdout.log" 2>&1 &
	PIDS+=($!)
	[ "$k" = a ] && KEA_A=$!
done
for k in a b; do
	for _ in $(seq 100); do
		[ -S "$T/$k.sock" ] && break
		sleep 0.1
	done
	[ -S "$T/$k.sock" ] || fail "Kea $k did not open its control socket"
done

A="ipc://$T/a.ipc"
B="ipc://$T/b.ipc"
"$FREPD" --listen "$A" --db "$T/a.db" --kea-socket "$T/a.sock" --kea-base "$T/a.json" \
	--kea-ha-url "http://198.51.100.2:8001/" 2>"$T/frepd-a.log" &
PIDS+=($!)
FREPD_A=$!
"$FREPD" --listen "$B" --db "$T/b.db" --kea-socket "$T/b.sock" --kea-base "$T/b.json" \
	--kea-ha-url "http://198.51.100.3:8001/" 2>"$T/frepd-b.log" &
PIDS+=($!)
FREPD_B=$!
on() {
	local s=$1
	shift
	"$FREPCTL" --server "$s" --timeout 10000 "$@"
}
for s in "$A" "$B"; do
	ok=0
	for _ in $(seq 100); do
		on "$s" health >/dev/null 2>&1 && { ok=1; break; }
		sleep 0.1
	done
	[ $ok = 1 ] || fail "frepd $s not healthy"
done

# ha_state SERVER STATE: waits until SERVER's kea status reports Kea's HA
# state STATE (bounded only so that a broken pair fails, not hangs).
ha_state() {
	local st
	for _ in $(seq 600); do
		st=$(on "$1" --json kea status 2>/dev/null)
		python3 -c 'import json, sys
sys.exit(0 if json.loads(sys.argv[1]).get("ha_state") == sys.argv[2] else 1)' "$st" "$2" \
			2>/dev/null && return 0
		sleep 0.1
	done
	echo "kea status of $1: $st" >&2
	return 1
}

# kea_cmd SOCKET JSON: one control command, the answer on stdout.
kea_cmd() {
	python3 - "$1" "$2" <<'PY'
import json, socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(10)
s.connect(sys.argv[1])
s.sendall(sys.argv[2].encode())
data = b""
while True:
    chunk = s.recv(65536)
    if not chunk:
        break
    data += chunk
print(json.dumps(json.loads(data)))
PY
}

# lease RUN: dhclient once in the namespace; prints "ADDRESS SERVER-ID".
cat >"$T/dhclient-script" <<EOF
#!/bin/sh
case "\$reason" in
BOUND|RENEW|REBIND|REBOOT) echo "\$new_ip_address \$new_dhcp_server_identifier" >"$T/got.tmp" && mv "$T/got.tmp" "$T/got" ;;
esac
exit 0
EOF
chmod +x "$T/dhclient-script"
lease() {
	local run=$1 pid got=""
	rm -f "$T/got" "$T/dhclient.leases"
	inns dhclient -d -1 -sf "$T/dhclient-script" -lf "$T/dhclient.leases" \
		-pf "$T/dhclient.pid" br0 >"$T/dhclient-$run.log" 2>&1 &
	pid=$!
	PIDS+=($pid)
	for _ in $(seq 600); do
		[ -s "$T/got" ] && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	[ -s "$T/got" ] && got=$(cat "$T/got")
	kill "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	echo "$got"
}

echo s3cret-kea-ha >"$T/secret"
on "$A" scope add 198.51.100.0/24 --range 198.51.100.100-198.51.100.200 --name kea-ha \
	--lease 1h >/dev/null || fail "scope add"
on "$A" failover add pair --partner "$B" --scope 198.51.100.0 --mode hot-standby --role active \
	--switch-interval 5s --auto-state-transition yes --secret-file "$T/secret" >/dev/null ||
	fail "failover add"

# 1. Both Keas, HA configured only by frep, reach hot standby.
ha_state "$A" hot-standby || fail "A's Kea never reached hot-standby"
ha_state "$B" hot-standby || fail "B's Kea never reached hot-standby"
echo "failover add: both Keas in hot-standby"

# 2. A lease from A's Kea (the active one), known to B's Kea.
read -r ip sid <<<"$(lease 1)"
echo "dhclient got '${ip:-}' from '${sid:-}'"
case "${ip:-}" in
198.51.100.1[0-9][0-9] | 198.51.100.200) ;;
*) fail "expected a pool address 198.51.100.100-200, got '${ip:-}'" ;;
esac
[ "${sid:-}" = 198.51.100.2 ] || fail "the lease did not come from A's Kea (server id '${sid:-}')"
for k in a b; do
	kea_cmd "$T/$k.sock" "{\"command\": \"lease4-get\", \"arguments\": {\"ip-address\": \"$ip\"}}" \
		>"$T/lease-$k.out" || fail "lease4-get on $k"
	python3 - "$T/lease-$k.out" "$MAC" <<'PY' || fail "Kea $k does not know the lease: $(cat "$T/lease-$k.out")"
import json, sys
a = json.load(open(sys.argv[1]))
assert a["result"] == 0, a
assert a["arguments"]["hw-address"] == sys.argv[2], a
PY
done
echo "lease4-get: both Keas know $ip for $MAC"

# 3. A's Kea stopped: B's goes to partner-down and serves the client.
kill "$KEA_A" && wait "$KEA_A" 2>/dev/null
ha_state "$B" partner-down || fail "B's Kea never went to partner-down"
read -r ip2 sid2 <<<"$(lease 2)"
echo "with A's Kea stopped: dhclient got '${ip2:-}' from '${sid2:-}'"
[ "${sid2:-}" = 198.51.100.3 ] || fail "B's Kea did not serve the client (server id '${sid2:-}')"
case "${ip2:-}" in
198.51.100.1[0-9][0-9] | 198.51.100.200) ;;
*) fail "expected a pool address from B, got '${ip2:-}'" ;;
esac
# Each frepd stops cleanly (under ASan, a leak makes its exit status non-zero).
for p in "$FREPD_A" "$FREPD_B"; do
	kill "$p"
	wait "$p"
	rc=$?
	[ "$rc" = 0 ] || fail "frepd $p exited $rc on SIGTERM"
done
echo "PASS"

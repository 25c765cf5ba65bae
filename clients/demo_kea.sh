#!/bin/bash
# demo_kea: both halves of a Windows-style failover (run as root).
# Two frepd partners on loopback, each driving its own kea-dhcp4 whose base
# file has no HA section. Each Kea runs in a network namespace of its own,
# on a veth bridged (with the other's) in a third namespace where a DHCP
# client runs (192.0.2.0/24, TEST-NET-1: nothing leaves the machine).
#  - configuration: a reservation made on A is replicated to B by frep and
#    pushed into both Keas;
#  - leases: the relationship (hot standby, A active) is rendered as Kea's
#    HA hook on both servers; the client's lease from A's Kea is known to
#    B's Kea, and when A's Kea stops, B's takes over and serves the client.
# Each of these is checked, not only shown: the first answer comes from A's
# Kea with the reservation, B's Kea answers lease4-get for it with result 0
# and the client's MAC, and the answer after the takeover comes from B's
# Kea; otherwise the demo says which did not hold and exits 1. The state
# switch interval is 5 s, as in tests/kea_ha_e2e_test.sh: short, yet long
# enough that a busy machine's late heartbeat does not make the pair flap.
# Everything is removed at the end.
# Usage: clients/demo_kea.sh [BUILD_DIR]   (default: build)
set -eu
BUILD=${1:-build}
FREPD=$BUILD/rpc/frepd
FREPCTL=$BUILD/clients/frepctl
[ "$(id -u)" = 0 ] || { echo "demo-kea: run as root (network namespace, veth, raw sockets)"; exit 1; }
for p in kea-dhcp4 dhclient ip python3 "$FREPD" "$FREPCTL"; do
	command -v "$p" >/dev/null 2>&1 || { echo "demo-kea: $p not found"; exit 1; }
done

T=$(mktemp -d /tmp/frep-demo-kea.XXXXXX)
RID=$(printf '%04x%04x' $((RANDOM)) $((RANDOM)))
NS="frep-$RID"
NSA="frepa-$RID"
NSB="frepb-$RID"
MAC=02:00:00:5e:10:42
PIDS=()
MADE=()
KEA_A=
say() { printf '\n== %s\n' "$*"; }
cleanup() {
	set +e
	for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null; done
	for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null; done
	for n in "${MADE[@]}"; do
		for pid in $(ip netns pids "$n" 2>/dev/null); do kill -9 "$pid"; done
		ip netns del "$n" 2>/dev/null
	done
	rm -rf "$T"
}
trap cleanup EXIT

say "network namespaces: $NSA (A's Kea, 192.0.2.2), $NSB (B's Kea, 192.0.2.3), $NS (the client, MAC $MAC, on a bridge to both)"
for n in "$NS" "$NSA" "$NSB"; do
	ip netns add "$n"
	MADE+=("$n")
	ip netns exec "$n" ip link set lo up
done
inns() { ip netns exec "$NS" "$@"; }
ip netns exec "$NSA" ip link add ka type veth peer name nsa netns "$NS"
ip netns exec "$NSB" ip link add kb type veth peer name nsb netns "$NS"
ip netns exec "$NSA" ip addr add 192.0.2.2/24 dev ka
ip netns exec "$NSB" ip addr add 192.0.2.3/24 dev kb
ip netns exec "$NSA" ip link set ka up
ip netns exec "$NSB" ip link set kb up
inns ip link add br0 type bridge forward_delay 0 stp_state 0
inns ip link set nsa master br0
inns ip link set nsb master br0
inns ip link set br0 address "$MAC"
for l in nsa nsb br0; do inns ip link set "$l" up; done

export KEA_PIDFILE_DIR="$T" KEA_LOCKFILE_DIR="$T"
for k in a b; do
	ifc=ka n=$NSA
	[ $k = b ] && ifc=kb n=$NSB
	cat >"$T/$k.json" <<JSON
{ "Dhcp4": {
    "interfaces-config": { "interfaces": [ "$ifc" ], "service-sockets-max-retries": 20, "service-sockets-retry-wait-time": 250 },
    "multi-threading": { "enable-multi-threading": true },
    "control-socket": { "socket-type": "unix", "socket-name": "$T/$k.sock" },
    "lease-database": { "type": "memfile", "persist": true, "name": "$T/$k.leases", "lfc-interval": 0 },
    "loggers": [ { "name": "kea-dhcp4", "severity": "INFO", "output_options": [ { "output": "$T/kea-$k.log" } ] } ] } }
JSON
	ip netns exec "$n" kea-dhcp4 -c "$T/$k.json" >"$T/kea-$k.out" 2>&1 &
	PIDS+=($!)
	[ $k = a ] && KEA_A=$!
done
for k in a b; do
	for _ in $(seq 100); do [ -S "$T/$k.sock" ] && break; sleep 0.1; done
done
echo "the base files have no HA section: $(grep -c high-availability "$T/a.json" "$T/b.json" | tr '\n' ' ')"
A="ipc://$T/a.ipc"
B="ipc://$T/b.ipc"
"$FREPD" --listen "$A" --db "$T/a.db" --kea-socket "$T/a.sock" --kea-base "$T/a.json" \
	--kea-ha-url "http://192.0.2.2:8001/" 2>"$T/frepd-a.log" &
PIDS+=($!)
"$FREPD" --listen "$B" --db "$T/b.db" --kea-socket "$T/b.sock" --kea-base "$T/b.json" \
	--kea-ha-url "http://192.0.2.3:8001/" 2>"$T/frepd-b.log" &
PIDS+=($!)
on() { local s=$1; shift; "$FREPCTL" --server "$s" --timeout 10000 "$@"; }
for s in "$A" "$B"; do
	for _ in $(seq 50); do on "$s" health >/dev/null 2>&1 && break; sleep 0.1; done
done
ha_state() {
	for _ in $(seq 600); do
		on "$1" --json kea status 2>/dev/null | python3 -c 'import json, sys
sys.exit(0 if json.load(sys.stdin).get("ha_state") == sys.argv[1] else 1)' "$2" && return 0
		sleep 0.1
	done
	echo "demo-kea: $1 never reached $2"
	exit 1
}
kea_cmd() {
	python3 - "$1" "$2" <<'PY'
import json, socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(sys.argv[2].encode())
data = b""
while True:
    chunk = s.recv(65536)
    if not chunk:
        break
    data += chunk
print(json.dumps(json.loads(data), indent=1))
PY
}
cat >"$T/script" <<SH
#!/bin/sh
case "\$reason" in BOUND|RENEW|REBIND|REBOOT) echo "\$new_ip_address from \$new_dhcp_server_identifier" >"$T/got" ;; esac
exit 0
SH
chmod +x "$T/script"
# ask: dhclient once; sets GOT_IP and GOT_SID (the answer's server identifier).
ask() {
	rm -f "$T/got" "$T/dhclient.leases"
	inns dhclient -d -1 -sf "$T/script" -lf "$T/dhclient.leases" -pf "$T/dhclient.pid" br0 >"$T/dhclient.log" 2>&1 &
	local pid=$!
	PIDS+=($pid)
	for _ in $(seq 300); do [ -s "$T/got" ] && break; sleep 0.1; done
	kill "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	[ -s "$T/got" ] || { echo "demo-kea: the client got no address"; exit 1; }
	read -r GOT_IP _ GOT_SID <"$T/got"
	echo "demo-kea: the client got $GOT_IP from $GOT_SID"
}
# expect WHAT ACTUAL WANTED: exit 1 unless they are equal.
expect() {
	[ "$2" = "$3" ] || { echo "demo-kea: FAILED: $1 is '$2', expected '$3'"; exit 1; }
	echo "demo-kea: ok: $1 is $3"
}

say "on A: a scope, a hot-standby relationship A<->B (A active, 5 s state switch interval), a reservation for $MAC"
on "$A" scope add 192.0.2.0/24 --range 192.0.2.100-192.0.2.200 --name demo --lease 1h
echo demo-secret >"$T/secret"
on "$A" failover add demo-pair --partner "$B" --scope 192.0.2.0 --secret-file "$T/secret" \
	--mode hot-standby --role active --switch-interval 5s --auto-state-transition yes
on "$A" reservation add 192.0.2.0 192.0.2.50 --client-id "${MAC//:/-}" --name demo-client
say "half 1, configuration: replicate A -> B (frep)"
on "$A" replicate --name demo-pair --force
say "half 2, leases: each side's relationship holds both Kea HA URLs (exchanged at failover add)"
on "$B" --json failover get demo-pair | grep kea_ha_url
say "B's Kea HA hook, as B's frepd rendered it (the mirror of A's)"
on "$B" kea render --quiet | python3 -c 'import json, sys
d = json.load(sys.stdin)["Dhcp4"]
print(json.dumps(d["hooks-libraries"], indent=1))'
ha_state "$A" hot-standby
ha_state "$B" hot-standby
on "$A" kea status | grep "kea HA"

say "dhclient in $NS asks: A's Kea (active) answers with the reservation replicated by frep"
ask
expect "the first answer's server" "$GOT_SID" 192.0.2.2
expect "the first answer's address (the reservation)" "$GOT_IP" 192.0.2.50
say "B's Kea knows that lease (lease4-get on B's control socket): the HA pair frep configured keeps leases in step"
kea_cmd "$T/b.sock" "{\"command\": \"lease4-get\", \"arguments\": {\"ip-address\": \"$GOT_IP\"}}" | tee "$T/lease-b.json"
expect "B's lease4-get result" "$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1])).get("result", ""))' "$T/lease-b.json")" 0
expect "the hw-address of B's lease" \
	"$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1])).get("arguments", {}).get("hw-address", ""))' "$T/lease-b.json")" "$MAC"

say "A's Kea stopped: B's Kea goes to partner-down and serves the client"
kill "$KEA_A"
wait "$KEA_A" 2>/dev/null || true
ha_state "$B" partner-down
on "$B" kea status | grep "kea HA"
ask
expect "the answer's server after the takeover" "$GOT_SID" 192.0.2.3
say "demo-kea: both halves shown and checked"

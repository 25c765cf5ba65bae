#!/bin/bash
# demo_kea: a DHCP client served by the partner's Kea (run as root).
# Two frepd partners on loopback, each driving its own kea-dhcp4; B's Kea
# listens on one end of a veth pair whose other end is in a network
# namespace made here (192.0.2.0/24, TEST-NET-1: nothing leaves the
# machine). A reservation made on A is replicated to B, B's frepd pushes
# it into B's Kea, and dhclient in the namespace gets the reserved address
# from B's Kea. Everything is removed at the end.
# Usage: clients/demo_kea.sh [BUILD_DIR]   (default: build)
set -eu
BUILD=${1:-build}
FREPD=$BUILD/rpc/frepd
FREPCTL=$BUILD/clients/frepctl
[ "$(id -u)" = 0 ] || { echo "demo-kea: run as root (network namespace, veth, raw sockets)"; exit 1; }
for p in kea-dhcp4 dhclient ip "$FREPD" "$FREPCTL"; do
	command -v "$p" >/dev/null 2>&1 || { echo "demo-kea: $p not found"; exit 1; }
done

T=$(mktemp -d /tmp/frep-demo-kea.XXXXXX)
RID=$(printf '%04x%04x' $((RANDOM)) $((RANDOM)))
NS="frep-$RID"
VB="frb${RID:0:8}"
VC="frc${RID:0:8}"
MAC=02:00:00:5e:10:42
PIDS=()
say() { printf '\n== %s\n' "$*"; }
cleanup() {
	set +e
	for pid in $(ip netns pids "$NS" 2>/dev/null); do kill -9 "$pid"; done
	for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null; done
	for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null; done
	ip link del "$VB" 2>/dev/null
	ip netns del "$NS" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT

say "a network namespace $NS, a veth pair: $VB (B's Kea, 192.0.2.1) <-> $VC (the client, MAC $MAC)"
ip netns add "$NS"
ip link add "$VB" type veth peer name "$VC"
ip link set "$VC" netns "$NS"
ip addr add 192.0.2.1/24 dev "$VB"
ip link set "$VB" up
ip netns exec "$NS" ip link set "$VC" address "$MAC"
ip netns exec "$NS" ip link set "$VC" up

export KEA_PIDFILE_DIR="$T" KEA_LOCKFILE_DIR="$T"
for k in a b; do
	ifs='[]'
	[ $k = b ] && ifs="[\"$VB\"]"
	cat >"$T/$k.json" <<JSON
{ "Dhcp4": {
    "interfaces-config": { "interfaces": $ifs },
    "control-socket": { "socket-type": "unix", "socket-name": "$T/$k.sock" },
    "lease-database": { "type": "memfile", "persist": true, "name": "$T/$k.leases", "lfc-interval": 0 },
    "loggers": [ { "name": "kea-dhcp4", "severity": "INFO", "output_options": [ { "output": "$T/kea-$k.log" } ] } ] } }
JSON
	kea-dhcp4 -c "$T/$k.json" >"$T/kea-$k.out" 2>&1 &
	PIDS+=($!)
done
sleep 1
A="ipc://$T/a.ipc"
B="ipc://$T/b.ipc"
"$FREPD" --listen "$A" --db "$T/a.db" --kea-socket "$T/a.sock" --kea-base "$T/a.json" 2>"$T/frepd-a.log" &
PIDS+=($!)
"$FREPD" --listen "$B" --db "$T/b.db" --kea-socket "$T/b.sock" --kea-base "$T/b.json" 2>"$T/frepd-b.log" &
PIDS+=($!)
on() { local s=$1; shift; "$FREPCTL" --server "$s" "$@"; }
for s in "$A" "$B"; do
	for _ in $(seq 50); do on "$s" health >/dev/null 2>&1 && break; sleep 0.1; done
done

say "on A: a scope, a relationship A<->B (the scope is created on B), a reservation for $MAC"
on "$A" scope add 192.0.2.0/24 --range 192.0.2.100-192.0.2.200 --name demo --lease 1h
echo demo-secret >"$T/secret"
on "$A" failover add demo-pair --partner "$B" --scope 192.0.2.0 --secret-file "$T/secret"
on "$A" reservation add 192.0.2.0 192.0.2.50 --client-id "${MAC//:/-}" --name demo-client
say "replicate A -> B"
on "$A" replicate --name demo-pair --force
sleep 1
say "B's Kea, as B's frepd pushed it"
on "$B" kea status
on "$B" kea render --quiet | head -40

say "dhclient in $NS asks; only B's Kea listens on the link"
cat >"$T/script" <<SH
#!/bin/sh
case "\$reason" in BOUND|RENEW|REBIND|REBOOT) echo "\$new_ip_address" >"$T/got" ;; esac
exit 0
SH
chmod +x "$T/script"
ip netns exec "$NS" dhclient -d -1 -v -sf "$T/script" -lf "$T/dhclient.leases" -pf "$T/dhclient.pid" "$VC" >"$T/dhclient.log" 2>&1 &
DPID=$!
PIDS+=($DPID)
for _ in $(seq 200); do [ -s "$T/got" ] && break; sleep 0.1; done
grep -E "DHCP(OFFER|ACK)" "$T/dhclient.log" || true
if [ -s "$T/got" ]; then
	echo "demo-kea: the client got $(cat "$T/got") from B's Kea (reserved on A, replicated to B)"
else
	echo "demo-kea: the client got no address"; exit 1
fi

#!/bin/bash
# kea_e2e_test: the data plane end to end, as root. Two frepd partners,
# each driving its own kea-dhcp4 (own config, control socket, lease file and
# pid file in a temp dir). B's Kea listens on the host end of a veth pair
# whose other end sits in a network namespace made here (192.0.2.0/24,
# TEST-NET-1: nothing leaves the machine); A's Kea listens on no interface.
#  1. a scope and a relationship A<->B; a reservation added on A and
#     replicated: dhclient in the namespace, with the reservation's MAC,
#     gets the reserved address from B's Kea;
#  2. the reservation removed on A and replicated: the client now gets a
#     pool address (192.0.2.100-200), not the reserved one.
# Without root, Kea, dhclient or network namespaces: prints why and exits
# 77 (ctest SKIP_RETURN_CODE). Everything made here is removed at the end,
# on failure too.
set -u

# skip TAG WHY: prints FREP-SKIP(TAG) for tests/skip_guard.sh, exits 77.
skip() {
	tag=$1
	shift
	echo "FREP-SKIP($tag): $*"
	exit 77
}
fail() {
	echo "FAIL: $*" >&2
	for f in "$T"/*.log; do
		[ -f "$f" ] && { echo "--- $f" >&2; tail -n 30 "$f" >&2; }
	done
	exit 1
}

[ "$(id -u)" = 0 ] || skip root "needs root (network namespace, veth, raw sockets)"
for p in kea-dhcp4 dhclient ip; do
	command -v "$p" >/dev/null 2>&1 || skip kea "$p is not installed"
done
FREPD=${FREPD:?FREPD must name the frepd binary}
FREPCTL=${FREPCTL:?FREPCTL must name the frepctl binary}

T=$(mktemp -d --tmpdir frep-kea.XXXXXX)
RID=$(printf '%04x%04x' $((RANDOM)) $((RANDOM)))
NS="frep-$RID"
VB="frb${RID:0:8}" # host end (B's Kea), <= 15 chars
VC="frc${RID:0:8}" # client end, in the namespace
MAC=02:00:00:5e:10:01
PIDS=()
NS_MADE=0

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
	# Whatever still runs in our namespace (a dhclient cut short) is ours.
	if [ "$NS_MADE" = 1 ]; then
		for pid in $(ip netns pids "$NS" 2>/dev/null); do
			kill -9 "$pid" 2>/dev/null
		done
	fi
	ip link del "$VB" 2>/dev/null
	[ "$NS_MADE" = 1 ] && ip netns del "$NS" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

ip netns add "$NS" 2>"$T/netns.err" || skip netns "cannot create a network namespace here: $(cat "$T/netns.err")"
NS_MADE=1
ip link add "$VB" type veth peer name "$VC" 2>"$T/veth.err" || skip netns "cannot create a veth pair: $(cat "$T/veth.err")"
ip link set "$VC" netns "$NS" || fail "move $VC into $NS"
ip addr add 192.0.2.1/24 dev "$VB" || fail "address on $VB"
ip link set "$VB" up || fail "$VB up"
ip netns exec "$NS" ip link set lo up
ip netns exec "$NS" ip link set "$VC" address "$MAC" || fail "MAC of $VC"
ip netns exec "$NS" ip link set "$VC" up || fail "$VC up"

export KEA_PIDFILE_DIR="$T" KEA_LOCKFILE_DIR="$T"

# kea_base NAME INTERFACES_JSON: the operator's base file of one Kea.
kea_base() {
	cat >"$T/$1.json" <<EOF
{
  "Dhcp4": {
    "interfaces-config": { "interfaces": $2 },
    "control-socket": { "socket-type": "unix", "socket-name": "$T/$1.sock" },
    "lease-database": { "type": "memfile", "persist": true, "name": "$T/$1.leases", "lfc-interval": 0 },
    "valid-lifetime": 3600,
    "loggers": [ { "name": "kea-dhcp4", "severity": "INFO",
                   "output_options": [ { "output": "$T/kea-$1.log" } ] } ]
  }
}
EOF
}
kea_base a '[]'
kea_base b "[\"$VB\"]"

for k in a b; do
	kea-dhcp4 -c "$T/$k.json" >"$T/kea-$k.stdout.log" 2>&1 &
	PIDS+=($!)
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
	2>"$T/frepd-a.log" &
PIDS+=($!)
"$FREPD" --listen "$B" --db "$T/b.db" --kea-socket "$T/b.sock" --kea-base "$T/b.json" \
	2>"$T/frepd-b.log" &
PIDS+=($!)

on() {
	local s=$1
	shift
	"$FREPCTL" --server "$s" "$@"
}
for s in "$A" "$B"; do
	ok=0
	for _ in $(seq 100); do
		on "$s" health >/dev/null 2>&1 && { ok=1; break; }
		sleep 0.1
	done
	[ $ok = 1 ] || fail "frepd $s not healthy"
done

# in_step SERVER: waits until that frepd's Kea holds the current rendering.
in_step() {
	local st
	for _ in $(seq 150); do
		st=$(on "$1" --json kea status 2>/dev/null)
		if python3 - "$st" <<'PY'
import json, sys
s = json.loads(sys.argv[1])
ok = (s.get("enabled") and not s.get("pending") and s.get("consecutive_failures", 0) == 0
      and s.get("last_pushed_digest") and s.get("last_pushed_digest") == s.get("current_digest"))
sys.exit(0 if ok else 1)
PY
		then
			return 0
		fi
		sleep 0.1
	done
	echo "kea status of $1: $st" >&2
	return 1
}

# lease RUN: runs dhclient once in the namespace; prints the address got.
cat >"$T/dhclient-script" <<EOF
#!/bin/sh
case "\$reason" in
BOUND|RENEW|REBIND|REBOOT) echo "\$new_ip_address" >"$T/got.tmp" && mv "$T/got.tmp" "$T/got" ;;
esac
exit 0
EOF
chmod +x "$T/dhclient-script"
lease() {
	local run=$1 pid got=""
	rm -f "$T/got" "$T/dhclient.leases"
	ip netns exec "$NS" dhclient -d -1 -sf "$T/dhclient-script" \
		-lf "$T/dhclient.leases" -pf "$T/dhclient.pid" "$VC" >"$T/dhclient-$run.log" 2>&1 &
	pid=$!
	PIDS+=($pid)
	for _ in $(seq 300); do
		[ -s "$T/got" ] && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	[ -s "$T/got" ] && got=$(cat "$T/got")
	# Give the address back so the next run starts afresh.
	if [ -n "$got" ]; then
		ip netns exec "$NS" dhclient -r -sf "$T/dhclient-script" -lf "$T/dhclient.leases" \
			-pf "$T/dhclient.pid" "$VC" >>"$T/dhclient-$run.log" 2>&1
	fi
	kill "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	echo "$got"
}

echo s3cret-kea >"$T/secret"
on "$A" scope add 192.0.2.0/24 --range 192.0.2.100-192.0.2.200 --name kea-e2e --lease 1h \
	>/dev/null || fail "scope add"
on "$A" option set --scope 192.0.2.0 3 192.0.2.1 >/dev/null || fail "option set"
on "$A" failover add pair --partner "$B" --scope 192.0.2.0 --mode load-balance --percent 50 \
	--secret-file "$T/secret" >/dev/null || fail "failover add"
on "$A" reservation add 192.0.2.0 192.0.2.50 --client-id "${MAC//:/-}" --name client1 \
	>/dev/null || fail "reservation add"
on "$A" replicate --name pair --force >/dev/null || fail "replicate (add)"
in_step "$A" || fail "A's Kea not in step"
in_step "$B" || fail "B's Kea not in step after the reservation was replicated"
grep -q '"192.0.2.50"' "$T/b.json" || fail "config-write: B's Kea config file lacks the reservation"

got=$(lease 1)
echo "with the reservation: dhclient got '${got}' from B's Kea"
[ "$got" = 192.0.2.50 ] || fail "expected the reserved 192.0.2.50, got '${got}'"

on "$A" reservation remove 192.0.2.0 192.0.2.50 >/dev/null || fail "reservation remove"
on "$A" replicate --name pair --force >/dev/null || fail "replicate (remove)"
in_step "$B" || fail "B's Kea not in step after the removal was replicated"
grep -q '"192.0.2.50"' "$T/b.json" && fail "B's Kea config file still holds the reservation"

got=$(lease 2)
echo "without the reservation: dhclient got '${got}' from B's Kea"
case "$got" in
192.0.2.1[0-9][0-9] | 192.0.2.200) ;;
*) fail "expected a pool address 192.0.2.100-200, got '${got}'" ;;
esac

# Health of the data plane: SERVING while Kea is in step; NOT_SERVING once
# a push fails (B's Kea stopped, then a change), reported by kea status.
on "$B" health frep.v1.DataPlane >/dev/null || fail "health frep.v1.DataPlane on B not SERVING"
kill "${PIDS[1]}" && wait "${PIDS[1]}" 2>/dev/null
on "$B" option set --scope 192.0.2.0 6 192.0.2.1 >/dev/null || fail "option set on B"
down=0
for _ in $(seq 100); do
	if ! on "$B" health frep.v1.DataPlane >/dev/null 2>&1; then down=1; break; fi
	sleep 0.1
done
[ $down = 1 ] || fail "health frep.v1.DataPlane stayed SERVING with B's Kea stopped"
on "$B" kea status >"$T/status.out" 2>&1 && fail "kea status exit 0 while pushes fail"
grep -q "last_error" "$T/status.out" || fail "kea status shows no last_error"
echo "with B's Kea stopped: $(grep last_error: "$T/status.out" | head -1)"
echo "PASS"

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
#  3. one change pushed (a reservation added on A, auto-synced to B): each
#     config-set reloads Kea's hooks, so each Kea's HA service starts again
#     (waiting, syncing, ...); measured and printed: how long each Kea is out
#     of hot-standby (docs/TESTS.md, known gaps); both must be back in
#     hot-standby within 60 s;
#  4. A's Kea stopped: B's Kea goes to partner-down and serves the client.
#     B's Kea runs the shortened timers (config-get: max-response-delay
#     5000, max-unacked-clients 0), and partner-down must come within the
#     delay plus a generous slack (5 s + 25 s from A's Kea stopping; the
#     measured time is printed): with Kea's own defaults (max-response-delay
#     60 s, then failure detection until 10 clients go unanswered: never,
#     with one client) it would not come within 30 s.
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

# now_ms: the wall clock in milliseconds.
now_ms() {
	echo $(($(date +%s%N) / 1000000))
}

# ha_state_within SERVER STATE SECONDS: polls SERVER's kea status until it
# reports Kea's HA state STATE; 1 if SECONDS pass first.
ha_state_within() {
	local st deadline=$(($(now_ms) + $3 * 1000))
	while [ "$(now_ms)" -lt "$deadline" ]; do
		st=$(on "$1" --json kea status 2>/dev/null)
		python3 -c 'import json, sys
sys.exit(0 if json.loads(sys.argv[1]).get("ha_state") == sys.argv[2] else 1)' "$st" "$2" \
			2>/dev/null && return 0
		sleep 0.1
	done
	echo "kea status of $1: $st" >&2
	return 1
}

# ha_state SERVER STATE: waits until SERVER's kea status reports Kea's HA
# state STATE (bounded only so that a broken pair fails, not hangs).
ha_state() {
	ha_state_within "$1" "$2" 90
}

# kea_ctl.py: one control command to a Kea (kea_command), shared by kea_cmd
# and the HA watcher of step 3.
cat >"$T/kea_ctl.py" <<'PY'
import json, socket, sys

def kea_command(path, text, timeout=10):
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(timeout)
    try:
        s.connect(path)
        s.sendall(text.encode())
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    finally:
        s.close()
    return json.loads(data)

if __name__ == "__main__":
    print(json.dumps(kea_command(sys.argv[1], sys.argv[2])))
PY

# kea_cmd SOCKET JSON: one control command, the answer on stdout.
kea_cmd() {
	python3 "$T/kea_ctl.py" "$1" "$2"
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

# 3. One change pushed to both Keas: how long each is out of hot-standby.
# A watcher asks both Keas (status-get over their control sockets) every
# 50 ms from just before the change until both have left hot-standby and
# been back in it for 3 s (at most 60 s), then prints, per Kea, the time
# out of it and the states it went through.
cat >"$T/ha_watch.py" <<'PY'
import os, sys, time
sys.path.insert(0, os.path.dirname(sys.argv[0]))
from kea_ctl import kea_command
socks, names, limit = sys.argv[1:3], ["A", "B"], float(sys.argv[3])
want, stable = "hot-standby", 3.0

def state(path):
    try:
        a = kea_command(path, '{"command": "status-get"}', timeout=2)
        a = a[0] if isinstance(a, list) else a
        ha = a.get("arguments", {}).get("high-availability")
        return ha[0]["ha-servers"]["local"]["state"] if ha else "(no HA service)"
    except Exception:
        return "(no answer)"

# Ready once both have been in hot-standby for 2 s (a push of the steps
# before may still be settling); the change is made after that.
ready_file, since, t = sys.argv[4], None, time.monotonic()
while since is None or time.monotonic() - since < 2.0:
    if time.monotonic() - t > limit:
        print(f"the pair was not in {want} before the change: {[state(p) for p in socks]}")
        sys.exit(1)
    both = all(state(p) == want for p in socks)
    since = (since or time.monotonic()) if both else None
    time.sleep(0.05)
open(ready_file, "w").close()
t0 = time.monotonic()
left = [None, None]  # when each first left hot-standby
back = [None, None]  # when each was last seen back in it
out_s = [0.0, 0.0]   # time out of it, summed
seen = [[], []]      # the states each went through, in order
last = [want, want]
prev_t = t0
while True:
    t = time.monotonic()
    now = [state(p) for p in socks]
    for i in range(2):
        if last[i] != want:
            out_s[i] += t - prev_t
        if now[i] != want and left[i] is None:
            left[i] = t
        if now[i] != last[i]:
            print(f"{t - t0:.2f} s: {names[i]} {now[i]}", file=sys.stderr)
        if now[i] != last[i]:
            if now[i] == want:
                back[i] = t
            elif not seen[i] or seen[i][-1] != now[i]:
                seen[i].append(now[i])
        last[i] = now[i]
    prev_t = t
    done = all(left[i] is not None and last[i] == want and t - back[i] >= stable
               for i in range(2))
    if done or t - t0 > limit:
        break
    time.sleep(0.05)
ok = True
for i in range(2):
    if left[i] is None:
        print(f"{names[i]}'s Kea never left {want} (no push reached it?)")
        ok = False
    elif last[i] != want:
        print(f"{names[i]}'s Kea not back in {want} after {limit:.0f} s (now {last[i]}; "
              f"went through {', '.join(seen[i])})")
        ok = False
    else:
        print(f"{names[i]}'s Kea out of {want} for {out_s[i]:.1f} s "
              f"(left {left[i] - t0:.1f} s after the change, back {back[i] - t0:.1f} s; "
              f"went through {', '.join(seen[i])})")
sys.exit(0 if ok else 1)
PY
python3 "$T/ha_watch.py" "$T/a.sock" "$T/b.sock" 60 "$T/ha_watch.ready" >"$T/ha_watch.out" \
	2>"$T/ha_watch.log" &
WATCH=$!
PIDS+=($WATCH)
while [ ! -e "$T/ha_watch.ready" ] && kill -0 "$WATCH" 2>/dev/null; do
	sleep 0.05
done
on "$A" reservation add 198.51.100.0 198.51.100.60 --client-id 02-00-00-5e-19-02 \
	--name other-client >/dev/null || fail "reservation add on A"
wait "$WATCH"
watch_rc=$?
sed 's/^/push: /' "$T/ha_watch.out"
sed 's/^/push: state at /' "$T/ha_watch.log"
[ "$watch_rc" = 0 ] || fail "the pair did not come back to hot-standby after one push"
ha_state "$A" hot-standby || fail "A's Kea not in hot-standby after the push"
ha_state "$B" hot-standby || fail "B's Kea not in hot-standby after the push"

# 4. A's Kea stopped: B's goes to partner-down within the shortened delay
# (plus slack) and serves the client. First: B's Kea runs the timers frep
# rendered from the relationship (state switch interval 5 s).
kea_cmd "$T/b.sock" '{"command": "config-get"}' >"$T/config-b.out" || fail "config-get on b"
python3 - "$T/config-b.out" <<'PY' || fail "B's Kea does not run the shortened HA timers"
import json, sys
d = json.load(open(sys.argv[1]))["arguments"]["Dhcp4"]
ha = [h for h in d["hooks-libraries"] if h["library"].endswith("/libdhcp_ha.so")]
c = ha[0]["parameters"]["high-availability"][0]
got = {k: c.get(k) for k in ("max-response-delay", "heartbeat-delay", "max-unacked-clients")}
assert got == {"max-response-delay": 5000, "heartbeat-delay": 2500, "max-unacked-clients": 0}, got
PY
DELAY_S=5
SLACK_S=25
t_kill=$(now_ms)
kill "$KEA_A" && wait "$KEA_A" 2>/dev/null
if ! ha_state_within "$B" partner-down $((DELAY_S + SLACK_S)); then
	fail "B's Kea not in partner-down $((DELAY_S + SLACK_S)) s after A's Kea stopped (max-response-delay ${DELAY_S} s + ${SLACK_S} s slack; measured $(($(now_ms) - t_kill)) ms): the shortened delay is not in effect"
fi
took=$(($(now_ms) - t_kill))
echo "A's Kea stopped: B's Kea in partner-down after ${took} ms (bound $((DELAY_S + SLACK_S)) s; max-response-delay ${DELAY_S} s)"
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

#!/usr/bin/env bash
# DNS dynamic-update settings through a real frepd (issue 16): `frepctl dns
# set` on a scope and a reservation, `dns get --json` shows the named
# fields and where they come from; they are option 81's value (so they go
# with the scope's snapshot) and `kea render` gives the subnet ddns-*
# parameters, never option 81 as option data; every setting is accepted
# by kea-dhcp4 -t. Bad values: exit 2 (command line) or 1 with the
# server's INVALID_ARGUMENT. Needs kea-dhcp4 (77 without it).
set -euo pipefail
: "${FREPD:?run through ctest}" "${FREPCTL:?run through ctest}"
command -v kea-dhcp4 >/dev/null || { echo "FREP-SKIP(kea): kea-dhcp4 is not on PATH (make deps)"; exit 77; }

work=$(mktemp -d --tmpdir kea-dns-test-XXXXXX)
pid=
cleanup() {
  if [ -n "$pid" ]; then kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*" >&2
  for f in err out frepd.log kea-t.log; do
    if [ -f "$work/$f" ]; then echo "--- $f:" >&2; tail -n 20 "$work/$f" >&2; fi
  done
  exit 1
}
url="ipc://$work/frepd.sock"
ctl() { "$FREPCTL" --server "$url" --timeout 10000 "$@"; }
run() {
  local want=$1 rc=0
  shift
  ctl "$@" >"$work/out" 2>"$work/err" || rc=$?
  [ "$rc" -eq "$want" ] || fail "frepctl $* exited $rc, want $want"
}
check() {
  python3 - "$work/out" "$@" <<'PY' || fail "JSON check failed: ${*}"
import json, sys
j = json.load(open(sys.argv[1]))
for expr in sys.argv[2:]:
    if not eval(expr, {"j": j}):
        print("check failed: %s\njson: %s" % (expr, json.dumps(j, indent=1)[:3000]), file=sys.stderr)
        sys.exit(1)
PY
}

"$FREPD" --listen "$url" --db "$work/frep.db" 2>"$work/frepd.log" &
pid=$!
for _ in $(seq 50); do ctl health >/dev/null 2>&1 && break; sleep 0.1; done

run 0 scope add 10.0.1.0/24 --range 10.0.1.10-10.0.1.200 --name a
run 0 scope add 10.0.2.0/24 --range 10.0.2.10-10.0.2.200 --name b
run 0 reservation add 10.0.1.0 10.0.1.5 --client-id 00-11-22-33-44-55

# Nothing set: Windows' default.
run 0 --json dns get --scope 10.0.1.0
check 'j["source"] == "default"' \
  'j["setting"]["delete_dns_rr_on_lease_expiry"] is True' \
  'j["setting"]["dynamic_updates"] == "on-client-request"'

# The scope's own: only the fields given change.
run 0 --json dns set --scope 10.0.1.0 --dynamic-updates always --update-older-clients true --name-protection on
check 'j["setting"]["dynamic_updates"] == "always"' \
  'j["setting"]["update_dns_rr_for_older_clients"] is True' 'j["setting"]["name_protection"] is True' \
  'j["setting"]["delete_dns_rr_on_lease_expiry"] is True' 'j["source"] == "scope"'
run 0 --json dns set --scope 10.0.1.0 --delete-on-expiry false
check 'j["setting"]["dynamic_updates"] == "always"' \
  'j["setting"].get("delete_dns_rr_on_lease_expiry", False) is False'
# Kept as option 81's value (part of the scope's snapshot).
run 0 --json option list --scope 10.0.1.0
check 'any(v["option_id"] == 81 and v["values"] == ["00-00-00-33"] for v in j["values"])'
# The other scope: Never; a reservation's own.
run 0 dns set --scope 10.0.2.0 --dynamic-updates never
run 0 --json dns set --scope 10.0.1.0 --reservation 10.0.1.5 --dynamic-updates never
check 'j["source"] == "reservation"'

# Errors: a bad word is a usage error; a policy or unknown scope is the server's.
run 2 dns set --scope 10.0.1.0 --dynamic-updates sometimes
grep -qF "sometimes" "$work/err" || fail "the bad value is not named"
run 2 dns set --scope 10.0.1.0 --name-protection maybe
run 3 dns get --scope 10.9.9.0   # NOT_FOUND: exit 3 (FREPCTL.md, exit codes)
grep -qF "NOT_FOUND" "$work/err" || fail "unknown scope: no NOT_FOUND"
run 1 option set --scope 10.0.1.0 81 00-01
grep -qF "INVALID_ARGUMENT" "$work/err" || fail "a bad raw option 81: no INVALID_ARGUMENT"

# Rendered as ddns-* parameters, never option data; Kea accepts it.
run 0 kea render --quiet
python3 - "$work/out" <<'PY' || fail "rendering"
import json, sys
d = json.load(open(sys.argv[1]))
d = d.get("Dhcp4", d)
subs = {s["user-context"]["scope-id"]: s for s in d["subnet4"]}
a, b = subs["10.0.1.0"], subs["10.0.2.0"]
assert a["ddns-send-updates"] is True and a["ddns-override-client-update"] is True, a
assert a["ddns-override-no-update"] is True and a["ddns-use-conflict-resolution"] is True, a
assert b["ddns-send-updates"] is False, b
for s in d["subnet4"]:
    for o in s.get("option-data", []) + [o for r in s.get("reservations", []) for o in r.get("option-data", [])]:
        assert o["code"] != 81, s
PY
run 0 kea render --quiet
python3 -c 'import json,sys; d = json.load(open(sys.argv[1])); d = d.get("Dhcp4", d); d["lease-database"] = {"type": "memfile", "persist": False}; print(json.dumps({"Dhcp4": d}))' "$work/out" >"$work/kea.json"
KEA_PIDFILE_DIR=$work KEA_LOCKFILE_DIR=$work kea-dhcp4 -t "$work/kea.json" >"$work/kea-t.log" 2>&1 || fail "kea-dhcp4 -t refused"
run 0 kea render
grep -qF "no per-reservation ddns" "$work/err" || fail "no warning for the reservation's setting"
grep -qF "DeleteDnsRROnLeaseExpiry false" "$work/err" || fail "no warning for DeleteDnsRROnLeaseExpiry"
echo "kea_dns_test: passed"

#!/usr/bin/env bash
# Configures a real frepd (ipc://, its own --db) entirely through frepctl —
# scopes, exclusions, reservations, option definitions, option values at
# every level, classes, policies with criteria and ranges, a failover
# relationship — then reads it all back with `frepctl --json scope show`
# and checks it field by field; then one set and one remove per kind, the
# error paths (exit 1 with the server's status, exit 2 for a bad command
# line) and --help at every level. Run by ctest (label integration).
set -euo pipefail
: "${FREPD:?run through ctest}" "${FREPCTL:?run through ctest}"

work=$(mktemp -d --tmpdir frepctl-test-XXXXXX)
pid=
partner_pid=
cleanup() {
  if [ -n "$pid" ]; then kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  if [ -n "$partner_pid" ]; then kill -TERM "$partner_pid" 2>/dev/null || true; wait "$partner_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

passed=0
fail() {
  echo "FAIL: $*" >&2
  if [ -f "$work/err" ]; then echo "--- stderr:" >&2; cat "$work/err" >&2; fi
  if [ -f "$work/out" ]; then echo "--- stdout:" >&2; cat "$work/out" >&2; fi
  if [ -f "$work/frepd.log" ]; then echo "--- frepd.log (tail):" >&2; tail -n 20 "$work/frepd.log" >&2; fi
  exit 1
}
ok() { passed=$((passed + 1)); }

url="ipc://$work/frepd.sock"
partner_url="ipc://$work/partner.sock"
ctl() { "$FREPCTL" --server "$url" --timeout 10000 "$@"; }

# run EXPECTED_RC ARGS...: frepctl's stdout in $work/out, stderr in $work/err.
run() {
  local want=$1 rc=0
  shift
  ctl "$@" >"$work/out" 2>"$work/err" || rc=$?
  [ "$rc" -eq "$want" ] || fail "frepctl $* exited $rc, want $want"
  ok
}
# must: the call succeeds.
must() { run 0 "$@"; }
# err_has TEXT: stderr holds TEXT.
err_has() { grep -qF -- "$1" "$work/err" || fail "stderr lacks \"$1\""; ok; }
out_has() { grep -qF -- "$1" "$work/out" || fail "stdout lacks \"$1\""; ok; }
# check PYTHON...: asserts over j, the JSON on stdout of the last run.
check() {
  python3 - "$work/out" "$@" <<'PY' || fail "JSON check failed: ${*}"
import json, sys
j = json.load(open(sys.argv[1]))
for expr in sys.argv[2:]:
    try:
        okay = eval(expr, {"j": j})
    except Exception as e:  # a missing key is a failed check, with its reason
        okay = False
        print("error in %s: %r" % (expr, e), file=sys.stderr)
    if not okay:
        print("check failed: %s\njson: %s" % (expr, json.dumps(j, indent=1)[:4000]), file=sys.stderr)
        sys.exit(1)
PY
  ok
}

# --- help and bad command lines need no server ---------------------------------
must --help;                    out_has "scope"; out_has "failover"; out_has "health"
must scope --help;              out_has "show"; out_has "Add-DhcpServerv4Scope"
must scope add --help;          out_has "--range START-END"; out_has "--activate-policies yes|no"
must policy range add --help;   out_has "--scope"
must failover scope --help;     out_has "remove"
must option set --help;         out_has "--reservation IP"
run 2 scope;                    err_has "usage: frepctl [options] scope COMMAND"
run 2 scope add 10.0.0.0/24 --range 10.0.0.10-10.0.0.200 --name X --bogus
err_has 'INVALID_ARGUMENT: scope add: unknown flag "--bogus"'
run 2 scope add 10.0.0.0/24 --range 10.0.0.10-10.0.0.200 --name X --lease 3x
err_has '--lease "3x" is not a duration'
run 2 scope add 10.0.0.0/33 --range 10.0.0.10-10.0.0.200 --name X
err_has 'prefix length "33"'
run 2 scope add 10.0.0.0/24 --name X;  err_has "--range is required"
run 2 scope add 10.0.0.0/24 --range 10.0.0.10 --name X
err_has '"10.0.0.10" is not a range'
run 2 scope set 10.0.0.0;       err_has "nothing to change"
run 2 scope frobnicate;         err_has 'unknown command "scope frobnicate"'
run 2 nosuchcommand;            err_has 'unknown command "nosuchcommand"'
run 2 scope get;                err_has "missing argument"
run 2 scope get 10.0.0.0 extra; err_has 'unexpected argument "extra"'
run 2 scope add 10.0.0.0/24 --range 10.0.0.10-10.0.0.200 --name X --state sleepy
err_has '--state "sleepy" is not one of active, inactive'
run 2 policy add P --criterion vendor-class:maybe:X
err_has '--criterion comparator "maybe" is not one of eq, ne'
run 2 option set --reservation 10.0.0.20 3 10.0.0.1; err_has "--reservation 10.0.0.20 needs --scope"
run 2 optiondef set 250 --multi --single; err_has "another flag already sets"
run 2 failover add r --partner "$url" --scope 10.0.1.0 --secret-file "$work/missing"
err_has "--secret-file $work/missing"

# Nothing listens yet: UNAVAILABLE at once, not after the 10 s deadline
# (fail fast; --wait would wait).
run 4 health; err_has "UNAVAILABLE"; err_has "connection refused by $url"
# With --json (before or after the command) the error is JSON on stderr.
run 4 health --json; err_has '"code":"UNAVAILABLE"'
run 2 --json scope get; err_has '"code":"INVALID_ARGUMENT"'
must -h;                        out_has "usage: frepctl"
run 2 --timeout 5x health;      err_has "--timeout \"5x\""

# --- the server -----------------------------------------------------------------------
"$FREPD" --listen "$url" --db "$work/frep.db" 2>"$work/frepd.log" &
pid=$!
# The failover partner: AddFailover creates the relationship's mirror on it
# and replicates the relationship's scopes there.
"$FREPD" --listen "$partner_url" --db "$work/partner.db" 2>"$work/partner.log" &
partner_pid=$!
# Both servers are starting: --wait (wait-for-ready) waits for them; without
# it a call that finds nothing listening fails at once (above).
must --wait health; out_has SERVING
"$FREPCTL" --server "$partner_url" --timeout 10000 --wait health >/dev/null ||
  fail "the partner frepd did not come up"
must describe; out_has "frep.v1.DhcpServer"

# Everything below is configured through frepctl only.
must scope add 10.0.0.0/24 --range 10.0.0.10-10.0.0.200 --name Office --description "main office" \
  --lease 8d --state inactive --type both --superscope Campus --max-bootp 100 --delay-ms 50 \
  --activate-policies no
out_has "10.0.0.10-10.0.0.200"; out_has "Office"
must scope add 10.0.1.0 --mask 255.255.255.0 --range 10.0.1.10-10.0.1.200 --name Lab --lease 12h
must scope add 10.0.2.0/24 --range 10.0.2.10-10.0.2.200 --name Spare
must exclusion add 10.0.0.0 10.0.0.50-10.0.0.60
must exclusion add 10.0.0.0 10.0.0.70-10.0.0.70
must class add vendor Acme --data acme-phone --description "Acme phones"
must class add user Lab --data lab-user
must optiondef add 250 --name Custom --type string --multi --default a,b --description "site option"
must optiondef add 251 --name AcmeLevel --type dword --vendor-class Acme
must reservation add 10.0.0.0 10.0.0.20 --client-id 00-11-22-33-44-55 --name printer \
  --description "2nd floor" --type dhcp
must reservation add 10.0.0.0 10.0.0.21 --client-id aa:bb:cc:dd:ee:ff
must option set 3 10.0.0.1                                                # server level
must option set --scope 10.0.0.0 6 10.0.0.2,10.0.0.3                     # scope level
must option set --scope 10.0.0.0 --user-class Lab 15 lab.example.com
must option set --scope 10.0.0.0 --vendor-class Acme 251 42
must option set --scope 10.0.0.0 --reservation 10.0.0.20 250 x y,z      # reservation level
must policy add Phones --scope 10.0.0.0 --condition and --order 1 --description "desk phones" \
  --lease 1d --criterion vendor-class:eq:Acme --criterion mac:eq:00-11-22* \
  --range 10.0.0.100-10.0.0.120 --range 10.0.0.130-10.0.0.140
must policy add Guests --scope 10.0.0.0 --disabled --criterion user-class:ne:Lab
must policy add Everywhere --criterion client-id:eq:01-02-03               # server level
must option set --policy Phones --scope 10.0.0.0 3 10.0.0.254             # policy level
must option set --policy Everywhere 250 g
printf 'the-shared-secret\n' >"$work/secret"
# --no-auto-sync: the replicate section below pins the manual cmdlet; the
# auto-sync section turns it on later.
must failover add lab-pair --partner "$partner_url" --scope 10.0.1.0 --mode hot-standby \
  --role standby --reserve 10 --mclt 2h --local "$url" --secret-file "$work/secret" --no-auto-sync
out_has "lab-pair"

# The partner holds the mirror (roles inverted) and a copy of the scope.
"$FREPCTL" --server "$partner_url" --timeout 10000 --json failover get lab-pair >"$work/out" 2>"$work/err" ||
  fail "the partner has no mirror of lab-pair"
check 'j["server_role"] == "SERVER_ROLE_ACTIVE"' 'j["scope_ids"] == ["10.0.1.0"]' '"shared_secret" not in j'
"$FREPCTL" --server "$partner_url" --timeout 10000 --json scope show 10.0.1.0 >"$work/out" 2>"$work/err" ||
  fail "the partner has no copy of scope 10.0.1.0"
partner_digest=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["digest"])' "$work/out")
must --json scope show 10.0.1.0; check 'j["digest"] == "'"$partner_digest"'"' 'j["scope"]["name"] == "Lab"'

# --- read it all back -----------------------------------------------------------------------
must --json scope show 10.0.0.0
check 'j["scope"]["scope_id"] == "10.0.0.0"' \
  'j["scope"]["subnet_mask"] == "255.255.255.0"' \
  'j["scope"]["name"] == "Office"' \
  'j["scope"]["description"] == "main office"' \
  'j["scope"]["start_range"] == "10.0.0.10" and j["scope"]["end_range"] == "10.0.0.200"' \
  'j["scope"]["lease_duration_s"] == 691200' \
  'j["scope"]["state"] == "SCOPE_STATE_INACTIVE"' \
  'j["scope"]["type"] == "CLIENT_TYPE_BOTH"' \
  'j["scope"]["superscope_name"] == "Campus"' \
  'j["scope"]["max_bootp_clients"] == 100' \
  'j["scope"]["delay_ms"] == 50' \
  'j["scope"]["activate_policies"] is False' \
  '[(e["start_range"], e["end_range"]) for e in j["exclusions"]] == [("10.0.0.50", "10.0.0.60"), ("10.0.0.70", "10.0.0.70")]' \
  'len(j["reservations"]) == 2' \
  'j["reservations"][0]["ip_address"] == "10.0.0.20"' \
  'j["reservations"][0]["client_id"] == "00-11-22-33-44-55"' \
  'j["reservations"][0]["name"] == "printer"' \
  'j["reservations"][0]["description"] == "2nd floor"' \
  'j["reservations"][0]["type"] == "CLIENT_TYPE_DHCP"' \
  'j["reservations"][0]["options"] == [{"option_id": 250, "vendor_class": "", "user_class": "", "values": ["x", "y", "z"]}]' \
  'j["reservations"][1]["ip_address"] == "10.0.0.21"' \
  'j["reservations"][1]["client_id"] == "aa-bb-cc-dd-ee-ff"' \
  'j["reservations"][1]["type"] == "CLIENT_TYPE_BOTH"' \
  'j["reservations"][1]["options"] == []' \
  '{(o["option_id"], o["vendor_class"], o["user_class"]): o["values"] for o in j["options"]} == {(6, "", ""): ["10.0.0.2", "10.0.0.3"], (15, "", "Lab"): ["lab.example.com"], (251, "Acme", ""): ["42"]}' \
  '[p["name"] for p in j["policies"]] == ["Guests", "Phones"]' \
  'j["policies"][0]["enabled"] is False' \
  'j["policies"][0]["condition"] == "POLICY_CONDITION_OR"' \
  'j["policies"][0]["criteria"] == [{"type": "CRITERION_TYPE_USER_CLASS", "comparator": "COMPARATOR_NE", "values": ["Lab"]}]' \
  'j["policies"][1]["enabled"] is True' \
  'j["policies"][1]["scope_id"] == "10.0.0.0"' \
  'j["policies"][1]["description"] == "desk phones"' \
  'j["policies"][1]["condition"] == "POLICY_CONDITION_AND"' \
  'j["policies"][1]["processing_order"] == 1' \
  'j["policies"][1]["lease_duration_s"] == 86400' \
  '[(c["type"], c["comparator"], c["values"]) for c in j["policies"][1]["criteria"]] == [("CRITERION_TYPE_VENDOR_CLASS", "COMPARATOR_EQ", ["Acme"]), ("CRITERION_TYPE_MAC_ADDRESS", "COMPARATOR_EQ", ["00-11-22*"])]' \
  '[(r["start_range"], r["end_range"]) for r in j["policies"][1]["ip_ranges"]] == [("10.0.0.100", "10.0.0.120"), ("10.0.0.130", "10.0.0.140")]' \
  'j["policies"][1]["options"] == [{"option_id": 3, "vendor_class": "", "user_class": "", "values": ["10.0.0.254"]}]' \
  'sorted((d["option_id"], d["vendor_class"]) for d in j["option_definitions_used"]) == [(3, ""), (6, ""), (15, ""), (250, ""), (251, "Acme")]' \
  'sorted((c["type"], c["name"]) for c in j["classes_used"]) == [("CLASS_TYPE_USER", "Lab"), ("CLASS_TYPE_VENDOR", "Acme")]' \
  'len(j["digest"]) == 64 and all(ch in "0123456789abcdef" for ch in j["digest"])'
digest=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["digest"])' "$work/out")

# The same for people: sections, aligned tables, the digest.
must scope show 10.0.0.0
out_has "exclusions:"; out_has "10.0.0.50-10.0.0.60"; out_has "policy options:"; out_has "digest: $digest"

# Server level and the other objects.
must --json option list;                  check 'j["values"] == [{"option_id": 3, "vendor_class": "", "user_class": "", "values": ["10.0.0.1"]}]'
must --json policy list
check '[p["name"] for p in j["policies"]] == ["Everywhere"]' \
  'j["policies"][0]["scope_id"] == ""' \
  'j["policies"][0]["options"][0]["values"] == ["g"]' \
  'j["policies"][0]["criteria"][0]["type"] == "CRITERION_TYPE_CLIENT_ID"'
must --json option get --policy Everywhere 250; check 'j["values"] == ["g"]'
must --json optiondef get 250
check 'j["name"] == "Custom"' 'j["type"] == "OPTION_TYPE_STRING"' 'j["multi_valued"] is True' \
  'j["default_value"] == ["a", "b"]' 'j["description"] == "site option"' 'j["predefined"] is False'
must --json optiondef get 251 --vendor-class Acme; check 'j["type"] == "OPTION_TYPE_DWORD"' 'j["vendor_class"] == "Acme"'
must --json class get vendor Acme; check 'j["data"] == "acme-phone"' 'j["description"] == "Acme phones"'
must --json failover get lab-pair
check 'j["partner_server"].endswith("partner.sock")' 'j["mode"] == "FAILOVER_MODE_HOT_STANDBY"' \
  'j["server_role"] == "SERVER_ROLE_STANDBY"' 'j["reserve_percent"] == 10' \
  'j["max_client_lead_time_s"] == 7200' 'j["scope_ids"] == ["10.0.1.0"]' \
  'j["local_server"].endswith("frepd.sock")' '"shared_secret" not in j'
must failover list; out_has "lab-pair"; out_has "hot-standby"
must scope list --json;  check '[s["scope_id"] for s in j["scopes"]] == ["10.0.0.0", "10.0.1.0", "10.0.2.0"]'
must scope list;         out_has "SCOPE"; out_has "10.0.1.10-10.0.1.200"; out_has "12h"
# AddFailover copied 10.0.1.0: a "sent" record here, an "applied" one on the partner naming us.
must --json audit --limit 5
check 'any(r["direction"] == "sent" and r["relationship"] == "lab-pair" and r["scope_id"] == "10.0.1.0" for r in j["records"])'
"$FREPCTL" --server "$partner_url" --timeout 10000 --json audit --limit 5 >"$work/out" 2>"$work/err" ||
  fail "audit on the partner"
check 'any(r["direction"] == "applied" and r["relationship"] == "lab-pair" and r["scope_id"] == "10.0.1.0" and r["source"] == "'"$url"'" for r in j["records"])'
must audit --scope 10.0.1.0

# The secret went in and never comes out.
for args in "failover get lab-pair" "failover list" "--json failover list" "--json failover get lab-pair"; do
  # shellcheck disable=SC2086
  must $args
  if grep -q "the-shared-secret" "$work/out" "$work/err"; then fail "frepctl $args printed the secret"; fi
done

# --- one set per kind (only the named fields change) ------------------------------------------------
must --json scope set 10.0.0.0 --name Office2 --lease unlimited --state active
check 'j["name"] == "Office2"' 'j["lease_duration_s"] == 4294967295' 'j["state"] == "SCOPE_STATE_ACTIVE"' \
  'j["description"] == "main office"' 'j["superscope_name"] == "Campus"' 'j["max_bootp_clients"] == 100'
must --json reservation set 10.0.0.0 10.0.0.20 --name printer2
check 'j["name"] == "printer2"' 'j["client_id"] == "00-11-22-33-44-55"' 'j["description"] == "2nd floor"' \
  'len(j["options"]) == 1'
must --json optiondef set 250 --description changed --default c,d
check 'j["description"] == "changed"' 'j["multi_valued"] is True' 'j["default_value"] == ["c", "d"]' 'j["name"] == "Custom"'
must --json option set --scope 10.0.0.0 6 10.0.0.9;  check 'j["values"] == ["10.0.0.9"]'
must --json class set user Lab --description "lab machines"
check 'j["description"] == "lab machines"' 'j["data"] == "lab-user"'
must --json policy set Phones --scope 10.0.0.0 --enabled no --order 5 --criterion fqdn:eq:*.example.com
check 'j["enabled"] is False' 'j["processing_order"] == 5' 'j["description"] == "desk phones"' \
  '[(c["type"], c["values"]) for c in j["criteria"]] == [("CRITERION_TYPE_FQDN", ["*.example.com"])]' \
  'len(j["ip_ranges"]) == 2'
must --json failover set lab-pair --reserve 20 --mclt 30m
check 'j["reserve_percent"] == 20' 'j["max_client_lead_time_s"] == 1800' 'j["mode"] == "FAILOVER_MODE_HOT_STANDBY"' \
  '"shared_secret" not in j'
must --json scope show 10.0.0.0; check 'j["digest"] != "'"$digest"'"'

# --- one remove per kind ---------------------------------------------------------------------------
must --json policy range remove Phones --scope 10.0.0.0 10.0.0.130-10.0.0.140
check '[(r["start_range"], r["end_range"]) for r in j["ip_ranges"]] == [("10.0.0.100", "10.0.0.120")]'
must --json policy range add Phones --scope 10.0.0.0 10.0.0.150-10.0.0.160
check 'len(j["ip_ranges"]) == 2'
must exclusion remove 10.0.0.0 10.0.0.70-10.0.0.70
must --json exclusion list 10.0.0.0;          check 'len(j["exclusions"]) == 1'
must option remove --scope 10.0.0.0 --reservation 10.0.0.20 250
must --json option list --scope 10.0.0.0 --reservation 10.0.0.20; check 'j.get("values", []) == []'
must reservation remove 10.0.0.0 10.0.0.21
must --json reservation list;                 check '[r["ip_address"] for r in j["reservations"]] == ["10.0.0.20"]'
must policy remove Guests --scope 10.0.0.0
must --json policy list --scope 10.0.0.0;    check '[p["name"] for p in j["policies"]] == ["Phones"]'
must option remove --scope 10.0.0.0 --user-class Lab 15
must class remove user Lab
must --json class list user;                  check '"Lab" not in [c["name"] for c in j["classes"]]'
run 1 optiondef remove 250;                   err_has "FAILED_PRECONDITION"   # a policy still uses it
must option remove --policy Everywhere 250
must optiondef remove 250
run 3 optiondef get 250;                      err_has "NOT_FOUND"
must --json failover scope add lab-pair --scope 10.0.2.0; check 'j["scope_ids"] == ["10.0.1.0", "10.0.2.0"]'
run 2 failover scope remove lab-pair --scope 10.0.2.0; err_has "--yes"   # deletes on the partner: refused off a terminal
must --json failover scope remove lab-pair --scope 10.0.2.0 --yes; check 'j["scope_ids"] == ["10.0.1.0"]'
# --- replicate: the cmdlet's behaviours ------------------------------------------------------------
must reservation add 10.0.1.0 10.0.1.77 --client-id 00-11-22-33-44-f7 --name replicated
run 2 replicate --name lab-pair;              err_has "--force"          # not a terminal: refuse
must replicate --name lab-pair --what-if;     out_has "what-if: 10.0.1.0 add reservation 10.0.1.77"
# The partner answers, and answers NOT_FOUND (a partner that is down does
# not pass this check).
rc=0
"$FREPCTL" --server "$partner_url" --timeout 10000 reservation get 10.0.1.0 10.0.1.77 \
  >"$work/out" 2>"$work/err" || rc=$?
[ "$rc" -ne 0 ] || fail "--what-if changed the partner"
grep -qF NOT_FOUND "$work/err" || fail "partner did not answer NOT_FOUND after --what-if"
ok
must --json replicate --name lab-pair --force
check 'j["scope_ids"] == ["10.0.1.0"] and j["results"][0]["changes"]["reservations"]["added"] == 1'
"$FREPCTL" --server "$partner_url" --timeout 10000 reservation get 10.0.1.0 10.0.1.77 >/dev/null ||
  fail "replicate did not reach the partner"
ok
must --json replicate --scope 10.0.1.0 --force   # --force only skips the question: no full resend
check 'j["results"][0]["code"] == 0 and j["results"][0].get("unchanged") == True'
must --json replicate --scope 10.0.1.0 --yes --full
check 'j["results"][0]["code"] == 0 and not j["results"][0].get("unchanged")'
run 1 replicate --name nope --force;          out_has "NOT_FOUND"
# any number of --scope flags (once at most 64): 70 unknown scopes, 70 per-item errors
run 1 replicate --force $(for i in $(seq 1 70); do printf -- '--scope 10.9.%d.0 ' "$i"; done)
out_has "70 request items not replicable"
run 1 replicate --scope 10.0.0.0 --force;     out_has "FAILED_PRECONDITION"   # in no relationship
run 1 replicate --scope 10.0.1.256 --force;   err_has "INVALID_ARGUMENT"; err_has "10.0.1.256"
run 2 replicate --name lab-pair --scope 10.0.1.0 --force
# --- auto-sync and failover status (issue 15) -----------------------------------------------------
must --json failover get lab-pair;            check 'j["auto_sync"] == "AUTO_SYNC_OFF"'
"$FREPCTL" --server "$partner_url" --timeout 10000 --json failover get lab-pair >"$work/out" 2>"$work/err" ||
  fail "no mirror"
check 'j["auto_sync"] == "AUTO_SYNC_OFF"'                                 # mirrored
must failover status lab-pair --no-server-settings;  out_has "in_sync"     # exit 0: in step
must reservation add 10.0.1.0 10.0.1.78 --client-id 00-11-22-33-44-f8 --name by-itself
run 1 failover status lab-pair --no-server-settings; out_has "pending"     # exit 1: not in step
run 1 --json failover status lab-pair --no-server-settings
check 'j["relationships"][0]["scopes"][0]["state"] == "SCOPE_SYNC_STATE_PENDING"' 'j["in_sync"] is False'
run 2 failover set lab-pair --auto-sync maybe;  err_has "maybe"
must failover set lab-pair --auto-sync on;      out_has "on"
# The pending change goes by itself; wait for it (bounded), then in step.
for _ in $(seq 200); do
  "$FREPCTL" --server "$partner_url" --timeout 10000 reservation get 10.0.1.0 10.0.1.78 >/dev/null 2>&1 && break
  sleep 0.05
done
"$FREPCTL" --server "$partner_url" --timeout 10000 reservation get 10.0.1.0 10.0.1.78 >/dev/null ||
  fail "auto-sync never sent the pending reservation"
ok
for _ in $(seq 200); do ctl failover status lab-pair --no-server-settings >/dev/null 2>&1 && break; sleep 0.05; done
must --json failover status lab-pair --no-server-settings
check 'j["in_sync"] is True' 'j["relationships"][0]["auto_sync"] == "AUTO_SYNC_ON"'
run 1 failover status;                        out_has "server-level settings that differ"   # the server option 3 etc.
must replicate --server-settings --what-if;   out_has "what-if: would change on the partner"
run 2 replicate --server-settings;            err_has "--force"
run 2 replicate --server-settings --scope 10.0.1.0 --force
run 1 replicate --server-settings --kind scopes --force; err_has "kinds[0]"
must replicate --server-settings --force
must --json failover status lab-pair;         check 'j["in_sync"] is True'
run 2 failover add other --partner "$partner_url" --scope 10.0.2.0 --no-auto-sync --auto-sync on \
  --secret-file "$work/secret";               err_has "--no-auto-sync"
run 2 scope remove 10.0.1.0;                  err_has "--yes"                 # refused off a terminal
run 1 scope remove 10.0.1.0 --yes;            err_has "FAILED_PRECONDITION"   # in a relationship
run 2 failover remove lab-pair;               err_has "--yes"
must failover remove lab-pair --yes
must --json failover list;                    check 'j.get("relationships", []) == []'
# failover add and failover scope add take any number of scopes (once at most 64): 70 each
many=""
for i in $(seq 1 70); do
  "$FREPCTL" --server "$url" --timeout 10000 scope add "10.20.$i.0/24" --range "10.20.$i.10-10.20.$i.20" \
    --name "many $i" >/dev/null 2>&1 || fail "scope add 10.20.$i.0"
  many="$many --scope 10.20.$i.0"
done
# shellcheck disable=SC2086 # one --scope flag per word
must failover add many --partner "$partner_url" $many --secret-file "$work/secret" --no-auto-sync
"$FREPCTL" --server "$partner_url" --timeout 10000 --json failover get many >"$work/out" 2>"$work/err" ||
  fail "the partner has no mirror of many"
check 'len(j["scope_ids"]) == 70'
# shellcheck disable=SC2086
must failover scope remove many $many --yes
# shellcheck disable=SC2086
must failover scope add many $many
"$FREPCTL" --server "$partner_url" --timeout 10000 --json failover get many >"$work/out" 2>"$work/err" ||
  fail "the partner has no mirror of many"
check 'len(j["scope_ids"]) == 70'
must failover remove many --yes
for i in $(seq 1 70); do
  "$FREPCTL" --server "$url" --timeout 10000 scope remove "10.20.$i.0" --yes >/dev/null 2>&1 ||
    fail "scope remove 10.20.$i.0"
done
ok
must scope remove 10.0.2.0 --yes
must --json scope list;                       check '[s["scope_id"] for s in j["scopes"]] == ["10.0.0.0", "10.0.1.0"]'

# --- errors from the server: exit 1, its status and message -------------------------------------
run 1 scope add 10.0.5.300/24 --range 10.0.5.10-10.0.5.200 --name Bad
err_has "frepctl: INVALID_ARGUMENT:"; err_has "10.0.5.300"
run 1 reservation add 10.0.0.0 10.0.0.999 --client-id 00-11-22-33-44-66
err_has "INVALID_ARGUMENT"; err_has "10.0.0.999"
run 3 scope get 10.9.9.0;                     err_has "frepctl: NOT_FOUND:"; err_has "10.9.9.0"
run 3 --json scope show 10.9.9.0;             err_has '{"code":"NOT_FOUND","message":"scope 10.9.9.0'
run 3 exclusion add 10.9.9.0 10.9.9.5-10.9.9.6; err_has "NOT_FOUND"
run 1 scope add 10.0.0.0/24 --range 10.0.0.10-10.0.0.200 --name Again; err_has "ALREADY_EXISTS"
run 3 option set --scope 10.0.0.0 249 1;      err_has "NOT_FOUND"; err_has "249"
# Option names as well as numbers; global options after the command; a
# deadline with a unit.
must option set --scope 10.0.0.0 domain-name-servers 10.0.0.53 --timeout 5s --server "$url"
must option get --scope 10.0.0.0 6 --json;    check 'j["values"] == ["10.0.0.53"]'
must option remove --scope 10.0.0.0 domain-name-servers
run 2 option set --scope 10.0.0.0 routr 1.2.3.4; err_has 'option "routr"'
# frepctl call: any method, proto3 JSON in and out.
must call /frep.v1.DhcpServer/GetScope '{"scopeId": "10.0.0.0"}'; check 'j["scopeId"] == "10.0.0.0" and "subnetMask" in j'
must call frep.v1.DhcpServer.ListScopes;     check 'any(x["scopeId"] == "10.0.0.0" for x in j["scopes"])'
echo '{"scope_id": "10.0.0.0"}' | ctl call DhcpServer/GetScope - >"$work/out" || fail "call with stdin"
check 'j["scopeId"] == "10.0.0.0"'
run 3 call DhcpServer/GetScope '{"scopeId": "10.9.9.0"}'; err_has "NOT_FOUND"
run 2 call DhcpServer/GetScope '{"scope": 1}';  err_has 'has no field "scope"'
run 2 call Health/Check;                        err_has "ambiguous method"
must call grpc.health.v1.Health/Check;          check 'j["status"] == "SERVING"'
run 2 call /nope.Service/Method;                err_has 'no method "/nope.Service/Method"' 
run 1 option set 3 not-an-address;           err_has "INVALID_ARGUMENT"; err_has "not-an-address"

# --- tables align by display width, not bytes (libsmartcols; issue 12) -----------------------------
must scope add 10.0.30.0/24 --range 10.0.30.10-10.0.30.200 --name "Ünïcode Büro"
must scope add 10.0.31.0/24 --range 10.0.31.10-10.0.31.200 --name "日本語"
LANG=C LC_ALL=C "$FREPCTL" --server "$url" scope list >"$work/out" 2>"$work/err" || fail "scope list"
python3 - "$work/out" <<'PY' || fail "table columns are not aligned by display width"
import sys, unicodedata
def width(s):
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in s)
lines = open(sys.argv[1], encoding="utf-8").read().splitlines()
head = lines[0]
col = width(head[: head.index("RANGE")])
rows = [l for l in lines[1:] if l.startswith("10.0.3")]
assert len(rows) == 2, rows
for l in rows:
    i = l.index("10.0.3", 8)  # the RANGE cell
    assert width(l[:i]) == col, (l, width(l[:i]), col)
PY
ok
must scope remove 10.0.30.0 --yes
must scope remove 10.0.31.0 --yes

# --- both frepd stop cleanly -------------------------------------------------------------------------
kill -TERM "$pid"
rc=0; wait "$pid" || rc=$?; pid=
[ "$rc" -eq 0 ] || fail "frepd exited $rc on SIGTERM"
ok
kill -TERM "$partner_pid"
rc=0; wait "$partner_pid" || rc=$?; partner_pid=
[ "$rc" -eq 0 ] || fail "the partner frepd exited $rc on SIGTERM"
ok
echo "frepctl test: $passed passed, 0 failed"

#!/usr/bin/env bash
# skip_guard: a skip is not a pass (docs/TESTS.md, "Skips"). Reads the JUnit
# file ctest wrote (`ctest --output-junit FILE`), prints a summary of the
# tests that did not run their real check (skipped, not run, disabled), each
# with the FREP-SKIP(<tag>) reasons from its output, and fails if any was
# skipped unless every one of its tags is listed in FREP_ALLOW_SKIP
# (comma-separated, e.g. FREP_ALLOW_SKIP=netns,root; "all" allows any).
# A skip that prints no tag has the tag "untagged".
#
#   tests/skip_guard.sh build/ctest-junit.xml
set -euo pipefail

junit=${1:?usage: skip_guard.sh <ctest junit file>}
[ -f "$junit" ] || { echo "skip_guard: no $junit (did ctest run with --output-junit?)" >&2; exit 1; }
python3 - "$junit" "${FREP_ALLOW_SKIP:-}" <<'PY'
import re, sys, xml.etree.ElementTree as ET
junit, allow = sys.argv[1], {a.strip() for a in sys.argv[2].split(",") if a.strip()}
root = ET.parse(junit).getroot()
cases = root.iter("testcase")
total, skipped, refused = 0, [], []
for tc in cases:
    total += 1
    status = (tc.get("status") or "").lower()
    out = "".join(e.text or "" for e in tc.iter() if e.tag in ("system-out", "skipped"))
    is_skip = tc.find("skipped") is not None or status in ("skipped", "notrun", "disabled")
    if not is_skip:
        continue
    found = re.findall(r"FREP-SKIP\(([^)]*)\):\s*([^\n]*)", out)
    tags = sorted({t for t, _ in found}) or ["untagged"]
    reasons = "; ".join(dict.fromkeys(r for _, r in found)) or (status or "skipped")
    ok = "all" in allow or all(t in allow for t in tags)
    skipped.append((tc.get("name"), tags, reasons, ok))
    if not ok:
        refused.append(tc.get("name"))
if not skipped:
    print("skip_guard: %d tests, none skipped" % total)
    sys.exit(0)
print("skip_guard: %d of %d tests skipped:" % (len(skipped), total))
for name, tags, reasons, ok in skipped:
    print("  %-28s [%s] %s%s" % (name, ",".join(tags), reasons, "" if ok else "   <- not allowed"))
if refused:
    print("skip_guard: FAIL: skipped without FREP_ALLOW_SKIP naming their tags: %s"
          % " ".join(refused))
    print("skip_guard: run as root with kea-dhcp4 etc. (make deps), or allow them, e.g. "
          "FREP_ALLOW_SKIP=%s make test" % ",".join(sorted({t for _, ts, _, ok in skipped if not ok for t in ts})))
    sys.exit(1)
print("skip_guard: every skip allowed by FREP_ALLOW_SKIP=%s" % ",".join(sorted(allow)))
PY

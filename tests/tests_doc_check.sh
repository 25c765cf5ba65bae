#!/usr/bin/env bash
# tests_doc_check: docs/TESTS.md, SEMANTICS.md and SECURITY.md name tests
# that exist (docs/TESTS.md, "Claims and their tests"):
#  - every `test_…` function they name is defined in tests/ (C or Python);
#  - every ctest name (`…_test`, `…_check`) in docs/TESTS.md is registered
#    (`ctest -N` in FREP_BINARY_DIR, else the tests' CMake files);
#  - every `tests/…` path they name exists;
#  - every test of tests/failover_promises_test.c appears in docs/TESTS.md.
set -uo pipefail
root=${FREP_SOURCE_DIR:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$root" || exit 1
docs=(docs/TESTS.md docs/SEMANTICS.md docs/SECURITY.md)
bad=0
say() { echo "tests_doc_check: $*"; bad=$((bad + 1)); }

defined=$( (grep -ho '^test_[a-z0-9_]*' tests/*.c
	grep -ho 'def test_[a-z0-9_]*' tests/python/*.py | sed 's/^def //') | sort -u)
for d in "${docs[@]}"; do
	[ -f "$d" ] || { say "$d is missing"; continue; }
	for t in $(grep -o '`test_[a-z0-9_]*`' "$d" | tr -d '`' | sort -u); do
		grep -qx "$t" <<<"$defined" || say "$d names $t, which no test in tests/ defines"
	done
	for p in $(grep -o '`tests/[A-Za-z0-9_./-]*`' "$d" | tr -d '`' | sort -u); do
		[ -e "$p" ] || say "$d names $p, which does not exist"
	done
done

if [ -n "${FREP_BINARY_DIR:-}" ] && [ -f "$FREP_BINARY_DIR/CTestTestfile.cmake" ]; then
	registered=$(cd "$FREP_BINARY_DIR" && ctest -N | sed -n 's/^ *Test *#[0-9]*: //p')
else
	registered=$(grep -ho 'frep_add_test([a-z0-9_]*\|NAME [a-z0-9_]*' tests/*.cmake tests/CMakeLists.txt |
		sed 's/^frep_add_test(//; s/^NAME //'
		for t in ipv4 sha256 store validation replication concurrency; do echo "engine_${t}_test"; done)
fi
for t in $(grep '^|' docs/TESTS.md | grep -o '`[a-z0-9_]*_\(test\|check\)`' | tr -d '`' | sort -u); do
	grep -qx "$t" <<<"$registered" || say "docs/TESTS.md names ctest test $t, which is not registered"
done

for t in $(grep -ho '^test_[a-z0-9_]*' tests/failover_promises_test.c | sort -u); do
	grep -q "\`$t\`" docs/TESTS.md || say "$t (tests/failover_promises_test.c) is not in docs/TESTS.md's table"
done

n=$(grep -o '`test_[a-z0-9_]*`' "${docs[@]}" | sort -u | wc -l)
if [ "$bad" -ne 0 ]; then
	echo "tests_doc_check: $bad problem(s)"
	exit 1
fi
echo "tests_doc_check: the $n test names in ${docs[*]} exist"

#!/usr/bin/env bash
# tests_doc_check: docs/TESTS.md, SEMANTICS.md and SECURITY.md name tests
# that exist (docs/TESTS.md, "Claims and their tests"):
#  - every `test_…` function they name is defined in tests/ (C or Python);
#  - every ctest name (`…_test`, `…_check`) in docs/TESTS.md is registered
#    by the tests' CMake files (some only in one build) or `ctest -N` in
#    FREP_BINARY_DIR;
#  - every `tests/…` path they name exists;
#  - in each row of docs/TESTS.md's tables, every `test_…` function of the
#    test column is defined in the source of one of the row's ctest tests
#    (tests/<ctest>.c, or the .py / .sh file its add_test runs);
#  - every test of tests/failover_promises_test.c, tests/pair_safety_test.c
#    and tests/replication_test.c appears in docs/TESTS.md.
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

# Every test the CMake files register (some only in one build: install_test
# is not in the sanitizer build), and, with a build directory, what it has.
registered=$(grep -ho 'frep_add_test([a-z0-9_]*\|NAME [a-z0-9_]*' tests/*.cmake tests/CMakeLists.txt |
	sed 's/^frep_add_test(//; s/^NAME //'
	for t in ipv4 sha256 store validation replication concurrency; do echo "engine_${t}_test"; done)
if [ -n "${FREP_BINARY_DIR:-}" ] && [ -f "$FREP_BINARY_DIR/CTestTestfile.cmake" ]; then
	registered="$registered
$(cd "$FREP_BINARY_DIR" && ctest -N | sed -n 's/^ *Test *#[0-9]*: //p')"
fi
for t in $(grep '^|' docs/TESTS.md | grep -o '`[a-z0-9_]*_\(test\|check\)`' | tr -d '`' | sort -u); do
	grep -qx "$t" <<<"$registered" || say "docs/TESTS.md names ctest test $t, which is not registered"
done

# Each row: its test functions in its ctest tests' sources.
command -v python3 >/dev/null || say "python3 is needed for the row check"
while IFS= read -r line; do
	say "$line"
done < <(python3 - <<'PY'
import glob, os, re
cmake = "".join(open(p).read() for p in sorted(glob.glob("tests/*.cmake")) + ["tests/CMakeLists.txt"])

def sources(ctest):
    """The files a ctest test runs: tests/<ctest>.c (a frep_add_test
    program) and the .py / .sh an add_test(NAME ctest COMMAND ...) names."""
    out = ["tests/%s.c" % ctest] if os.path.exists("tests/%s.c" % ctest) else []
    for cmd in re.findall(r"add_test\(NAME\s+%s\s+COMMAND([^)]*)\)" % re.escape(ctest), cmake):
        for f in re.findall(r"\$\{CMAKE_CURRENT_SOURCE_DIR\}/([\w./-]+\.(?:py|sh))", cmd):
            out.append("tests/" + f)
    return out

def defines(path, fn):
    text = open(path).read()
    pat = r"^%s\(" if path.endswith(".c") else r"^\s*def %s\("
    return re.search(pat % re.escape(fn), text, re.M) is not None

for n, line in enumerate(open("docs/TESTS.md"), 1):
    cells = [c.strip() for c in line.strip().strip("|").split("|")] if line.startswith("|") else []
    if len(cells) < 3:
        continue
    ctests = re.findall(r"`([a-z0-9_]+_(?:test|check))`", cells[-2])
    fns = re.findall(r"`(test_[a-z0-9_]+)`", cells[-1])
    if not fns:
        continue
    files = [f for c in ctests for f in sources(c)]
    for fn in fns:
        if not any(defines(f, fn) for f in files):
            print("docs/TESTS.md:%d: %s is not defined in %s (the row's ctest %s)"
                  % (n, fn, " ".join(files) or "any source", ", ".join(ctests) or "(none)"))
PY
)

for src in tests/failover_promises_test.c tests/pair_safety_test.c tests/replication_test.c; do
	for t in $(grep -ho '^test_[a-z0-9_]*' "$src" | sort -u); do
		grep -q "\`$t\`" docs/TESTS.md || say "$t ($src) is not in docs/TESTS.md's table"
	done
done

n=$(grep -o '`test_[a-z0-9_]*`' "${docs[@]}" | sort -u | wc -l)
if [ "$bad" -ne 0 ]; then
	echo "tests_doc_check: $bad problem(s)"
	exit 1
fi
echo "tests_doc_check: the $n test names in ${docs[*]} exist"

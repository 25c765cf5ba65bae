#!/usr/bin/env bash
# make test-plain / test-asan: runs ctest in the build directory it is
# started in (arguments go to ctest), then the two guards a green ctest
# does not give:
#  - skips: tests/skip_guard.sh on ctest's JUnit (docs/TESTS.md, "Skips");
#  - temp dirs: every test runs with TMPDIR=<build>/test-tmp, emptied
#    before the run; anything left there afterwards (a frep-test-*,
#    frep-engine-*, frep-py-* ... a test did not remove) fails the run,
#    named. The leftovers stay for a look; the next run empties the dir.
# An ipc:// socket path must fit in sun_path (107 bytes): the tests put
# theirs at most 47 bytes below TMPDIR (test_readme.py's README example,
# frep-readme-XXXXXXXX/tmp/tmp.XXXXXXXXXX/a.sock), so a build directory
# whose test-tmp is longer than 56 bytes gets a short one under /tmp
# instead, guarded the same way and removed when empty.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
tmp="$PWD/test-tmp"
short=0
if [ "${#tmp}" -gt 56 ]; then
	echo "ctest_run: $tmp is ${#tmp} bytes (ipc:// paths below it would not fit); using one under /tmp"
	tmp=$(mktemp -d /tmp/frep-ctest.XXXXXX) || exit 1
	short=1
fi
rm -rf "$tmp" && mkdir -p "$tmp" || exit 1

rc=0
TMPDIR=$tmp ctest --output-on-failure --output-junit ctest-junit.xml "$@" || rc=$?
"$here/skip_guard.sh" "$PWD/ctest-junit.xml" || rc=1

left=$(find "$tmp" -mindepth 1 -maxdepth 1 -printf '%f\n' | sort)
if [ -n "$left" ]; then
	echo "ctest_run: FAIL: the tests left $(wc -l <<<"$left") entr$( [ "$(wc -l <<<"$left")" -eq 1 ] && echo y || echo ies) in TMPDIR $tmp:"
	sed 's/^/  /' <<<"$left"
	rc=1
else
	echo "ctest_run: the tests left nothing in TMPDIR ($tmp)"
	if [ "$short" -eq 1 ]; then
		rmdir "$tmp"
	fi
fi
exit $rc

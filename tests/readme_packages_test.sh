#!/usr/bin/env bash
# README.md states exactly what the first command installs: the package
# list it gives (the backquoted list after "nothing else is downloaded): ")
# must be the Makefile's DEB_PACKAGES, and the one after
# "DEB_BUILD_PACKAGES`: " its DEB_BUILD_PACKAGES, and so on for
# TEST_DEB_PACKAGES and BENCH_PACKAGES. Run by ctest.
set -euo pipefail
: "${FREP_SOURCE_DIR:?run through ctest}"
cd "$FREP_SOURCE_DIR"
fail=0
make_list() { make -s -f Makefile -p -n deps 2>/dev/null | sed -n "s/^$1 := //p" | tr ' ' '\n' | grep . | sort -u; }
readme_list() {
  tr '\n' ' ' <README.md | sed -n "s/.*$1[^\`]*\`\([^\`]*\)\`.*/\1/p" | tr ' ' '\n' | grep . | sort -u
}
for pair in "DEB_PACKAGES:nothing else is downloaded): " \
  "DEB_BUILD_PACKAGES:DEB_BUILD_PACKAGES\`: " \
  "TEST_DEB_PACKAGES:TEST_DEB_PACKAGES\`: " "BENCH_PACKAGES:BENCH_PACKAGES\`: "; do
  var=${pair%%:*} anchor=${pair#*:}
  m=$(make_list "$var")
  r=$(readme_list "$anchor")
  [ -n "$m" ] || { echo "FAIL: no $var in the Makefile"; fail=1; continue; }
  if [ "$m" != "$r" ]; then
    echo "FAIL: README.md's list differs from the Makefile's $var:"
    diff <(echo "$m") <(echo "$r") | sed 's/^</  Makefile:/; s/^>/  README:/' | grep -v '^[0-9]' || true
    fail=1
  else
    echo "$var: README.md names the same $(wc -l <<<"$m") packages"
  fi
done
exit "$fail"

#!/usr/bin/env bash
# The installed build, used from outside the tree, installed two ways:
#   --prefix: `cmake --install --prefix P` — frep-client.pc must point into
#     P, and the installed frepctl and a program built with
#     `pkg-config --libs frep-client` must run as they are (no
#     LD_LIBRARY_PATH, no ldconfig: RPATH); frepctl's RPATH is
#     $ORIGIN-relative (FREP_INSTALL_RPATH), so it still runs once the
#     tree is moved;
#   DESTDIR: staged under a root for /usr/local (as a package build does) —
#     consumed with PKG_CONFIG_SYSROOT_DIR and LD_LIBRARY_PATH (the staged
#     frepctl without it).
# Each time tests/install/hello.c is built with pkg-config and with
# find_package(frep), and both, and the installed frepctl, call
# Health/Check on a real frepd (its own temp --db). Run by ctest.
set -euo pipefail
: "${FREP_BINARY_DIR:?run through ctest}" "${FREP_SOURCE_DIR:?}" "${FREPD:?}"
work=$(mktemp -d --tmpdir frep-install-XXXXXX)
pid=
cleanup() {
  if [ -n "$pid" ]; then kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
passed=0

"$FREPD" --listen "ipc://$work/frepd.sock" --db "$work/frepd.db" 2>"$work/frepd.log" &
pid=$!
url="ipc://$work/frepd.sock"

# check NAME PROG [env...]: PROG answers SERVING.
check() {
  local name=$1 prog=$2
  shift 2
  local out
  out=$(env "$@" "$prog" "$url")
  echo "$name: $out"
  [ "$out" = SERVING ]
  passed=$((passed + 1))
}

# 1. --prefix: an unusual prefix, a real install there.
prefix="$work/opt/frep"
cmake --install "$FREP_BINARY_DIR" --prefix "$prefix" >/dev/null
pc=$(find "$prefix" -name frep-client.pc)
pcdir=$(dirname "$pc")
grep -qx "prefix=$prefix" "$pc" || { echo "FAIL $pc does not name $prefix:"; cat "$pc"; exit 1; }
test -f "$prefix/include/frep/frep_client.h"
test -f "$prefix/include/frep/frep/v1/replication.pb-c.h"
test -f "$prefix/share/man/man8/frepd.8"
test -f "$prefix/share/man/man8/frepctl.8"
flags=$(PKG_CONFIG_PATH="$pcdir" pkg-config --cflags --libs frep-client)
case "$flags" in *"$prefix/include/frep"*) ;; *) echo "FAIL cflags outside $prefix: $flags"; exit 1 ;; esac
cc -Wall -Wextra -Werror -o "$work/hello-pc" "$FREP_SOURCE_DIR/tests/install/hello.c" $flags
cmake -S "$FREP_SOURCE_DIR/tests/install" -B "$work/cmk-prefix" -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build "$work/cmk-prefix" >/dev/null
check "--prefix, pkg-config" "$work/hello-pc"
check "--prefix, find_package" "$work/cmk-prefix/hello_cmake"
out=$("$prefix/bin/frepctl" --server "$url" health)
echo "--prefix, installed frepctl: $out"
grep -q SERVING <<<"$out"
passed=$((passed + 1))
"$prefix/sbin/frepd" --version >/dev/null
passed=$((passed + 1))
# Whatever prefix the build was configured for, the installed frepctl
# finds its library relative to itself: it runs from a moved tree.
readelf -d "$prefix/bin/frepctl" | grep -E 'R(UN)?PATH' | grep -qF '$ORIGIN/' ||
  { echo "FAIL $prefix/bin/frepctl has no \$ORIGIN RPATH:"; readelf -d "$prefix/bin/frepctl" | grep -i path; exit 1; }
mv "$work/opt/frep" "$work/opt/moved"
out=$(env -u LD_LIBRARY_PATH "$work/opt/moved/bin/frepctl" --server "$url" health)
echo "--prefix, installed frepctl, tree moved: $out"
grep -q SERVING <<<"$out"
passed=$((passed + 1))

# 2. DESTDIR: staged for /usr/local.
DESTDIR="$work/root" cmake --install "$FREP_BINARY_DIR" --prefix /usr/local >/dev/null
staged="$work/root/usr/local"
pc=$(find "$staged" -name frep-client.pc)
pcdir=$(dirname "$pc")
libdir=$(dirname "$pcdir")
grep -qx "prefix=/usr/local" "$pc" || { echo "FAIL $pc does not name /usr/local:"; cat "$pc"; exit 1; }
test -f "$staged/include/frep/frep/v1/replication.pb-c.h"
flags=$(PKG_CONFIG_SYSROOT_DIR="$work/root" PKG_CONFIG_PATH="$pcdir" pkg-config --cflags --libs frep-client)
cc -Wall -Wextra -Werror -o "$work/hello-destdir" "$FREP_SOURCE_DIR/tests/install/hello.c" $flags
cmake -S "$FREP_SOURCE_DIR/tests/install" -B "$work/cmk-destdir" -DCMAKE_PREFIX_PATH="$staged" >/dev/null
cmake --build "$work/cmk-destdir" >/dev/null
check "DESTDIR, pkg-config" "$work/hello-destdir" LD_LIBRARY_PATH="$libdir"
check "DESTDIR, find_package" "$work/cmk-destdir/hello_cmake" LD_LIBRARY_PATH="$libdir"
out=$(env -u LD_LIBRARY_PATH "$staged/bin/frepctl" --server "$url" health)
echo "DESTDIR, staged frepctl: $out"
grep -q SERVING <<<"$out"
passed=$((passed + 1))

kill -TERM "$pid"; wait "$pid"; rc=$?; pid=
[ "$rc" -eq 0 ]
echo "install test: $passed passed, 0 failed"

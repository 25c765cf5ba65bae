#!/usr/bin/env bash
# Installs the build into a DESTDIR, then builds tests/install/hello.c
# against it twice — with pkg-config and with find_package(frep) — and has
# both call Health/Check on a real frepd. Run by ctest (label integration).
set -euo pipefail
: "${FREP_BINARY_DIR:?run through ctest}" "${FREP_SOURCE_DIR:?}" "${FREPD:?}"
work=$(mktemp -d /tmp/frep-install-XXXXXX)
pid=
cleanup() {
  if [ -n "$pid" ]; then kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

DESTDIR="$work/root" cmake --install "$FREP_BINARY_DIR" --prefix /usr/local >/dev/null
prefix="$work/root/usr/local"
pcdir=$(dirname "$(find "$prefix" -name frep-client.pc | head -n1)")
libdir=$(dirname "$pcdir")
test -f "$prefix/include/frep/frep_client.h"
test -f "$prefix/include/frep/frep/v1/replication.pb-c.h"

"$FREPD" --listen "ipc://$work/frepd.sock" --db "$work/frep.db" 2>"$work/frepd.log" &
pid=$!

flags=$(PKG_CONFIG_SYSROOT_DIR="$work/root" PKG_CONFIG_PATH="$pcdir" pkg-config --cflags --libs frep-client)
cc -Wall -Wextra -Werror -o "$work/hello" "$FREP_SOURCE_DIR/tests/install/hello.c" $flags
cmake -S "$FREP_SOURCE_DIR/tests/install" -B "$work/cmk" -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build "$work/cmk" >/dev/null

# Bounded wait for the server to listen: the client fails fast (UNAVAILABLE)
# when nothing does.
for _ in $(seq 200); do [ -S "$work/frepd.sock" ] && break; sleep 0.05; done
for prog in "$work/hello" "$work/cmk/hello_cmake"; do
  out=$(LD_LIBRARY_PATH="$libdir" "$prog" "ipc://$work/frepd.sock")
  echo "$(basename "$prog"): $out"
  [ "$out" = SERVING ]
done
kill -TERM "$pid"; wait "$pid"; rc=$?; pid=
[ "$rc" -eq 0 ]
echo "install test: 2 passed, 0 failed"

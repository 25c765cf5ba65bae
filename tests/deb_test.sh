#!/usr/bin/env bash
# The Debian packages `make deb` built (in $DEB_DIR), tested on this
# machine: their contents (dpkg -c), installed with apt-get install
# ./*.deb, the service's unit verified (systemd-analyze verify), frepd
# serving as the unit would start it (systemctl when systemd is PID 1;
# otherwise /usr/sbin/frepd by hand with the unit's arguments from
# /etc/frep/frepd.conf, as the unit's user, on a temp store and socket),
# the installed frepctl, a C program built with the installed pkg-config
# file, and the installed Python package calling it; then everything is
# purged, leaving the machine as it was. Run by `make deb-test`, as root.
set -euo pipefail
: "${DEB_DIR:?run through make deb-test}" "${FREP_SOURCE_DIR:?}"
DEB_DIR=$(cd "$DEB_DIR" && pwd)
PKGS="frep libfrep-client0 libfrep-client-dev python3-frep"
work=$(mktemp -d /tmp/frep-deb-XXXXXX)
pid=
installed=0
passed=0
cleanup() {
  if [ -n "$pid" ]; then kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  if [ "$installed" -eq 1 ]; then
    if [ "$(ps -p 1 -o comm=)" = systemd ]; then systemctl stop frepd 2>/dev/null || true; fi
    apt-get purge -y $PKGS >/dev/null 2>&1 || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
ok() { echo "ok: $*"; passed=$((passed + 1)); }
fail() { echo "FAIL: $*"; exit 1; }

[ "$(id -u)" -eq 0 ] || fail "run as root (apt-get install)"
for p in $PKGS; do
  if dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    fail "$p is already installed: this test installs and purges it (apt-get purge $p first)"
  fi
done

# 1. Contents: each package holds what it should.
contents() { dpkg -c "$DEB_DIR/$1"_*.deb | awk '{print $6}'; }
expect() {
  local pkg=$1
  shift
  local list
  list=$(contents "$pkg")
  for f in "$@"; do
    grep -qE "^\./$f\$" <<<"$list" || fail "$pkg lacks $f"
  done
  ok "$pkg holds $*"
}
ma=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
expect frep usr/sbin/frepd usr/bin/frepctl lib/systemd/system/frepd.service etc/frep/frepd.conf \
  usr/share/man/man8/frepd.8.gz usr/share/man/man8/frepctl.8.gz usr/share/doc/frep/copyright \
  usr/lib/sysusers.d/frep.conf
expect libfrep-client0 "usr/lib/$ma/libfrep-client.so.0.*"
expect libfrep-client-dev usr/include/frep/frep_client.h usr/include/frep/frep/v1/replication.pb-c.h \
  "usr/lib/$ma/libfrep-client.so" "usr/lib/$ma/pkgconfig/frep-client.pc" \
  "usr/lib/$ma/cmake/frep/frepConfig.cmake" usr/share/frep/proto/frep/v1/replication.proto
expect python3-frep usr/lib/python3/dist-packages/frep/__init__.py \
  usr/lib/python3/dist-packages/frep/_gen/frep/v1/dhcp_server_pb2.py
# The library is not in frep, nor the daemon in the library's packages.
contents libfrep-client0 | grep -q frepd && fail "libfrep-client0 holds frepd"
contents frep | grep -q 'libfrep-client\.so' && fail "frep holds the library"
ok "nothing in the wrong package"

# 2. Install them (apt resolves their dependencies).
installed=1
apt-get install -y "$DEB_DIR"/frep_*.deb "$DEB_DIR"/libfrep-client0_*.deb \
  "$DEB_DIR"/libfrep-client-dev_*.deb "$DEB_DIR"/python3-frep_*.deb >"$work/apt.log" 2>&1 ||
  { tail -30 "$work/apt.log"; fail "apt-get install"; }
ok "apt-get install ./*.deb"
/usr/sbin/frepd --version | grep -q "^frepd " || fail "installed frepd --version"
man -w frepd >/dev/null 2>&1 || [ -f /usr/share/man/man8/frepd.8.gz ] || fail "frepd(8) not installed"

# 3. The unit.
unit=/lib/systemd/system/frepd.service
for want in Type=notify StateDirectory=frep StateDirectoryMode=0700 EnvironmentFile=/etc/frep/frepd.conf \
  ProtectSystem=strict ProtectHome=yes NoNewPrivileges=yes PrivateTmp=yes PrivateDevices=yes \
  "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK" MemoryDenyWriteExecute=yes \
  LockPersonality=yes SystemCallFilter=@system-service; do
  grep -qxF "$want" "$unit" || fail "$unit lacks $want"
done
ok "frepd.service has notify readiness, a 0700 state directory and the hardening options"
if command -v systemd-analyze >/dev/null; then
  if ! systemd-analyze verify "$unit" >"$work/verify.log" 2>&1; then
    cat "$work/verify.log"
    fail "systemd-analyze verify $unit"
  fi
  ok "systemd-analyze verify frepd.service"
fi

# 4. frepd serving as the unit starts it.
if [ "$(ps -p 1 -o comm=)" = systemd ]; then
  systemctl start frepd
  url=tcp://127.0.0.1:6470
  [ "$(stat -c %a /var/lib/frep)" = 700 ] || fail "/var/lib/frep is not mode 0700"
  ok "systemctl start frepd (state directory 0700)"
else
  # No systemd here (PID 1 is $(ps -p 1 -o comm=)): the unit's command line
  # by hand, from the installed config file, its store and listener moved
  # into a temp dir (the test must not touch /var/lib/frep or a shared port).
  # shellcheck disable=SC1091
  FREPD_ARGS=$(. /etc/frep/frepd.conf && echo "$FREPD_ARGS")
  [ -n "$FREPD_ARGS" ] || fail "/etc/frep/frepd.conf sets no FREPD_ARGS"
  url="ipc://$work/frepd.sock"
  args=$(sed -e "s|--listen [^ ]*|--listen $url|" -e "s|--db [^ ]*|--db $work/state/frep.db|" <<<"$FREPD_ARGS")
  run_as=()
  if getent passwd _frep >/dev/null; then
    chown _frep "$work"
    run_as=(setpriv --reuid=_frep --regid=_frep --clear-groups)
  fi
  # shellcheck disable=SC2086
  "${run_as[@]}" /usr/sbin/frepd $args 2>"$work/frepd.log" &
  pid=$!
  ok "frepd started by hand ($(ps -p 1 -o comm=) is PID 1): /usr/sbin/frepd $args${run_as:+ as _frep}"
fi

# The installed frepctl (its library from libfrep-client0, no RPATH).
out=$(/usr/bin/frepctl --server "$url" --timeout 10000 health) || fail "frepctl health: $out"
grep -q SERVING <<<"$out" || fail "frepctl health said: $out"
ok "installed frepctl health: $out"
if [ -n "$pid" ]; then
  [ "$(stat -c %a "$work/state")" = 700 ] || fail "the store's directory is not mode 0700"
fi

# A program built against libfrep-client-dev with pkg-config, and one with
# find_package(frep).
cc -Wall -Wextra -Werror -o "$work/hello" "$FREP_SOURCE_DIR/tests/install/hello.c" \
  $(pkg-config --cflags --libs frep-client)
[ "$("$work/hello" "$url")" = SERVING ] || fail "pkg-config consumer"
ok "a program built with pkg-config --libs frep-client answers SERVING"
cmake -S "$FREP_SOURCE_DIR/tests/install" -B "$work/cmk" >/dev/null && cmake --build "$work/cmk" >/dev/null
[ "$("$work/cmk/hello_cmake" "$url")" = SERVING ] || fail "find_package consumer"
ok "a program built with find_package(frep) answers SERVING"

# python3-frep under the system python3, no PYTHONPATH.
out=$(cd / && env -u PYTHONPATH -u FREP_PROTO_PY /usr/bin/python3 -c "
import frep, sys
with frep.Client(sys.argv[1]) as c:
    print(c.health.check().status)" "$url") || fail "python3-frep: $out"
[ "$out" = 1 ] || fail "python3-frep health status $out"
ok "python3-frep (system python3) health: SERVING"

if [ -n "$pid" ]; then
  kill -TERM "$pid"; wait "$pid"; rc=$?; pid=
  [ "$rc" -eq 0 ] || fail "frepd exited $rc on SIGTERM"
else
  systemctl stop frepd
fi

# 5. Purge: nothing of frep is left.
apt-get purge -y $PKGS >"$work/purge.log" 2>&1 || { cat "$work/purge.log"; fail "apt-get purge"; }
installed=0
for p in $PKGS; do
  ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "installed" || fail "$p still installed"
done
[ ! -e /etc/frep ] || fail "/etc/frep left after purge"
[ ! -e /usr/sbin/frepd ] || fail "/usr/sbin/frepd left after purge"
ok "apt-get purge leaves no package, /etc/frep or /usr/sbin/frepd"
echo "deb test: $passed passed, 0 failed"

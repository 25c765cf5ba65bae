#!/usr/bin/env bash
# frepd(8) and frepctl(8) against the programs' --help, both ways: every
# option --help prints (frepctl's at every level of its command tree,
# walked through --help itself) is in the man page, every option the man
# page names is in some --help, and every frepctl command has its section.
# Then groff renders both pages without a warning. Run by ctest.
set -euo pipefail
: "${FREPD:?run through ctest}" "${FREPCTL:?}" "${FREP_MAN_DIR:?}"
work=$(mktemp -d --tmpdir frep-man-XXXXXX)
trap 'rm -rf "$work"' EXIT
fail=0

# Options named in roff source: \- is a minus sign, \fB...\fR a font.
man_options() {
  sed -e 's/\\-/-/g' -e 's/\\f[BIRP]//g' -e 's/\\e/\\/g' "$1" |
    grep -o -- '--[a-z][a-z0-9-]*' | sort -u
}

# frepctl's command tree, walked through --help: a group's help lists its
# commands under "commands:", one per line ("  NAME  ARGS  summary").
walk() {
  local out
  out=$("$FREPCTL" "$@" --help)
  printf '%s\n' "$out" >>"$work/frepctl.help"
  echo "$*" >>"$work/frepctl.commands"
  if grep -q '^commands:' <<<"$out"; then
    local sub
    for sub in $(awk '/^commands:/{on=1; next} on && /^$/{exit} on && /^  [a-z]/{print $1}' <<<"$out"); do
      walk "$@" "$sub"
    done
  fi
}
"$FREPCTL" --help >"$work/frepctl.help"
: >"$work/frepctl.commands"
for top in $(awk '/^commands/{on=1; next} on && /^$/{exit} on && /^  [a-z]/{print $1}' "$work/frepctl.help"); do
  walk "$top"
done
"$FREPD" --help >"$work/frepd.help"

for prog in frepd frepctl; do
  page="$FREP_MAN_DIR/$prog.8"
  grep -o -- '--[a-z][a-z0-9-]*' "$work/$prog.help" | sort -u >"$work/$prog.help.opts"
  man_options "$page" >"$work/$prog.man.opts"
  missing=$(comm -23 "$work/$prog.help.opts" "$work/$prog.man.opts")
  extra=$(comm -13 "$work/$prog.help.opts" "$work/$prog.man.opts")
  if [ -n "$missing" ]; then
    echo "FAIL $prog.8 lacks options --help prints:" $missing
    fail=1
  fi
  if [ -n "$extra" ]; then
    echo "FAIL $prog.8 names options no --help prints:" $extra
    fail=1
  fi
  echo "$prog: $(wc -l <"$work/$prog.help.opts") options in --help and in $prog.8"
  warnings=$(LC_ALL=C.UTF-8 groff -man -Tutf8 -ww -z "$page" 2>&1 || true)
  if [ -n "$warnings" ]; then
    echo "FAIL groff on $prog.8: $warnings"
    fail=1
  fi
done

# Every command the --help walk reached has its "usage:" line in frepctl.8.
rendered=$(sed -e 's/\\-/-/g' -e 's/\\e/\\/g' "$FREP_MAN_DIR/frepctl.8")
n=0
while read -r cmd; do
  n=$((n + 1))
  if ! grep -qF "usage: frepctl [options] $cmd" <<<"$rendered"; then
    echo "FAIL frepctl.8 has no section for \"frepctl $cmd\""
    fail=1
  fi
done <"$work/frepctl.commands"
echo "frepctl: $n commands reached through --help, each in frepctl.8"
[ "$fail" -eq 0 ] && echo "man test: passed"
exit "$fail"

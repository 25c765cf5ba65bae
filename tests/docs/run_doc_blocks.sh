#!/usr/bin/env bash
# The command examples in the docs run as written (issue 12): extracts the
# ```sh blocks named below from docs/FREPCTL.md and README.md and runs each
# as one script against real frepd (ipc://, their own temp --db),
# substituting only the addresses and file paths the block names (below).
# Every command must exit 0. Prints "docs examples: N passed, 0 failed".
set -euo pipefail
: "${FREPD:?run through ctest}" "${FREPCTL:?run through ctest}" "${FREP_SOURCE_DIR:?}"

work=$(mktemp -d /tmp/frep-docs-XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
	rm -rf "$work"
}
trap cleanup EXIT

start_frepd() { # name
	"$FREPD" --listen "ipc://$work/$1.sock" --advertise-url "ipc://$work/$1.sock" \
		--db "$work/$1.db" >"$work/$1.log" 2>&1 &
	pids+=($!)
	for _ in $(seq 100); do [ -S "$work/$1.sock" ] && return 0; sleep 0.05; done
	echo "FAIL: frepd $1 did not start"; cat "$work/$1.log"; exit 1
}

# block FILE HEADING: the first ```sh block under the "## HEADING" (or
# "# HEADING") line of FILE, continuation lines joined. Named by heading,
# not by number, so a block added above it cannot shift what runs.
block() {
	awk -v want="$2" '
		!inb && /^#+ / { h = $0; sub(/^#+ /, "", h); under = (h == want); done_ = 0; next }
		/^```sh/ { if (under && !done_) { inb = 1; done_ = 1 }; next }
		/^```/ { inb = 0; next }
		inb' "$1" |
		sed -e ':a' -e '/\\$/N; s/\\\n//; ta'
}

passed=0
# Runs the block as one script (its exports carry from line to line),
# traced, so a failure names the command.
run_block() { # file, heading, sed substitutions...
	local file=$1 n=$2
	shift 2
	block "$FREP_SOURCE_DIR/$file" "$n" | sed "$@" >"$work/block.body"
	[ -s "$work/block.body" ] || { echo "FAIL: $file has no sh block under \"$n\""; exit 1; }
	# What the block starts in the background ends with it, even when a
	# command of the block fails (an EXIT trap, set before the block).
	{
		echo 'trap '"'"'for j in $(jobs -p); do kill -TERM "$j"; wait "$j" || true; done'"'"' EXIT'
		cat "$work/block.body"
	} >"$work/block.sh"
	if ! (cd "$work" && PATH="$(dirname "$FREPCTL"):$PATH" PS4='+ ' \
		bash -euo pipefail -x "$work/block.sh" >"$work/out" 2>&1); then
		echo "FAIL: $file block under \"$n\", at the last command traced:"
		cat "$work/out"
		exit 1
	fi
	passed=$((passed + $(grep -c '^+ ' "$work/out")))
}

start_frepd a
start_frepd b
echo s3cret >"$work/site-pair.secret"
# FREPCTL.md's first block: the server is ipc:///run/frep.sock there, the
# partner tcp://127.0.0.1:6471, the secret /etc/frep/site-pair.secret.
run_block docs/FREPCTL.md "frepctl — the operator's command line" \
	-e "s#ipc:///run/frep.sock#ipc://$work/a.sock#" \
	-e "s#tcp://127.0.0.1:6471#ipc://$work/b.sock#" \
	-e "s#/etc/frep/site-pair.secret#$work/site-pair.secret#"
# README's "Using it": two frepd of its own on tcp://127.0.0.1:6470/6471
# and files in /tmp there; here on ipc:// in the test's directory.
run_block README.md "Using it" \
	-e "s#build/rpc/frepd#$FREPD#g" -e "s#build/clients/frepctl#$FREPCTL#g" \
	-e "s#tcp://127.0.0.1:6470#ipc://$work/ra.sock#g" -e "s#tcp://127.0.0.1:6471#ipc://$work/rb.sock#g" \
	-e "s#/tmp/a.db#$work/ra.db#" -e "s#/tmp/b.db#$work/rb.db#" -e "s#/tmp/secret#$work/readme.secret#g"
echo "docs examples: $passed passed, 0 failed"

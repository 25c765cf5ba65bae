#!/usr/bin/env bash
# The fuzz runs (docs/FUZZING.md): builds the libFuzzer targets with clang,
# ASan and UBSan into build-fuzz (reused when present), writes the seed
# corpora, replays tests/fuzz/regressions/<target>/*, then fuzzes each
# target. Exits non-zero on any crash, leak, UB or broken invariant; the
# last line is "fuzz: N passed, M failed".
#
#   tests/fuzz/run.sh short   a fixed number of executions per target from a
#                             fresh corpus, seed 1 (make test-fuzz; about a
#                             minute here, the same inputs on any machine)
#   tests/fuzz/run.sh long    600 s per target, the corpus kept (make fuzz)
#
# Environment: FUZZ_SECONDS (per target; makes a short run timed and
# unseeded like a long one), FUZZ_SHORT_GUARD (seconds before a hung short
# run is killed and failed, default 1800), FUZZ_BUILD
# (build directory, default <repo>/build-fuzz), FUZZ_TARGETS (a subset,
# space-separated), JOBS (build parallelism).
set -uo pipefail

mode=${1:-short}
case $mode in
short) seconds=${FUZZ_SECONDS:-0} ;; # unused: short runs count executions (below)
long) seconds=${FUZZ_SECONDS:-600} ;;
*)
	echo "usage: $0 short|long" >&2
	exit 2
	;;
esac

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${FUZZ_BUILD:-$root/build-fuzz}
jobs=${JOBS:-$(nproc 2>/dev/null || echo 2)}
targets=(${FUZZ_TARGETS:-fuzz_envelope fuzz_request fuzz_apply fuzz_partner_auth fuzz_partner_predecode fuzz_http_json})

if ! command -v clang >/dev/null; then
	echo "fuzz: clang is not installed (make deps installs it)" >&2
	exit 1
fi

# --- build ----------------------------------------------------------------
if ! grep -q '^FREP_FUZZ:BOOL=ON' "$build/CMakeCache.txt" 2>/dev/null; then
	configure_log=$(mktemp)
	cmake -S "$root" -B "$build" \
		-DCMAKE_C_COMPILER=clang \
		-DCMAKE_BUILD_TYPE= -DCMAKE_C_FLAGS="-O1 -g" \
		-DFREP_SANITIZER=address,undefined \
		-DFREP_FUZZ=ON -DFREP_BUILD_TESTS=OFF -DFREP_BUILD_BENCH=OFF \
		-DCMAKE_PROJECT_INCLUDE="$here/fuzz.cmake" >"$configure_log" 2>&1 ||
		{ cat "$configure_log" >&2; rm -f "$configure_log"; echo "fuzz: configure failed" >&2; exit 1; }
	rm -f "$configure_log"
fi
if ! cmake --build "$build" -j"$jobs" >"$build/fuzz-build.log" 2>&1; then
	tail -50 "$build/fuzz-build.log" >&2
	echo "fuzz: build failed (log: $build/fuzz-build.log)" >&2
	exit 1
fi
bin=$build/fuzz

# --- seeds ----------------------------------------------------------------
rm -rf "$build/fuzz-seeds"
"$bin/fuzz_make_corpus" "$build/fuzz-seeds" || { echo "fuzz: seeds failed" >&2; exit 1; }

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
logs=$build/fuzz-logs
mkdir -p "$logs"
passed=0
failed=0

pass() { passed=$((passed + 1)); printf 'fuzz: %-36s ok   %s\n' "$1" "$2"; }
fail() {
	failed=$((failed + 1))
	printf 'fuzz: %-36s FAIL %s\n' "$1" "$2"
	# The first report and the top of its stack.
	grep -m1 -A7 -E 'runtime error|invariant broken|ERROR: (Address|Leak)Sanitizer|ERROR: libFuzzer: (timeout|out-of-memory)' "$3" |
		sed 's/ (BuildId: [0-9a-f]*)//; s/^/      /'
	grep -m1 'Test unit written' "$3" | sed 's/^/      /'
	echo "      (full log: $3)"
}


for t in "${targets[@]}"; do
	# --- regressions: every saved input once; none may fail ---------------
	reg=$here/regressions/$t
	if compgen -G "$reg/*" >/dev/null; then
		log=$logs/$t.regressions.log
		: >"$log"
		env=()
		[ "$t" = fuzz_apply ] && env=(FUZZ_APPLY_STRICT=1)
		n=0
		bad=()
		for input in "$reg"/*; do
			[ -f "$input" ] || continue
			case $input in *.md) continue ;; esac
			n=$((n + 1))
			if ! env "${env[@]}" timeout -k 5 60 "$bin/$t" -timeout=10 -rss_limit_mb=2048 \
				"$input" >"$log.one" 2>&1; then
				bad+=("$(basename "$input")")
				cat "$log.one" >>"$log"
			fi
		done
		rm -f "$log.one"
		if [ ${#bad[@]} -eq 0 ]; then
			pass "$t regressions" "($n inputs)"
		else
			fail "$t regressions" "(${#bad[@]} of $n: ${bad[*]})" "$log"
		fi
	fi

	# --- fuzzing -----------------------------------------------------------
	# make test's short run is reproducible: a fresh corpus (the seeds
	# only), a fixed seed and a fixed number of executions, no time cap, so
	# every machine explores the same inputs (new findings come from `make
	# fuzz`: random seeds, the corpus grown run after run). The `timeout`
	# guard only stops a hung fuzzer, and counts as a failure.
	artifacts=$build/fuzz-artifacts/$t/
	log=$logs/$t.log
	budget=()
	if [ "$mode" = short ] && [ -z "${FUZZ_SECONDS:-}" ]; then
		corpus=$build/fuzz-corpus-short/$t
		rm -rf "$corpus"
		case $t in
		fuzz_envelope) budget=(-seed=1 -runs=800000) ;;
		fuzz_request) budget=(-seed=1 -runs=600000) ;;
		fuzz_apply) budget=(-seed=1 -runs=120000) ;;
		fuzz_partner_auth) budget=(-seed=1 -runs=20000) ;;
		fuzz_partner_predecode) budget=(-seed=1 -runs=8000) ;;
		fuzz_http_json) budget=(-seed=1 -runs=300000) ;;
		*) budget=(-seed=1 -runs=100000) ;;
		esac
		limit=${FUZZ_SHORT_GUARD:-1800}
	else
		corpus=$build/fuzz-corpus/$t
		budget=(-max_total_time="$seconds")
		limit=$((seconds + 120))
	fi
	mkdir -p "$corpus" "$artifacts"
	start=$(date +%s)
	if timeout -k 5 "$limit" "$bin/$t" "$corpus" "$build/fuzz-seeds/$t" "${budget[@]}" \
		-timeout=10 -rss_limit_mb=2048 -max_len=65536 \
		-artifact_prefix="$artifacts" -print_final_stats=1 >"$log" 2>&1; then
		runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
		pass "$t" "($((  $(date +%s) - start )) s, ${runs:-?} runs, ${budget[*]}, corpus $(ls "$corpus" | wc -l))"
	else
		fail "$t" "(after $(( $(date +%s) - start )) s; inputs in $artifacts)" "$log"
	fi
done

echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]

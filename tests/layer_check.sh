#!/usr/bin/env bash
# The layers hold (docs/ARCHITECTURE.md): the RPC runtime (rpc/runtime/)
# includes no frep.v1 header and no engine, Kea or service header; the
# engine (engine/) includes no nng, RPC runtime, service or Kea header.
# Prints every offending include and exits 1 if there is any.
set -uo pipefail
root=${FREP_SOURCE_DIR:-$(cd "$(dirname "$0")/.." && pwd)}
bad=0
check() { # folder, extended regex of forbidden includes, why
	local hits
	hits=$(grep -nE "^[[:space:]]*#[[:space:]]*include[[:space:]]*[<\"]($2)" "$root/$1"/*.[ch] 2>/dev/null)
	if [ -n "$hits" ]; then
		echo "layer_check: $1 must not include $3:" >&2
		echo "$hits" | sed "s|$root/||" >&2
		bad=1
	fi
}
runtime_forbidden='frep/v1/|engine|model\.h|ipv4\.h|hexid\.h|sha256\.h|convert\.h|.*_service\.h|partner_|kea_|health\.h'
check rpc/runtime "$runtime_forbidden" "DHCP, engine, service or Kea headers"
check engine 'nng/|rpc_server\.h|call_cache\.h|introspection\.h|log\.h|frep_envelope\.h|.*_service\.h|partner_|kea_|frep_client\.h' \
	"nng, the RPC runtime, services or Kea"
check engine/test 'nng/|rpc_server\.h' "nng or the RPC runtime"
if [ $bad -eq 0 ]; then
	n_rt=$(ls "$root"/rpc/runtime/*.[ch] | wc -l)
	n_en=$(ls "$root"/engine/*.[ch] | wc -l)
	echo "layer_check: rpc/runtime ($n_rt files) and engine ($n_en files) keep their layers"
fi
exit $bad

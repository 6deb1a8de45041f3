#!/usr/bin/env bash
# Load a running tmm-webhook with one sample AdmissionReview over TLS keep-alive connections (wrk).
#
#   bench/load.sh [URL] [SAMPLE] [CONNECTIONS...]
#   bench/load.sh https://127.0.0.1:8443/validate samples/label.json 4 64
#
# Prints requests/s and latency percentiles per connection count. The server must be running
# (e.g. `swift build -c release && .build/release/tmm-webhook serve --state samples/cluster.json --log-level warning`).
# Refuses to report when any response was not 2xx, so an error page is never measured as speed.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
url=${1:-https://127.0.0.1:8443/validate}
sample=${2:-$here/../samples/label.json}
shift $(( $# > 2 ? 2 : $# )) || true
conns=("$@"); [ ${#conns[@]} -gt 0 ] || conns=(4 64)
duration=${DURATION:-10}
command -v wrk >/dev/null || { echo "wrk is not installed: apt-get install wrk" >&2; exit 2; }
[ -f "$sample" ] || { echo "no such sample: $sample" >&2; exit 2; }
script=$(mktemp /tmp/tmm-load.XXXXXX.lua)
trap 'rm -f "$script"' EXIT
cat > "$script" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local f = assert(io.open(os.getenv("BODY"), "rb"))
wrk.body = f:read("*a")
f:close()
LUA
printf '%-6s %10s %9s %9s %9s\n' conns 'req/s' 'p50' 'p99' 'max'
for c in "${conns[@]}"; do
  out=$(BODY="$sample" wrk -t1 -c"$c" -d"${duration}s" --latency -s "$script" "$url" 2>&1)
  if echo "$out" | grep -q 'Non-2xx'; then echo "non-2xx responses at $c connections:" >&2; echo "$out" >&2; exit 1; fi
  echo "$out" | awk -v c="$c" '/Requests\/sec/ {rps=$2} /^ +50%/ {p50=$2} /^ +99%/ {p99=$2} /^ +Latency/ {max=$4}
    END {printf "%-6s %10s %9s %9s %9s\n", c, rps, p50, p99, max}'
done

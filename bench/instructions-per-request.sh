#!/usr/bin/env bash
# User-space instructions the server executes per allow-path request, counted by valgrind's callgrind:
# a figure that does not move with the machine's load or clock speed (requests per second on this
# shared 2-core machine vary twofold from one minute to the next), so two builds can be compared by it.
#
#   bench/instructions-per-request.sh [BINARY ...]      (default .build/release/tmm-webhook)
#
# For each binary: starts `BINARY serve` under callgrind on a free loopback port (a copy without debug
# information: valgrind cannot read Swift's), warms it up with wrk for 2 s, zeroes the counters, posts
# the shared benchmark's 21.5 KB Node UPDATE review (a label change: the allow path) over one TLS
# keep-alive connection for DURATION (8) seconds, dumps the counters and divides them by the requests
# answered. Everything the process runs in user space counts (TLS included); the kernel does not.
# Needs valgrind and wrk (apt-get install valgrind wrk) and ../shared/bench (make_review.py, post.lua).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
shared=${SHARED_BENCH:-$root/../shared/bench}
binaries=("$@"); [ ${#binaries[@]} -gt 0 ] || binaries=("$root/.build/release/tmm-webhook")
DURATION=${DURATION:-8}
for tool in valgrind callgrind_control wrk strip; do
  command -v "$tool" >/dev/null || { echo "$tool is not installed (apt-get install valgrind wrk binutils)" >&2; exit 1; }
done
[ -f "$shared/make_review.py" ] || { echo "needs ../shared/bench (make_review.py, post.lua)" >&2; exit 1; }

work=$(mktemp -d /tmp/tmm-instructions.XXXXXX)
pid=
cleanup() { [ -n "$pid" ] && kill -INT "$pid" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$work/key.pem" -out "$work/cert.pem" \
  -days 2 -subj "/CN=localhost" -addext "subjectAltName=IP:127.0.0.1" 2>/dev/null
python3 "$shared/make_review.py" label > "$work/review.json"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

post() { # seconds -> requests answered
  BODY="$work/review.json" wrk -t1 -c1 -d"$1s" -s "$shared/post.lua" "https://127.0.0.1:$port/validate" |
    awk '/requests in/ {n=$1} /Non-2xx|Socket errors/ {bad=1} END {if (bad) n=0; print n+0}'
}

for binary in "${binaries[@]}"; do
  strip --strip-debug -o "$work/server" "$binary"
  valgrind --tool=callgrind --callgrind-out-file="$work/callgrind.%p" "$work/server" serve --listen "127.0.0.1:$port" \
    --tls-cert "$work/cert.pem" --tls-key "$work/key.pem" --log-level warning >"$work/server.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 200); do curl -sk -o /dev/null "https://127.0.0.1:$port/healthz" && break; sleep 0.3; done
  post 2 >/dev/null
  callgrind_control -z "$pid" >/dev/null 2>&1
  requests=$(post "$DURATION")
  callgrind_control -d "$pid" >/dev/null 2>&1
  sleep 1
  counted=$(cat "$work"/callgrind."$pid".* 2>/dev/null | awk '/^summary:/ {if ($2 > m) m = $2} END {print m+0}')
  kill -INT "$pid"; wait "$pid" 2>/dev/null || true; pid=
  rm -f "$work"/callgrind.*
  if [ "$requests" -gt 0 ]; then
    echo "$binary: $requests requests, $((counted / requests)) instructions per request"
  else
    echo "$binary: no successful requests (see the server's log)" >&2; exit 1
  fi
done

#!/usr/bin/env bash
# Server CPU time per allow-path request: a cost that a busy or noisy machine changes far less than it
# changes requests per second (which is what bench/compare.sh reports).
#
#   bench/cpu-per-request.sh [BINARY ...]          (default .build/release/tmm-webhook)
#
# For each binary, in alternating rounds: starts `BINARY serve` on a free loopback port with a fresh
# certificate, loads it with wrk (1 thread, CONNS connections, DURATION seconds) posting the shared
# benchmark's 21.5 KB Node UPDATE review (a label change: the allow path), and divides the CPU the
# server process used (user + system, from /proc/PID/stat) by the requests it answered. Prints each
# round, then the median per binary. Environment: CONNS (4), DURATION (10), ROUNDS (3).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
shared=${SHARED_BENCH:-$root/../shared/bench}
binaries=("$@"); [ ${#binaries[@]} -gt 0 ] || binaries=("$root/.build/release/tmm-webhook")
CONNS=${CONNS:-4}; DURATION=${DURATION:-10}; ROUNDS=${ROUNDS:-3}
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)" >&2; exit 1; }
[ -f "$shared/make_review.py" ] || { echo "needs ../shared/bench (make_review.py, post.lua)" >&2; exit 1; }

work=$(mktemp -d /tmp/tmm-cpu.XXXXXX)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$work/key.pem" -out "$work/cert.pem" \
  -days 2 -subj "/CN=localhost" -addext "subjectAltName=IP:127.0.0.1" 2>/dev/null
python3 "$shared/make_review.py" label > "$work/review.json"
ticks=$(getconf CLK_TCK)

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

for round in $(seq 1 "$ROUNDS"); do
  for i in "${!binaries[@]}"; do
    binary=${binaries[$i]}
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    "$binary" serve --listen "127.0.0.1:$port" --tls-cert "$work/cert.pem" --tls-key "$work/key.pem" --log-level warning \
      >"$work/server.log" 2>&1 &
    pid=$!
    for _ in $(seq 1 100); do
      curl -sk -o /dev/null "https://127.0.0.1:$port/healthz" && break
      sleep 0.1  # the server is starting; nothing to wait on but its port
    done
    before=$(cpu_ticks "$pid")
    requests=$(BODY="$work/review.json" wrk -t1 -c"$CONNS" -d"${DURATION}s" -s "$shared/post.lua" "https://127.0.0.1:$port/validate" 2>&1 |
      awk '/requests in/ {print $1} /Non-2xx/ {print "bad"; exit}')
    after=$(cpu_ticks "$pid")
    kill "$pid"; wait "$pid" 2>/dev/null || true; pid=
    [ "$requests" != bad ] && [ -n "$requests" ] || { echo "$binary: non-2xx answers or no requests" >&2; exit 1; }
    us=$(awk -v t=$((after - before)) -v hz="$ticks" -v n="$requests" 'BEGIN {printf "%.1f", t / hz * 1e6 / n}')
    echo "round $round  $binary  $requests requests  $(awk -v t=$((after - before)) -v hz="$ticks" 'BEGIN {printf "%.2f", t / hz}') s CPU  ${us} us/request"
    echo "$i $us" >> "$work/results"
  done
done
echo "median CPU per request (c=$CONNS, ${DURATION}s x $ROUNDS):"
for i in "${!binaries[@]}"; do
  median=$(awk -v i="$i" '$1 == i {print $2}' "$work/results" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
  echo "  ${binaries[$i]}: $median us"
done

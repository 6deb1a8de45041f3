#!/usr/bin/env bash
# Builds the libFuzzer targets (Tests/Fuzz/Targets) with -sanitize=fuzzer,address and runs them.
#   Tests/Fuzz/run.sh TARGET|all [SECONDS=60] [extra libFuzzer flags...]
# Targets: fuzz-json fuzz-http-head fuzz-admission fuzz-watch-event fuzz-quantity fuzz-policy-config
#          fuzz-kubeconfig.
# Each target starts from its seeds in Tests/Fuzz/Corpus/TARGET and grows a working corpus in
# .build-fuzz/corpus/TARGET (not in git). A crash leaves its input in .build-fuzz/artifacts/TARGET/ and
# fails the script; replay it with the plain build: swift build --product TARGET && .build/debug/TARGET FILE.
# The build uses its own build directory (.build-fuzz), so it never mixes sanitized objects with
# the ordinary build. Exits non-zero if any target crashed or failed to build.
set -euo pipefail
cd "$(dirname "$0")/../.."
all=(fuzz-json fuzz-http-head fuzz-admission fuzz-watch-event fuzz-quantity fuzz-policy-config fuzz-kubeconfig)
which=${1:?usage: Tests/Fuzz/run.sh TARGET|all [SECONDS] [libFuzzer flags...]}
seconds=${2:-60}
shift $(( $# >= 2 ? 2 : 1 ))
if [ "$which" = all ]; then targets=("${all[@]}"); else targets=("$which"); fi

build=.build-fuzz
# SwiftPM's --sanitize flags make it link libFuzzer's main instead of the target's; but swiftc 6.3, given
# them as two flags with fuzzer first, drops the coverage instrumentation and libFuzzer runs blind. The
# combined -sanitize=address,fuzzer restores it.
flags=(--build-path "$build" --sanitize=fuzzer --sanitize=address -Xswiftc -sanitize=address,fuzzer
  -Xswiftc -DFUZZING)
for target in "${targets[@]}"; do
  echo "== building $target"
  # (gold warns about every local ASan symbol it cannot export; those lines are noise)
  swift build "${flags[@]}" --product "$target" 2>&1 | grep -E "error|warning: |Build complete" | grep -v -e '^\[' -e 'Cannot export local symbol' || true
  [ -x "$build/debug/$target" ] || { echo "$target did not build" >&2; exit 1; }
done

failed=0
for target in "${targets[@]}"; do
  corpus="$build/corpus/$target"; artifacts="$build/artifacts/$target"
  mkdir -p "$corpus" "$artifacts"
  log="$build/$target.log"
  echo "== running $target for ${seconds}s"
  # -rss_limit_mb: ASan and the corpus in memory; -max_len: bodies as large as a real review.
  set +e
  # Swift's own crash handler fights ASan over the crashing thread; libFuzzer reports crashes itself.
  # Inputs that once crashed (Tests/Fuzz/Regressions/TARGET) are run first, every time.
  regressions=(); [ -d "Tests/Fuzz/Regressions/$target" ] && regressions=("Tests/Fuzz/Regressions/$target")
  SWIFT_BACKTRACE=enable=no ASAN_OPTIONS=detect_leaks=0 "$build/debug/$target" "$corpus" "Tests/Fuzz/Corpus/$target" "${regressions[@]}" \
    -max_total_time="$seconds" -max_len=65536 -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
    -artifact_prefix="$artifacts/" "$@" >"$log" 2>&1
  status=$?
  set -e
  runs=$(grep -E '^stat::number_of_executed_units' "$log" | awk '{print $2}' || true)
  cov=$(grep -E "#[0-9]+.*cov: " "$log" | tail -1 | sed -E "s/.*cov: ([0-9]+).*/\1/" || true)
  if [ $status -ne 0 ]; then
    failed=1
    echo "$target: CRASH or error (exit $status) after ${runs:-?} executions; see $log and $artifacts/" >&2
    grep -E 'ERROR|fuzz invariant|Fatal error|SUMMARY' "$log" | head -5 >&2 || true
  else
    echo "$target: ${runs:-?} executions in ${seconds}s, coverage ${cov:-?}, no crash"
  fi
done
exit $failed

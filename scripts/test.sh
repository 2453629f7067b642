#!/usr/bin/env bash
# The whole test suite, as CI runs it. Usage: scripts/test.sh [all|unit|cluster|kind]
# Every stage runs even if an earlier one failed, so one run shows every problem; the exit code
# is non-zero if any stage failed.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
WHAT="${1:-all}"
CACHE="${WHISPER_OPERATOR_CACHE:-$HOME/.cache/whisper-operator}"
export PATH="$CACHE/bin:$PATH"
VENV="$CACHE/venv-py1"

passed=(); failed=()
# Each stage's output is also kept, so the end of the run repeats why a stage failed: CI shows
# only the last lines of a run. A process substitution, not a pipe, and a bounded wait for its
# tee, so a daemon a stage leaves holding its output cannot stall the run.
STAGE_LOGS="$(mktemp -d)"
trap 'rm -rf "$STAGE_LOGS"' EXIT
stage() {
  local name=$1; shift
  echo; echo "=== stage: $name"
  local t0=$SECONDS status=0 tee_pid _
  "$@" > >(tee "$STAGE_LOGS/$name.log") 2>&1 || status=$?
  tee_pid=$!
  for _ in {1..50}; do kill -0 "$tee_pid" 2>/dev/null || break; sleep 0.1; done
  if [ "$status" -eq 0 ]; then passed+=("$name"); echo "=== ok: $name ($((SECONDS - t0)) s)"
  else failed+=("$name"); echo "=== FAILED: $name ($((SECONDS - t0)) s)"; fi
}
finish() {
  local name
  for name in "${failed[@]}"; do
    echo; echo "=== the last 40 lines of failed stage $name:"
    tail -n 40 "$STAGE_LOGS/$name.log"
  done
  echo
  echo "passed stages: ${passed[*]:-none}"
  echo "failed stages: ${failed[*]:-none}"
  echo "stages: ${#passed[@]} passed, ${#failed[@]} failed"
  [ ${#failed[@]} -eq 0 ]
}

# Cargo's outputs live in the cache, not in the clone: a new clone then rebuilds only the
# workspace's own crates (their sources are newer than the outputs), not the dependencies and
# whisper.cpp. Keyed by the compiler's version; a directory of an older compiler is removed.
if [ -z "${CARGO_TARGET_DIR:-}" ]; then
  rustc_key="$(rustc --version | sha256sum | cut -c1-12)"
  for old in "$CACHE"/target-ci-*; do
    [ "$old" = "$CACHE/target-ci-$rustc_key" ] || [ ! -d "$old" ] || rm -rf "$old"
  done
  export CARGO_TARGET_DIR="$CACHE/target-ci-$rustc_key"
fi
echo "cargo target dir: $CARGO_TARGET_DIR"
# Incremental caches belong to one source path, and every CI clone has a new one: they were never
# reused and filled 17 GB in a day. Cargo never removes outputs it stopped using either (each
# clone's own crates, older dependency versions); those not read for over three days go (the
# file system's relatime still updates a read file's access time daily).
export CARGO_INCREMENTAL=0
if [ -d "$CARGO_TARGET_DIR" ]; then
  find "$CARGO_TARGET_DIR" -type f -atime +3 -delete 2>/dev/null || true
fi

# Setup is not a stage: without it nothing else means anything.
scripts/install-deps.sh || exit 1
scripts/fetch-k8s-tools.sh >/dev/null || exit 1
WHISPER_TEST_MODEL="$(scripts/fetch-model.sh tiny.en | tail -n 1)" || exit 1
export WHISPER_TEST_MODEL
# The multilingual model: language detection, Spanish and French, translation.
WHISPER_TEST_BASE_MODEL="$(scripts/fetch-model.sh base | tail -n 1)" || exit 1
export WHISPER_TEST_BASE_MODEL
# The live tests (Prometheus, openai SDK, real-speech accuracy) drive the release binary.
cargo build --release -p whisper-server || exit 1
export WHISPER_SERVER_BIN="$CARGO_TARGET_DIR/release/whisper-server"
WHISPER_SPEECH_MANIFEST="$(scripts/fetch-speech-corpus.sh | tail -n 1)" || exit 1
export WHISPER_SPEECH_MANIFEST
WHISPER_MULTILINGUAL_MANIFEST="$(scripts/fetch-multilingual-corpus.sh | tail -n 1)" || exit 1
export WHISPER_MULTILINGUAL_MANIFEST
WHISPER_COMPOSE_SCHEMA="$(scripts/fetch-compose-schema.sh | tail -n 1)" || exit 1
export WHISPER_COMPOSE_SCHEMA
echo "model: $WHISPER_TEST_MODEL"
echo "base model: $WHISPER_TEST_BASE_MODEL"
echo "real-speech corpus: $WHISPER_SPEECH_MANIFEST"
echo "multilingual corpus: $WHISPER_MULTILINGUAL_MANIFEST"

lint() {
  cargo fmt --all -- --check &&
    cargo clippy --workspace --all-targets -- -D warnings &&
    shellcheck -x scripts/*.sh scripts/*/*.sh e2e/cluster.sh e2e/cluster/*.sh e2e/kind/*.sh e2e/kind/*/*.sh \
      e2e/kind/node/files/*.sh monitoring/*.sh server/docker/*.sh .ci/run
}
control_plane_smoke() { e2e/cluster/smoke-test.sh; }
cargo_tests() { cargo test --workspace --no-fail-fast; }
python_clients() {
  "$VENV/bin/python" -m pytest -q server/tests/python scripts/bench/test_wer.py scripts/bench/test_paired.py \
    scripts/bench/test_paused_clip.py scripts/soak/test_tally.py
}
# Bounded fuzzing of the server's parsers, 30 s a target. The nightly, ASan-instrumented build
# is slow cold, so its target dir lives in the cache, keyed by the nightly compiler's version.
fuzz_smoke() {
  rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal || return 1
  local nightly
  nightly="$(rustc +nightly --version | sha256sum | cut -c1-12)"
  CARGO_TARGET_DIR="$CACHE/target-fuzz-$nightly" FUZZ_CORPUS="$CACHE/fuzz-corpus" \
    FUZZ_ARTIFACTS="$CACHE/fuzz-findings" scripts/fuzz.sh 30
}
# Three minutes of mixed good and bad traffic: fails on a 5xx, a lost request, a wrong answer or
# resident memory growing past its bound (128 MiB over the first 90 s peak) (docs/soak.md).
soak_smoke() {
  scripts/soak.sh 180 --interval 30 --warm-up 90 --rss-growth-mib 128 --burst-every 20
}
chart_tests() { charts/test.sh; }
dashboard_schema() { monitoring/schema-check/run.sh; }

cluster_suites() {
  e2e/cluster.sh build || return 1
  local kubeconfig
  kubeconfig="$(e2e/cluster.sh up | tail -n 1)" || { e2e/cluster.sh down; return 1; }
  local rc=0
  # No separate `cargo build -p whisper-operator`: per-package feature resolution would rebuild
  # kube and friends; `cargo test --workspace` builds the operator binary the e2e suite runs.
  # The kind suites' tests need real pods: the kind-suite stage runs them, so they are left out
  # here rather than reported as passed.
  WHISPER_E2E_KUBECONFIG="$kubeconfig" WHISPER_E2E_MODE=local \
    cargo test --workspace --no-fail-fast -- --ignored \
    --skip real_pods_download_serve_are_scraped_and_explain_failures \
    --skip day_two_under_load_loses_no_request \
    --skip pods_after_the_first_start_from_the_cache_even_without_the_model_server \
    --skip a_load_step_scales_out_and_back_in_on_in_flight_and_on_cpu || rc=1
  e2e/cluster.sh down || rc=1
  return $rc
}

# Real pods: images built here, a kind cluster, the chart's operator pod, Prometheus Operator.
kind_suite() { e2e/kind/run.sh test; }
# The seed's compose stack with local images: Prometheus scrapes the API every 5 s.
compose_stack() { monitoring/compose-test.sh; }

case "$WHAT" in
  unit)
    stage cargo-tests cargo_tests ;;
  cluster)
    stage cluster-suites cluster_suites ;;
  kind)
    stage kind-suite kind_suite ;;
  all)
    stage lint lint
    stage cargo-tests cargo_tests
    stage python-clients python_clients
    stage soak-smoke soak_smoke
    stage fuzz-smoke fuzz_smoke
    stage chart chart_tests
    stage dashboard-schema dashboard_schema
    stage control-plane-smoke control_plane_smoke
    stage cluster-suites cluster_suites
    stage compose-stack compose_stack
    stage kind-suite kind_suite ;;
  *) echo "usage: scripts/test.sh [all|unit|cluster|kind]" >&2; exit 2 ;;
esac
finish

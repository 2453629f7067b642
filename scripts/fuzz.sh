#!/usr/bin/env bash
# Bounded fuzzing of whisper-server's parsers with cargo-fuzz (docs/fuzzing.md).
#
# Usage: scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]
#   SECONDS_PER_TARGET  libFuzzer's -max_total_time for each target (default 60)
#   TARGET              audio_decode, multipart_form, ggml_model, ct2_model (default: all)
#
# Installs what is missing (a minimal nightly toolchain, cargo-fuzz at a pinned version into
# the cache), builds the seed corpora (server/fuzz/seed-corpus.sh), then runs each target.
# Exits non-zero if any target found a crash, a hang (an input over FUZZ_TIMEOUT seconds) or
# an out-of-memory input (over FUZZ_RSS_MB), and prints where that input was saved.
#
# Environment: CARGO_TARGET_DIR (default server/fuzz/target), FUZZ_CORPUS (default
# server/fuzz/corpus; it grows across runs), FUZZ_ARTIFACTS (default server/fuzz/artifacts:
# where findings are saved; CI points it outside the clone so they outlive it), FUZZ_TIMEOUT (10),
# FUZZ_RSS_MB (2048),
# WHISPER_OPERATOR_CACHE (~/.cache/whisper-operator: where cargo-fuzz is installed).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

CARGO_FUZZ_VERSION=0.13.2
SECONDS_PER_TARGET="${1:-60}"
shift || true
ALL_TARGETS=(audio_decode multipart_form ggml_model ct2_model)
if [[ $# -gt 0 ]]; then TARGETS=("$@"); else TARGETS=("${ALL_TARGETS[@]}"); fi
if ! [[ $SECONDS_PER_TARGET =~ ^[0-9]+$ ]]; then
    echo "usage: $0 [SECONDS_PER_TARGET] [TARGET...]" >&2
    exit 2
fi

FUZZ_DIR=$ROOT/server/fuzz
CACHE="${WHISPER_OPERATOR_CACHE:-$HOME/.cache/whisper-operator}"
TARGET_DIR="${CARGO_TARGET_DIR:-$FUZZ_DIR/target}"
CORPUS="${FUZZ_CORPUS:-$FUZZ_DIR/corpus}"
ARTIFACTS="${FUZZ_ARTIFACTS:-$FUZZ_DIR/artifacts}"
TIMEOUT="${FUZZ_TIMEOUT:-10}"
RSS_MB="${FUZZ_RSS_MB:-2048}"

# --- Tools.
if ! rustup toolchain list | grep -q '^nightly'; then
    echo "fuzz: installing the nightly toolchain (minimal profile)"
    rustup toolchain install nightly --profile minimal
fi
fuzz_bin="$CACHE/cargo-fuzz-$CARGO_FUZZ_VERSION/bin"
if ! cargo fuzz --version 2>/dev/null | grep -qF "$CARGO_FUZZ_VERSION"; then
    if [[ ! -x $fuzz_bin/cargo-fuzz ]]; then
        echo "fuzz: installing cargo-fuzz $CARGO_FUZZ_VERSION into $fuzz_bin"
        cargo install cargo-fuzz --version "$CARGO_FUZZ_VERSION" --locked \
            --root "$CACHE/cargo-fuzz-$CARGO_FUZZ_VERSION"
    fi
    export PATH="$fuzz_bin:$PATH"
fi

# --- Build (cargo fuzz builds with ASan, optimised, with debug assertions) and seed.
cd "$ROOT/server"
t0=$SECONDS
build_log=$(mktemp)
if ! cargo +nightly fuzz build --target-dir "$TARGET_DIR" >"$build_log" 2>&1; then
    cat "$build_log"
    echo "fuzz: the build failed" >&2
    exit 1
fi
rm -f "$build_log"
echo "fuzz: built in $((SECONDS - t0)) s"
"$FUZZ_DIR/seed-corpus.sh" "$CORPUS"

# --- Run each target for a bounded time.
found=(); causes=()
for target in "${TARGETS[@]}"; do
    mkdir -p "$ARTIFACTS/$target" "$CORPUS/$target"
    log=$(mktemp)
    echo
    echo "=== fuzz: $target for ${SECONDS_PER_TARGET} s"
    before=$(find "$ARTIFACTS/$target" -type f | sort)
    status=0
    cargo +nightly fuzz run --target-dir "$TARGET_DIR" "$target" "$CORPUS/$target" -- \
        -max_total_time="$SECONDS_PER_TARGET" -timeout="$TIMEOUT" -rss_limit_mb="$RSS_MB" \
        -artifact_prefix="$ARTIFACTS/$target/" -print_final_stats=1 >"$log" 2>&1 || status=$?
    # The figures: the last status line and libFuzzer's final stats.
    grep -E '^#[0-9]+[[:space:]]+(DONE|pulse|NEW|REDUCE)' "$log" | tail -1 || true
    grep -E '^stat::(number_of_executed_units|average_exec_per_sec|peak_rss_mb)' "$log" || true
    if [[ $status -ne 0 ]]; then
        tail -60 "$log"
        new=$(comm -13 <(echo "$before") <(find "$ARTIFACTS/$target" -type f | sort))
        echo "=== fuzz: $target FAILED (exit $status); input(s) saved:"
        echo "${new:-  (none saved; see the log above)}"
        echo "    reproduce: cd server && cargo +nightly fuzz run $target <input>"
        found+=("$target")
        # What went wrong, repeated at the end where a CI log's tail shows it.
        causes+=("$target: $(grep -m3 -E '^(==[0-9]+== ?ERROR|SUMMARY|ERROR: libFuzzer)|panicked at' "$log" | tr '\n' ' ')")
    else
        echo "=== fuzz: $target ok"
    fi
    rm -f "$log"
done

if [[ ${#found[@]} -gt 0 ]]; then
    printf 'fuzz: %s\n' "${causes[@]}" >&2
    echo "fuzz: findings in: ${found[*]} (inputs under $ARTIFACTS)" >&2
    exit 1
fi
echo "fuzz: no findings in ${TARGETS[*]}"

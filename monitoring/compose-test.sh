#!/usr/bin/env bash
# Runs monitoring/docker-compose.yml for real and checks what README.md promises: the API answers
# a real transcription on its published port, and Prometheus scrapes whisper-api:8000 every 5 s
# and loads and evaluates the alert rules. Grafana is not started (see below).
#
# On a fresh Debian machine it installs what it needs: flite/sox/jq/curl, a Docker engine
# (scripts/install-docker.sh), Compose v2 (install-compose.sh, unless `docker compose` already
# works), the tiny.en model (scripts/fetch-model.sh) and the images (scripts/build-images.sh for
# the server, e2e/kind/monitoring/build-images.sh for Prometheus).
# WHISPER_SERVER_IMAGE / PROMETHEUS_IMAGE name already built images and skip those builds.
#
# usage: monitoring/compose-test.sh      (exit 0: every check passed; the stack is torn down)
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
MONITORING="$ROOT/monitoring"
CACHE="${WHISPER_OPERATOR_CACHE:-$HOME/.cache/whisper-operator}"
START=$SECONDS
log() { echo "compose-test [$((SECONDS - START))s]: $*" >&2; }
fail() { echo "compose-test: FAIL: $*" >&2; exit 1; }

# ---- prerequisites -----------------------------------------------------------------------
# shellcheck source=scripts/lib/host.sh
source "$ROOT/scripts/lib/host.sh"
ensure_debs flite sox jq curl python3
"$ROOT/scripts/install-docker.sh"

# The user's own `docker compose` if it works; else Compose v2 built from its Go module, used
# through a private DOCKER_CONFIG (this machine's docker CLI has no compose plugin).
if docker compose version >/dev/null 2>&1; then
  compose_config=""
else
  compose_config="$("$MONITORING/install-compose.sh" | tail -n 1)"
fi
compose() {
  if [[ -n "$compose_config" ]]; then
    DOCKER_CONFIG="$compose_config" docker compose "$@"
  else
    docker compose "$@"
  fi
}
log "$(compose version)"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/compose-test.XXXXXX")"
started=false
cleanup() {
  local rc=$?
  if $started; then
    if [[ $rc -ne 0 ]]; then
      echo "--- docker compose ps / logs (the run failed) ---" >&2
      compose ps -a >&2 || true
      compose logs --no-color --tail 40 >&2 || true
    fi
    compose down -v --remove-orphans >&2 || true
  fi
  rm -rf "$WORK"
  exit "$rc"
}
trap cleanup EXIT

# Images: built locally (no registry is reachable), unless named by the caller.
if [[ -z "${WHISPER_SERVER_IMAGE:-}" ]]; then
  log "building the server image (scripts/build-images.sh)"
  WHISPER_SERVER_IMAGE="$("$ROOT/scripts/build-images.sh" | grep -E '/whisper-server:[^-]+$' | tail -n 1)"
  [[ -n "$WHISPER_SERVER_IMAGE" ]] || fail "scripts/build-images.sh printed no whisper-server image"
fi
if [[ -z "${PROMETHEUS_IMAGE:-}" ]]; then
  log "building the Prometheus image (e2e/kind/monitoring/build-images.sh)"
  PROMETHEUS_IMAGE="$("$ROOT/e2e/kind/monitoring/build-images.sh" | grep -E '/prometheus:' | tail -n 1)"
  [[ -n "$PROMETHEUS_IMAGE" ]] || fail "e2e/kind/monitoring/build-images.sh printed no prometheus image"
fi
for image in "$WHISPER_SERVER_IMAGE" "$PROMETHEUS_IMAGE"; do
  docker image inspect "$image" >/dev/null 2>&1 || fail "image $image is not in the local engine"
done

# Model: the server runs as uid 65532, so it gets a world-readable copy in a folder of this run
# rather than a mount of the cache (fetch-model.sh leaves the file 0600 there).
if [[ -s "$CACHE/models/ggml-tiny.en.bin" ]]; then
  model="$CACHE/models/ggml-tiny.en.bin"
else
  [[ -x "$CACHE/venv-py1/bin/pip" ]] || "$ROOT/scripts/install-deps.sh" >&2
  model="$("$ROOT/scripts/fetch-model.sh" tiny.en | tail -n 1)"
fi
mkdir -m 0755 "$WORK/models"
install -m 0644 "$model" "$WORK/models/ggml-tiny.en.bin"

# Free loopback ports, so a user's own stack on 8000/9090 or a parallel run does not collide.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
export WHISPER_SERVER_IMAGE PROMETHEUS_IMAGE
export WHISPER_MODEL_DIR="$WORK/models"
WHISPER_API_PORT="$(free_port)"
PROMETHEUS_PORT="$(free_port)"
export WHISPER_API_PORT PROMETHEUS_PORT
# Its own project name: never touches a user's `whisper-monitoring` stack or its volumes.
export COMPOSE_PROJECT_NAME="whisper-monitoring-test-$$"
export COMPOSE_FILE="$MONITORING/docker-compose.yml"
API="http://127.0.0.1:$WHISPER_API_PORT"
PROM="http://127.0.0.1:$PROMETHEUS_PORT"

# ---- up -----------------------------------------------------------------------------------
log "server image $WHISPER_SERVER_IMAGE, prometheus image $PROMETHEUS_IMAGE"
# Only the API and Prometheus: the images are local, so nothing is pulled or built here.
started=true
compose up -d --no-build --pull never whisper-api prometheus
echo "grafana: not started (AGPL image, not buildable here)"

# Polls a command until it succeeds: poll SECONDS WHAT COMMAND...
poll() {
  local limit=$1 what=$2; shift 2
  local deadline=$((SECONDS + limit))
  until "$@" >/dev/null 2>&1; do
    (( SECONDS < deadline )) || fail "$what: not within ${limit}s"
    sleep 1
  done
}
poll 120 "API /readyz on $API" curl -fsS "$API/readyz"
poll 60 "Prometheus /-/ready on $PROM" curl -fsS "$PROM/-/ready"
log "API and Prometheus ready"

# ---- a real transcription on the published port --------------------------------------------
flite -voice rms -t "Hello world. The quick brown fox jumps over the lazy dog." -o "$WORK/raw.wav"
sox "$WORK/raw.wav" -r 16000 -c 1 -b 16 "$WORK/speech.wav"
status="$(curl -sS -o "$WORK/transcript.json" -w '%{http_code}' "$API/v1/audio/transcriptions" \
  -F "file=@$WORK/speech.wav;type=audio/wav" -F model=whisper-1)"
text="$(jq -r '.text // empty' "$WORK/transcript.json" 2>/dev/null || true)"
[[ "$status" == 200 ]] || fail "transcription answered $status: $(cat "$WORK/transcript.json")"
grep -qi "quick brown fox" <<<"$text" || fail "unexpected transcript: $text"
log "transcript: $text"
# The image carries the VAD model, so a request may ask for the speech alone.
status="$(curl -sS -o "$WORK/speech-only.json" -w '%{http_code}' "$API/v1/audio/transcriptions" \
  -F "file=@$WORK/speech.wav;type=audio/wav" -F model=whisper-1 -F chunking_strategy=auto)"
[[ "$status" == 200 ]] || fail "chunking_strategy=auto answered $status: $(cat "$WORK/speech-only.json")"
grep -qi "quick brown fox" <<<"$(jq -r '.text // empty' "$WORK/speech-only.json")" ||
  fail "unexpected speech-only transcript: $(cat "$WORK/speech-only.json")"

# ---- Prometheus: the target, its 5 s cadence, the request counter, the rules ---------------
# The active target of a job, as /api/v1/targets reports it: target JOB
target() {
  curl -fsS "$PROM/api/v1/targets?state=active" |
    jq -e --arg job "$1" '[.data.activeTargets[] | select(.labels.job == $job)] | first'
}
target_up() { target "$1" | jq -e '.health == "up"'; }
poll 60 "target whisper-api up" target_up whisper-api
target="$(target whisper-api)"
jq -e '.scrapeUrl == "http://whisper-api:8000/metrics"' <<<"$target" >/dev/null ||
  fail "whisper-api target scrapes $(jq -r .scrapeUrl <<<"$target")"
jq -e '.labels.instance == "whisper-api:8000"' <<<"$target" >/dev/null ||
  fail "whisper-api target instance is $(jq -r .labels.instance <<<"$target")"
interval="$(jq -r '.scrapeInterval' <<<"$target")"
[[ "$interval" == 5s ]] || fail "whisper-api scrape interval is '$interval', not 5s"

# lastScrape must move, about every 5 s: collect three distinct values over at most 20 s.
scrapes=()
deadline=$((SECONDS + 20))
while (( ${#scrapes[@]} < 3 )); do
  (( SECONDS < deadline )) || fail "lastScrape moved only ${#scrapes[@]} times in 20 s: ${scrapes[*]}"
  last="$(target whisper-api | jq -r '.lastScrape')"
  if [[ ${#scrapes[@]} -eq 0 || "${scrapes[-1]}" != "$last" ]]; then scrapes+=("$last"); fi
  sleep 0.5
done
gaps=()
for i in 1 2; do
  gaps+=("$(awk -v a="$(date -d "${scrapes[i-1]}" +%s.%N)" -v b="$(date -d "${scrapes[i]}" +%s.%N)" \
    'BEGIN { printf "%.2f", b - a }')")
done
for gap in "${gaps[@]}"; do
  # 5 s apart, give or take the jitter of a loaded 2-core machine.
  awk -v g="$gap" 'BEGIN { exit !(g >= 4 && g <= 6) }' ||
    fail "scrapes of whisper-api ${gaps[*]} s apart, not about 5 s (${scrapes[*]})"
done
log "target whisper-api:8000 up, scrapeInterval 5s, lastScrape ${scrapes[*]} (gaps ${gaps[*]} s)"
poll 30 "target prometheus (localhost:9090) up" target_up prometheus

# The transcription shows in Prometheus once a scrape after it has landed.
query_requests() {
  curl -fsS "$PROM/api/v1/query" --data-urlencode \
    'query=sum(whisper_transcription_requests_total{job="whisper-api",instance="whisper-api:8000"})' |
    jq -e '.data.result[0].value[1] | tonumber > 0'
}
poll 30 "whisper_transcription_requests_total > 0 in Prometheus" query_requests
requests="$(curl -fsS "$PROM/api/v1/query" --data-urlencode \
  'query=sum(whisper_transcription_requests_total{job="whisper-api"})' | jq -r '.data.result[0].value[1]')"
log "whisper_transcription_requests_total = $requests"

# Rules: the groups and alerts of alert_rules.yml, each group evaluated, each rule healthy.
# evaluation_interval is 15 s, so the first evaluation lands within about 15 s of start.
want_groups="$(sed -n 's/^  - name: *//p' "$MONITORING/alert_rules.yml" | sort | tr '\n' ' ')"
want_alerts="$(sed -n 's/^ *- alert: *//p' "$MONITORING/alert_rules.yml" | sort | tr '\n' ' ')"
[[ -n "$want_alerts" ]] || fail "no alerts read from alert_rules.yml"
evaluated() {
  curl -fsS "$PROM/api/v1/rules" | jq -e '.data.groups | length > 0 and
    all(.[]; .lastEvaluation != null and (.lastEvaluation | startswith("0001-") | not))'
}
poll 45 "every rule group evaluated" evaluated
rules="$(curl -fsS "$PROM/api/v1/rules")"
got_groups="$(jq -r '.data.groups[].name' <<<"$rules" | sort | tr '\n' ' ')"
got_alerts="$(jq -r '.data.groups[].rules[] | select(.type == "alerting") | .name' <<<"$rules" | sort | tr '\n' ' ')"
[[ "$got_groups" == "$want_groups" ]] || fail "rule groups loaded: '$got_groups', alert_rules.yml has '$want_groups'"
[[ "$got_alerts" == "$want_alerts" ]] || fail "alerts loaded: '$got_alerts', alert_rules.yml has '$want_alerts'"
jq -e 'all(.data.groups[]; .file | endswith("/alert_rules.yml"))' <<<"$rules" >/dev/null ||
  fail "rule groups not from alert_rules.yml: $(jq -c '[.data.groups[].file]' <<<"$rules")"
unhealthy="$(jq -c '[.data.groups[].rules[] | select(.health != "ok") | {name, health, lastError}]' <<<"$rules")"
[[ "$unhealthy" == "[]" ]] || fail "unhealthy rules: $unhealthy"
jq -r '.data.groups[] | "compose-test: group \(.name) (\(.file)) last evaluated \(.lastEvaluation), every \(.interval) s" ,
  (.rules[] | "compose-test:   \(.name): health \(.health), state \(.state)")' <<<"$rules" >&2

# ---- down ---------------------------------------------------------------------------------
trap - EXIT
compose down -v --remove-orphans
left="$(docker ps -aq --filter "label=com.docker.compose.project=$COMPOSE_PROJECT_NAME")"
[[ -z "$left" ]] || fail "containers left after down: $left"
left="$(docker volume ls -q --filter "label=com.docker.compose.project=$COMPOSE_PROJECT_NAME")"
[[ -z "$left" ]] || fail "volumes left after down -v: $left"
rm -rf "$WORK"
log "passed: API + Prometheus up, transcription, 5 s scrapes, rules evaluated; stack removed"
echo "compose-test: 1 passed, 0 failed"

#!/usr/bin/env bash
# Makes Docker Compose v2 available to compose-test.sh and prints a DOCKER_CONFIG folder whose
# cli-plugins/ holds it, so that `DOCKER_CONFIG=<that> docker compose ...` runs it as the plugin
# users have. Nothing outside the cache changes (no ~/.docker, no system plugin folder).
#
# Where does it come from? No container registry or release download is reachable here, and
# Debian's docker-compose is v1 (1.29.2, Python), which users no longer have; so Compose v2 is
# built from its Go module, the same source its releases are built from. Cached by version: a
# warm machine only checks the binary is there.
#
# Why v2.40.3: the newest v2 the Go module proxy serves; it needs go >= 1.24.9. v5 (Compose's
# current line) needs go 1.26.8 at v5.6.0 and a newer toolchain from v5.7.2 on; v2.40.3 speaks
# the same file format and talks to Debian's Docker 20.10 engine (API 1.41) by negotiating down.
#
# usage: monitoring/install-compose.sh        (prints the DOCKER_CONFIG folder as its last line)
set -euo pipefail

MODULE="github.com/docker/compose/v2"
VERSION="v2.40.3"
CACHE="${WHISPER_OPERATOR_CACHE:-$HOME/.cache/whisper-operator}"
CONFIG="$CACHE/compose-$VERSION/docker-config"
PLUGIN="$CONFIG/cli-plugins/docker-compose"
log() { echo "install-compose: $*" >&2; }

if [[ ! -x "$PLUGIN" ]]; then
  command -v go >/dev/null || { log "go is required to build Compose $VERSION"; exit 1; }
  work="$(mktemp -d "${TMPDIR:-/tmp}/compose-build.XXXXXX")"
  # Go makes module cache files read-only; the copy below and the throwaway cache need u+w.
  trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
  log "downloading $MODULE@$VERSION"
  json="$(cd "$work" && GOFLAGS=-mod=mod go mod download -json "$MODULE@$VERSION")"
  dir="$(sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p' <<<"$json")"
  [[ -n "$dir" && -d "$dir/cmd" ]] || { log "no module source; go said:"; echo "$json" >&2; exit 1; }
  # `go install MODULE/cmd@VERSION` refuses it (its go.mod has exclude directives), so the
  # module is built as the main module from a writable copy, with its own go.sum pinning deps.
  cp -r "$dir" "$work/src"
  chmod -R u+w "$work/src"
  log "building $VERSION (a few minutes on 2 cores when cold)"
  mkdir -p "$(dirname "$PLUGIN")"
  (cd "$work/src" && CGO_ENABLED=0 GOFLAGS=-mod=readonly go build -trimpath \
    -ldflags "-s -w -X github.com/docker/compose/v2/internal.Version=$VERSION" \
    -o "$PLUGIN.tmp" ./cmd)
  mv "$PLUGIN.tmp" "$PLUGIN"
fi
# The plugin answers the CLI's metadata call; a broken binary fails here, not mid-test.
"$PLUGIN" docker-cli-plugin-metadata | grep -Eq "\"Version\": *\"$VERSION\"" || {
  log "$PLUGIN does not report $VERSION"; exit 1; }
log "Compose $VERSION at $PLUGIN"
echo "$CONFIG"

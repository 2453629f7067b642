#!/usr/bin/env bash
# Fetches the Compose Specification JSON schema that `docker compose` validates files against and
# prints its path as the last line (monitoring/tests/compose_schema.rs reads it as
# $WHISPER_COMPOSE_SCHEMA). It ships inside the Go module compose-spec/compose-go/v2
# (schema/compose-spec.json, go:embed'ed by Compose); the Go module proxy is the registry that
# serves it here. Cached by version: a warm machine only checks the file is there.
set -euo pipefail

MODULE="github.com/compose-spec/compose-go/v2"
VERSION="v2.16.2"
CACHE="${WHISPER_OPERATOR_CACHE:-$HOME/.cache/whisper-operator}"
DEST="$CACHE/compose-spec-$VERSION/compose-spec.json"

if [[ ! -s "$DEST" ]]; then
  command -v go >/dev/null || { echo "fetch-compose-schema: go is required" >&2; exit 1; }
  # A throwaway module cache: nothing leaks into the user's GOPATH. Go makes its files read-only.
  gopath="$(mktemp -d "${TMPDIR:-/tmp}/compose-schema-gopath.XXXXXX")"
  trap 'chmod -R u+w "$gopath" 2>/dev/null; rm -rf "$gopath"' EXIT
  echo "fetch-compose-schema: downloading $MODULE@$VERSION" >&2
  json="$(cd "$gopath" && GOFLAGS=-mod=mod GOPATH="$gopath" GOMODCACHE="$gopath/pkg/mod" \
    go mod download -json "$MODULE@$VERSION")"
  dir="$(sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p' <<<"$json")"
  [[ -n "$dir" && -f "$dir/schema/compose-spec.json" ]] || {
    echo "fetch-compose-schema: no schema/compose-spec.json in the module; go said:" >&2
    echo "$json" >&2
    exit 1
  }
  mkdir -p "$(dirname "$DEST")"
  install -m 0644 "$dir/schema/compose-spec.json" "$DEST.tmp"
  mv "$DEST.tmp" "$DEST"
fi
echo "$DEST"

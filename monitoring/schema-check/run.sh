#!/usr/bin/env bash
# Type-checks a Grafana dashboard JSON (default: the project's only copy) against @grafana/schema.
# Usage: monitoring/schema-check/run.sh [DASHBOARD.json]   exit 0 = valid, 1 = schema errors.
# Installs the pinned npm packages once (npm ci into node_modules, keyed by the lock file's hash;
# the npm download cache is ~/.npm).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
dashboard="$(realpath "${1:-$here/../grafana/dashboards/whisper-dashboard.json}")"
command -v npm >/dev/null || { echo "schema-check: npm (Node.js) is required" >&2; exit 2; }

stamp="$here/node_modules/.installed-$(sha256sum "$here/package-lock.json" | cut -c1-12)"
if [ ! -f "$stamp" ]; then
  (cd "$here" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  touch "$stamp"
fi

work="$(mktemp -d "$here/.gen-XXXXXX")"
trap 'rm -rf "$work"' EXIT
node "$here/generate.mjs" "$dashboard" "$work/dashboard.ts"
printf '{ "extends": "../tsconfig.base.json", "files": ["dashboard.ts"] }\n' > "$work/tsconfig.json"
if "$here/node_modules/.bin/tsc" -p "$work/tsconfig.json"; then
  echo "schema-check: $dashboard matches @grafana/schema"
else
  echo "schema-check: $dashboard does NOT match @grafana/schema" >&2
  exit 1
fi

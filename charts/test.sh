#!/usr/bin/env bash
# Tests the Helm chart without a cluster:
#   - helm lint --strict with each values file under whisper-operator/ci/
#   - the rendered manifests pass kubernetes-validate --strict against Kubernetes 1.34
#   - every file under bad-values/ is refused, with the message its `# expect:` line names
#   - the chart's CRD is identical to crds/whisperservice.yaml
#   - RBAC has no wildcards, the leader-election Role grants the Lease calls the operator makes,
#     and the operator pod spec meets the `restricted` Pod Security Standard
# Needs helm (scripts/fetch-k8s-tools.sh) and the venv from scripts/install-deps.sh.
set -uo pipefail
cd "$(dirname "$0")"
CACHE="${WHISPER_OPERATOR_CACHE:-$HOME/.cache/whisper-operator}"
export PATH="$CACHE/bin:$PATH"
VENV="$CACHE/venv-py1"
CHART=whisper-operator
command -v helm >/dev/null || { echo "charts/test.sh: helm not found; run scripts/fetch-k8s-tools.sh" >&2; exit 1; }
[ -x "$VENV/bin/kubernetes-validate" ] || { echo "charts/test.sh: $VENV/bin/kubernetes-validate missing; run scripts/install-deps.sh" >&2; exit 1; }

OUT="$(mktemp -d)"
trap 'rm -rf "$OUT"' EXIT
failures=0
pass() { echo "ok   $*"; }
fail() { echo "FAIL $*"; failures=$((failures + 1)); }

# The CRD: one source of truth at the repository root, copied into the chart.
if cmp -s ../crds/whisperservice.yaml "$CHART/crds/whisperservice.yaml"; then
  pass "chart CRD equals crds/whisperservice.yaml"
else
  fail "chart CRD differs from crds/whisperservice.yaml; run: cp crds/whisperservice.yaml charts/$CHART/crds/"
fi

for values in "$CHART"/ci/*.yaml; do
  name="$(basename "$values" .yaml)"
  if helm lint --strict "$CHART" -f "$values" >"$OUT/$name.lint" 2>&1; then
    pass "helm lint --strict ($name)"
  else
    fail "helm lint --strict ($name)"; cat "$OUT/$name.lint"
  fi
  # --include-crds so the CRD is schema-checked too; a namespace other than default catches
  # templates that forget metadata.namespace.
  if ! helm template "rel-$name" "$CHART" -n "ns-$name" --include-crds -f "$values" >"$OUT/$name.yaml" 2>"$OUT/$name.err"; then
    fail "helm template ($name)"; cat "$OUT/$name.err"; continue
  fi
  if "$VENV/bin/kubernetes-validate" --strict --quiet -k 1.34.0 "$OUT/$name.yaml" >"$OUT/$name.kv" 2>&1 \
      && ! grep -q '^ERROR' "$OUT/$name.kv"; then
    pass "kubernetes-validate --strict -k 1.34.0 ($name)"
  else
    fail "kubernetes-validate ($name)"; cat "$OUT/$name.kv"
  fi
  if "$VENV/bin/python" check_manifests.py "$values" "$OUT/$name.yaml"; then
    pass "RBAC without wildcards, restricted pod security, expected objects ($name)"
  else
    fail "manifest checks ($name)"
  fi
done

for values in bad-values/*.yaml; do
  expect="$(sed -n 's/^# expect: //p' "$values")"
  [ -n "$expect" ] || { fail "$values has no '# expect:' line"; continue; }
  if helm template rel "$CHART" -f "$values" >"$OUT/bad.out" 2>&1; then
    fail "$values was accepted"
  elif grep -qF -- "$expect" "$OUT/bad.out"; then
    pass "refused $(basename "$values"): $expect"
  else
    fail "$values refused with an unexpected message:"; cat "$OUT/bad.out"
  fi
done

echo "charts/test.sh: $failures failure(s)"
[ "$failures" -eq 0 ]

# shellcheck shell=bash
# Kubernetes helpers shared by the cluster scripts. Source it; it runs nothing itself.

# wait_established SECONDS KUBECTL OBJECT...: waits until every CRD that OBJECT names (crd/NAME
# arguments, or -f PATH) reports Established=True; fails after SECONDS. KUBECTL is a command or
# shell function that runs kubectl against the cluster. Not `kubectl wait --for
# condition=Established`: that fails outright, instead of waiting, when it reads a CRD whose
# status has no conditions yet (".status.conditions accessor error: <nil>").
wait_established() {
  local secs=$1 kubectl=$2 i states
  shift 2
  for ((i = 0; i < secs * 5; i++)); do
    if states="$("$kubectl" get "$@" --no-headers \
      -o 'custom-columns=ESTABLISHED:.status.conditions[?(@.type=="Established")].status' 2>/dev/null)" &&
      [[ -n "$states" ]] && ! grep -qvx True <<<"$states"; then
      return 0
    fi
    sleep 0.2
  done
  return 1
}

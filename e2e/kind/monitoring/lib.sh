# shellcheck shell=bash
# Helpers shared by the monitoring scripts; sourced after versions.sh.

# ensure_debs PACKAGE...: installs the Debian packages that are missing (fresh machines).
ensure_debs() {
  local p missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [[ ${#missing[@]} -eq 0 ]] && return
  if ! command -v apt-get >/dev/null || [[ "$(id -u)" != 0 ]]; then
    echo "missing packages ${missing[*]}: install them (needs apt-get and root)" >&2
    return 1
  fi
  echo "apt-get install ${missing[*]}" >&2
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

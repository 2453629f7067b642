# shellcheck shell=bash
# What differs between the machines the scripts run on (sourced, not run): Debian packages are
# installed where missing; elsewhere (macOS, other distributions) the user installs the tools.

# ensure_debs PACKAGE...: installs the Debian packages that are missing; a warm machine only
# checks. Without dpkg it names the packages whose tools the caller needs and returns 0: the
# first command that is really missing then fails with its own name.
ensure_debs() {
  local p missing=()
  if ! command -v dpkg-query >/dev/null; then
    echo "not a Debian system: the next steps expect the tools of $*" >&2
    return 0
  fi
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [[ ${#missing[@]} -eq 0 ]] && return 0
  if ! command -v apt-get >/dev/null || [[ "$(id -u)" != 0 ]]; then
    echo "missing Debian packages ${missing[*]}: install them (needs apt-get and root)" >&2
    return 1
  fi
  echo "apt-get install ${missing[*]}" >&2
  DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# sha256_hex [FILE]: the SHA-256 of FILE (or of stdin) in hex; sha256sum on Linux, shasum on macOS.
sha256_hex() {
  if command -v sha256sum >/dev/null; then
    sha256sum "$@" | cut -c1-64
  else
    shasum -a 256 "$@" | cut -c1-64
  fi
}

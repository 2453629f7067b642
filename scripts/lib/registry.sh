# shellcheck shell=bash
# Whether a published image can be had (sourced, not run). The scripts use upstream's published
# images wherever a registry answers and build stand-ins here only where none does, so on a
# machine with internet nothing is built that a user would pull.

# image_available REF: REF is in the local engine already, or pulls now. Offline the pull fails
# within seconds (no route or no DNS). DOCKER names the client (default: docker on PATH).
image_available() {
  local docker="${DOCKER:-docker}"
  "$docker" image inspect "$1" >/dev/null 2>&1 || "$docker" pull -q "$1" >/dev/null 2>&1
}

# images_mode MODE IMAGE...: prints "published" or "local" for IMAGES_OFFLINE-style MODE
# (0: published, failing if one cannot be pulled; 1: local; auto: published where all pull).
images_mode() {
  local mode="$1" image
  shift
  case "$mode" in
    1) echo local; return 0 ;;
    0 | auto) ;;
    *) echo "IMAGES_OFFLINE must be auto, 0 or 1 (is '$mode')" >&2; return 2 ;;
  esac
  for image in "$@"; do
    if ! image_available "$image"; then
      if [[ "$mode" == 0 ]]; then
        echo "cannot pull $image (IMAGES_OFFLINE=0)" >&2
        return 1
      fi
      echo "cannot pull $image: building stand-ins here" >&2
      echo local
      return 0
    fi
  done
  echo published
}

#!/usr/bin/env bash
# Makes a Docker engine reachable for the image builds and the kind suite. Where `docker info`
# already answers (Docker Desktop, a systemd-managed engine) it does nothing. Otherwise, on
# Debian, it installs Debian's docker.io and starts dockerd by hand (these machines have no
# systemd), logging to $CACHE/docker/dockerd.log.
#
# One quirk handled here: a kernel whose capability bounding set lacks CAP_SYS_RESOURCE (the
# project's VMs) cannot start `--privileged` containers, because Docker asks runc for every
# capability. kind runs its nodes privileged, so dockerd's default runtime becomes a runc wrapper
# that drops CAP_SYS_RESOURCE from each container's OCI spec before handing it to runc.
set -euo pipefail

CACHE="${WHISPER_OPERATOR_CACHE:-$HOME/.cache/whisper-operator}"
DIR="$CACHE/docker"
log() { echo "install-docker: $*" >&2; }

if docker info >/dev/null 2>&1; then
  log "engine reachable"
  exit 0
fi
[ "$(id -u)" = 0 ] || { log "no Docker engine reachable and not root: start Docker yourself"; exit 1; }
command -v apt-get >/dev/null || { log "no Docker engine reachable and no apt-get: install Docker yourself"; exit 1; }

# shellcheck source=scripts/lib/host.sh
. "$(dirname "$0")/lib/host.sh"
ensure_debs docker.io jq iptables

mkdir -p "$DIR" /etc/docker
# Bit 24 of CapBnd is CAP_SYS_RESOURCE.
bounding=$(awk '/^CapBnd:/ {print $2}' /proc/self/status)
if (( (16#$bounding >> 24 & 1) == 0 )); then
  wrapper="$DIR/runc-without-sys-resource"
  cat >"$wrapper" <<'EOF'
#!/bin/sh
# runc, minus CAP_SYS_RESOURCE, which this kernel's bounding set lacks (see install-docker.sh).
drop() {
  tmp="$1.tmp.$$"
  jq 'def strip: if type == "array" then map(select(. != "CAP_SYS_RESOURCE")) else . end;
      (if has("process") then .process.capabilities else .capabilities end) |=
        (if . == null then . else with_entries(.value |= strip) end)' "$1" >"$tmp" && mv "$tmp" "$1"
}
bundle=""; process=""; prev=""
for arg in "$@"; do
  case "$prev" in
    --bundle|-b) bundle="$arg" ;;
    --process|-p) process="$arg" ;;
  esac
  case "$arg" in
    --bundle=*) bundle="${arg#--bundle=}" ;;
    --process=*) process="${arg#--process=}" ;;
  esac
  prev="$arg"
done
[ -n "$bundle" ] && [ -f "$bundle/config.json" ] && drop "$bundle/config.json"
[ -n "$process" ] && [ -f "$process" ] && drop "$process"
exec /usr/sbin/runc "$@"
EOF
  chmod 0755 "$wrapper"
  jq -n --arg path "$wrapper" \
    '{"runtimes": {"runc-without-sys-resource": {"path": $path}}, "default-runtime": "runc-without-sys-resource"}' \
    >/etc/docker/daemon.json
  log "default runtime: $wrapper (this kernel lacks CAP_SYS_RESOURCE)"
fi

if ! pgrep -x dockerd >/dev/null; then
  log "starting dockerd (log: $DIR/dockerd.log)"
  nohup dockerd >"$DIR/dockerd.log" 2>&1 &
fi
for _ in $(seq 60); do
  docker info >/dev/null 2>&1 && { log "engine reachable"; exit 0; }
  sleep 1
done
log "dockerd did not answer within 60 s; last lines of its log:"
tail -n 20 "$DIR/dockerd.log" >&2
exit 1

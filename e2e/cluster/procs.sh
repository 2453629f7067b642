# shellcheck shell=bash
# Starting, finding and stopping the control-plane processes; sourced by cluster.sh.
# Every process gets its own session (setsid) and files for stdin/stdout/stderr, so a caller that
# reads `cluster.sh up`'s stdout through a pipe sees EOF as soon as the script exits.

# start_proc NAME BINARY ARGS...: runs in the background, pid in $STATE/pids/NAME.pid.
start_proc() {
  local name="$1"
  shift
  mkdir -p "$STATE/pids" "$STATE/logs"
  # 9>&-: the state lock (cluster.sh lock_state) must not outlive this script.
  setsid "$@" </dev/null >"$STATE/logs/$name.log" 2>&1 9>&- &
  echo $! >"$STATE/pids/$name.pid"
  log "started $name (pid $!), log $STATE/logs/$name.log"
}

# cmdline_has PID TEXT: whether PID's command line contains TEXT (builtins only: no fork per pid).
cmdline_has() {
  local args=()
  mapfile -d '' args 2>/dev/null <"/proc/$1/cmdline" || return 1
  [[ "${args[*]}" == *"$2"* ]]
}

# ours PID: true when PID is alive and is one of our binaries working on this state dir
# (guards against a recycled pid).
ours() {
  local pid="$1" exe
  cmdline_has "$pid" "$STATE/" || return 1
  exe="$(readlink "/proc/$pid/exe" 2>/dev/null)" || return 1
  # Any version's binaries count, so `down` still finds a cluster started with other versions.
  [[ "$exe" == "$WHISPER_OPERATOR_CACHE"/k8s-bin-*/* ]]
}

# proc_alive NAME
proc_alive() {
  local f="$STATE/pids/$1.pid"
  [[ -f "$f" ]] && ours "$(cat "$f")"
}

# our_pids: every live process of ours, found by command line so that a lost pid file loses nothing.
our_pids() {
  local dir pid
  for dir in /proc/[0-9]*; do
    pid="${dir#/proc/}"
    if cmdline_has "$pid" "$STATE/" && ours "$pid"; then echo "$pid"; fi
  done
  return 0
}

# stop_all: TERM in reverse start order, then KILL whatever is still there after a grace period.
stop_all() {
  local pids pid i
  pids="$(our_pids)"
  for name in kwok kube-scheduler kube-controller-manager kube-apiserver etcd; do
    [[ -f "$STATE/pids/$name.pid" ]] || continue
    pid="$(cat "$STATE/pids/$name.pid")"
    if ours "$pid" && kill -TERM "$pid" 2>/dev/null; then log "stopping $name (pid $pid)"; fi
  done
  for pid in $pids; do kill -TERM "$pid" 2>/dev/null || true; done
  for ((i = 0; i < 100; i++)); do
    [[ -z "$(our_pids)" ]] && break
    sleep 0.1
  done
  for pid in $(our_pids); do
    log "killing pid $pid"
    kill -KILL "$pid" 2>/dev/null || true
  done
  for ((i = 0; i < 50; i++)); do
    [[ -z "$(our_pids)" ]] && break
    sleep 0.1
  done
  rm -f "$STATE"/pids/*.pid
  [[ -z "$(our_pids)" ]]
}

# proc_running NAME: the process start_proc started still runs. Unlike proc_alive it does not
# ask for our binary: right after start_proc the pid may still be bash or setsid on its way to
# exec'ing it (a control-plane start once failed that way, reporting an empty log). A zombie
# counts as gone.
proc_running() {
  local f="$STATE/pids/$1.pid" stat rest
  [[ -f "$f" ]] || return 1
  read -r stat 2>/dev/null <"/proc/$(cat "$f")/stat" || return 1
  rest="${stat##*) }"
  [[ "${rest%% *}" != Z ]]
}

# wait_for WHAT SECONDS COMMAND...: retries COMMAND every 0.2 s. When WHAT names a process we
# started, gives up as soon as that process has exited.
wait_for() {
  local what="$1" secs="$2" i
  shift 2
  for ((i = 0; i < secs * 5; i++)); do
    "$@" >/dev/null 2>&1 && return 0
    if [[ -f "$STATE/pids/$what.pid" ]] && ! proc_running "$what"; then
      log "$what exited"
      return 1
    fi
    sleep 0.2
  done
  log "timed out after ${secs}s waiting for $what"
  return 1
}

# free_ports BASE COUNT: COUNT ports from BASE upward that no TCP socket uses now (read from
# /proc/net, so no extra tool is needed). BASE should lie below the kernel's ephemeral range
# (32768+), where outgoing connections take their source ports.
free_ports() {
  local p="$1" n="$2" used
  used="$(awk 'FNR > 1 { split($2, a, ":"); print a[2] }' /proc/net/tcp /proc/net/tcp6 2>/dev/null | sort -u)"
  while ((n > 0 && p < 32768)); do
    if ! grep -qx "$(printf '%04X' "$p")" <<<"$used"; then
      echo "$p"
      n=$((n - 1))
    fi
    p=$((p + 1))
  done
  ((n == 0))
}

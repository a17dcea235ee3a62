# Sourced by the benchmark scripts: the processes a script starts, and waiting for servers.
#   started PID…   remember processes this script started (stopped on exit, by id only)
#   finish PID…    stop those now and forget them
#   stop_all       stop every remembered process (runs on EXIT; a script with more to clean
#                  up sets its own trap and calls stop_all from it)
#   wait_http URL [TRIES]   until URL answers 2xx, 0.1 s apart (100 tries); exits otherwise
#   load           the load averages, for the lines a bench prints
PIDS=()

started() { PIDS+=("$@"); }

stop_all() {
  local p
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  PIDS=()
}
trap stop_all EXIT

finish() {
  local p q keep=()
  for p in "$@"; do kill "$p" 2>/dev/null || true; done
  for p in "$@"; do wait "$p" 2>/dev/null || true; done
  for q in "${PIDS[@]}"; do [[ " $* " == *" $q "* ]] || keep+=("$q"); done
  PIDS=("${keep[@]}")
}

wait_http() {
  local url=$1 tries=${2:-100} i
  for i in $(seq "$tries"); do
    curl -sf -o /dev/null "$url" && return 0
    sleep 0.1
  done
  echo "$url did not answer after $tries tries" >&2
  exit 1
}

load() { cut -d' ' -f1-3 /proc/loadavg; }

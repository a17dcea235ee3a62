#!/usr/bin/env bash
# Events benchmark (issue 15), everything on 127.0.0.1, every phase of fixed length, each phase
# on a fresh `hlsorigin live --ll-hls --part-duration 0.2 --listen` fed by ffmpeg -re (a
# pre-encoded 720p30 3 Mb/s TS looped with -c copy, so the encoder does not eat the two cores):
#  1. ws    N WebSocket subscribers of /api/events (examples/events_load.rs):
#             idle: types=stream.ended (nothing arrives while the stream runs): server RSS
#                   (/proc VmRSS) before and after connecting them, KiB per subscriber;
#             fan-out: types=segment.published,part.published: RSS, and per event the latency
#                   from its `time` to its arrival at the last of the N subscribers, p50/p99
#                   over WINDOW seconds (~5 events/s).
#  2. poll  the same with N long-poll clients, each looping GET /api/events?since=SEQ&timeout=25.
#  3. floor the same fan-out with nothing but the kernel's work (benches/fanout_floor.c: a C
#           server writing one 190-byte message per event to N loopback sockets, a C epoll
#           client): the floor of the machine, and ours against it.
#  4. hls   LL-HLS latency with and without N WebSocket subscribers (fan-out types attached),
#           and with them on a second server (the same load on the machine, none on the
#           server measured: what is left is the player's and the client's CPU share):
#             hls.js `hls.latency` in headless Chromium (benches/latency.mjs) and, alongside,
#             the blocking-reload publish lag (benches/publish_lag.py --blocking: how late the
#             playlist lists a part), LAT_SECONDS each, cases interleaved, ROUNDS rounds.
#
#   benches/events.sh    env: PHASES (ws,poll,floor,hls), BIN (a built hlsorigin, e.g. another commit's), N (10000), WINDOW (30), LAT_SECONDS (30),
#                        ROUNDS (1), THREADS (client runtime threads, 1), SERVER_ARGS (more
#                        `live` flags, e.g. "--events-threads 0"), CLIENT_NICE (nice of the load
#                        client, 0: it stands for remote machines, and on one box it competes
#                        with the server it measures)
# Needs ffmpeg, chromium + node with tests/e2e/node_modules (phase hls only).
# CARGO_TARGET_DIR is honoured. Ports 19200-19209 on 127.0.0.1. Output in bench-out/events/.
set -euo pipefail
cd "$(dirname "$0")/.."
PHASES=${PHASES:-ws,poll,floor,hls}
N=${N:-10000}
WINDOW=${WINDOW:-30}
LAT_SECONDS=${LAT_SECONDS:-30}
ROUNDS=${ROUNDS:-1}
THREADS=${THREADS:-1}
SERVER_ARGS=${SERVER_ARGS:-}
CLIENT_NICE=${CLIENT_NICE:-0}
WORK=$PWD/bench-out/events
FANOUT=segment.published,part.published
ulimit -n "$(ulimit -Hn)"
[ "$(ulimit -n)" -gt $((N + 1000)) ] || { echo "ulimit -n $(ulimit -n) is too low for N=$N" >&2; exit 1; }

cargo build --release --quiet --example events_load
[ -n "${BIN:-}" ] || cargo build --release --quiet --bin hlsorigin
export RUST_LOG=${RUST_LOG:-warn}
BIN=${BIN:-${CARGO_TARGET_DIR:-target}/release/hlsorigin}
LOAD=${CARGO_TARGET_DIR:-target}/release/examples/events_load
mkdir -p "$WORK"
SRC_TS=$WORK/src-720p30-3M-60s.ts
if [ ! -f "$SRC_TS" ]; then
  echo "encoding $SRC_TS (60 s, benches/live.sh's encoder settings)…" >&2
  ffmpeg -nostdin -v error -y -f lavfi -i "testsrc2=size=1280x720:rate=30:duration=60" \
    -f lavfi -i "sine=frequency=1000:sample_rate=48000:duration=60" -c:v libx264 -preset veryfast \
    -tune zerolatency -g 30 -b:v 3M -pix_fmt yuv420p -c:a aac -b:a 128k -f mpegts "$SRC_TS"
fi

. benches/procs.sh

# start_stream [PORT [UDP_PORT [keep]]]: starts a fresh stream `ev` on PORT (19200; its input on
# UDP_PORT, 19201; server pid in SRV) and waits for 3 segments. Stops what runs first, unless keep.
start_stream() {
  local port=${1:-19200} udp=${2:-19201} keep=${3:-}
  [ -n "$keep" ] || stop_all
  rm -rf "$WORK/root-$port"
  mkdir -p "$WORK/root-$port"
  "$BIN" live --input "udp://127.0.0.1:$udp" --name ev --root "$WORK/root-$port" \
    --listen "127.0.0.1:$port" --ll-hls --part-duration 0.2 --segment-duration 2 $SERVER_ARGS >/dev/null &
  SRV=$!
  started "$SRV"
  ffmpeg -nostdin -v error -re -stream_loop -1 -i "$SRC_TS" -c copy -f mpegts \
    "udp://127.0.0.1:$udp?pkt_size=1316" &
  started "$!"
  local i
  for i in $(seq 300); do
    if [ "$(curl -sf "http://127.0.0.1:$port/ev/stream.m3u8" 2>/dev/null | grep -c '^#EXTINF')" -ge 3 ]; then
      return 0
    fi
    sleep 0.1
  done
  echo "no 3 segments after 30 s" >&2
  return 1
}

# load_run MODE TYPES SECONDS NAME: one events_load run on a fresh stream, output in NAME.txt.
load_run() {
  local mode=$1 types=$2 seconds=$3 name=$4
  start_stream
  echo "$name: $N $mode subscribers, types=$types, ${seconds}s (load $(load))" >&2
  timeout $((seconds + 240)) nice -n "$CLIENT_NICE" "$LOAD" --addr 127.0.0.1:19200 --mode "$mode" -n "$N" --pid "$SRV" \
    --types "$types" --seconds "$seconds" --threads "$THREADS" >"$WORK/$name.txt" \
    2>"$WORK/$name.err" || echo "  $name: load client failed, see $WORK/$name.err" >&2
  grep -v '^JSON' "$WORK/$name.txt" || true
}

for mode in ws poll; do
  [[ $PHASES == *$mode* ]] || continue
  echo "== $mode: $N subscribers on one LL-HLS stream (2 s segments, 0.2 s parts) =="
  load_run "$mode" stream.ended 5 "$mode-idle"
  load_run "$mode" "$FANOUT" "$WINDOW" "$mode-fanout"
done

if [[ $PHASES == *floor* ]]; then
  echo "== floor: the same fan-out, a C server and client doing only the kernel's work =="
  cc -O2 -pthread -o "$WORK/fanout_floor" benches/fanout_floor.c
  stop_all
  echo "floor: $N connections, $((WINDOW * 5)) events (load $(load))" >&2
  # The client process takes --client-nice itself; the server's threads take +10 like ours.
  "$WORK/fanout_floor" -n "$N" --events $((WINDOW * 5)) --threads "$(nproc)" \
    --client-nice "$CLIENT_NICE" --port 19209 | tee "$WORK/floor.txt" || echo "  floor run failed" >&2
  if [[ $PHASES == *ws* ]] && [ -s "$WORK/ws-fanout.txt" ]; then
    python3 - "$WORK/ws-fanout.txt" "$WORK/floor.txt" <<'EOF'
import re, sys
def last(path):
    m = re.search(r"last subscriber p50 ([\d.]+) ms p99 ([\d.]+) ms", open(path).read())
    return (float(m.group(1)), float(m.group(2))) if m else None
ours, floor = last(sys.argv[1]), last(sys.argv[2])
if ours and floor:
    print(f"ws fan-out / floor: last subscriber p50 {ours[0] / floor[0]:.2f}x, p99 {ours[1] / floor[1]:.2f}x")
EOF
  fi
fi

# hls_case NAME ROUND: hls.js latency and blocking-reload lag on port 19200, without subscribers
# (none), with them on the same server (ws), or with them on a second server on 19210 fed the
# same way (other: the same load on the machine, none on the server that is measured).
hls_case() {
  local name=$1 round=$2 client= lag i sub_port=19200
  start_stream
  if [ "$name" = other ]; then
    sub_port=19210
    start_stream 19210 19211 keep
  fi
  if [ "$name" != none ]; then
    nice -n "$CLIENT_NICE" "$LOAD" --addr "127.0.0.1:$sub_port" --mode ws -n "$N" --pid "$SRV" --types "$FANOUT" \
      --seconds $((LAT_SECONDS + 30)) --threads "$THREADS" >"$WORK/hls-$name-$round.txt" 2>"$WORK/hls-$name-$round.err" &
    client=$!
    started "$client"
    for i in $(seq 1200); do grep -q '^window' "$WORK/hls-$name-$round.err" && break; sleep 0.1; done
    grep '^window' "$WORK/hls-$name-$round.err" >&2 || echo "  subscribers not all connected after 120 s" >&2
  fi
  echo "hls $name round $round: playing for ${LAT_SECONDS}s (load $(load))" >&2
  python3 benches/publish_lag.py http://127.0.0.1:19200/ev/stream.m3u8 --seconds "$LAT_SECONDS" \
    --json --blocking >"$WORK/hls-$name-$round.lag" &
  lag=$!
  started "$lag"
  node benches/latency.mjs --url http://127.0.0.1:19200/ev/master.m3u8 --low-latency 1 \
    --seconds "$LAT_SECONDS" --samples >"$WORK/hls-$name-$round.json" ||
    echo "  $name: playback not ok, see $WORK/hls-$name-$round.json" >&2
  wait "$lag" || true
  # The subscribers' window ends shortly after playback: their fan-out figures, then stop.
  [ -z "$client" ] || timeout 60 tail --pid="$client" -f /dev/null || true
  stop_all
}

if [[ $PHASES == *hls* ]]; then
  [ -d tests/e2e/node_modules/hls.js ] || { echo "run npm ci in tests/e2e first" >&2; exit 1; }
  for round in $(seq "$ROUNDS"); do
    for name in none ws other; do hls_case $name "$round"; done
  done
  echo "== hls: LL-HLS latency without / with $N WebSocket subscribers ($FANOUT) =="
  python3 - "$WORK" "$ROUNDS" <<'EOF'
import json, sys
d, rounds = sys.argv[1], int(sys.argv[2])
def q(xs, p):
    s = sorted(xs); i = (len(s) - 1) * p; lo = int(i); hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (i - lo) if s else float("nan")
print(f"{'case':<26}{'hls.latency med':>16}{'p10':>7}{'p90':>7}{'pub lag med':>12}{'p90':>7}{'stalls':>7}{'ok':>4}")
for name, label in (("none", "no subscribers"), ("ws", "10,000 WebSocket subs"), ("other", "10,000 on another server")):
    runs = [json.load(open(f"{d}/hls-{name}-{r}.json")) for r in range(1, rounds + 1)]
    lags = [json.loads(open(f"{d}/hls-{name}-{r}.lag").read() or "{}") for r in range(1, rounds + 1)]
    lat = [s["latency"] for r in runs for s in (r.get("samples") or []) if s["latency"] is not None]
    lm = sorted(x["median"] for x in lags if x.get("median") is not None)
    l9 = sorted(x["p90"] for x in lags if x.get("p90") is not None)
    print(f"{label:<26}{q(lat, .5):>16.2f}{q(lat, .1):>7.2f}{q(lat, .9):>7.2f}"
          f"{(lm[len(lm)//2] if lm else float('nan')):>12.3f}{(l9[len(l9)//2] if l9 else float('nan')):>7.3f}"
          f"{sum(r.get('stalls', 0) for r in runs):>7}{'yes' if all(r['ok'] for r in runs) else 'NO':>4}")
print("hls.latency (s) sampled every 0.5 s; pub lag = now - (PDT + duration) of the playlist's edge "
      "when it moved, followed with _HLS_msn/_HLS_part blocking reloads (s)")
EOF
  for r in $(seq "$ROUNDS"); do grep -v '^JSON' "$WORK/hls-ws-$r.txt" "$WORK/hls-other-$r.txt" || true; done
fi
echo "load average at end: $(load)" >&2

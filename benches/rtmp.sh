#!/usr/bin/env bash
# RTMP ingest benchmark (issue 10), side by side with nginx-rtmp-module (Debian libnginx-mod-rtmp,
# `hls on`), the same publisher for both, everything on 127.0.0.1:
#  1. latency as hls.js reports it (benches/latency.mjs: `hls.latency` sampled every 0.5 s over
#     LAT_SECONDS of playback in headless Chromium) while ffmpeg publishes live over RTMP
#     (720p30 x264 veryfast/zerolatency, 1 s GOP, 3 Mb/s + AAC, the encoder of benches/live.sh):
#       ours-ll       hlsorigin live --rtmp-listen --ll-hls --part-duration 0.2 (hls.js lowLatencyMode)
#       ours-classic  hlsorigin live --rtmp-listen (2 s fMP4 segments)
#       nginx         nginx-rtmp `hls on`, hls_fragment 2s, served by the same nginx over HTTP
#     one case at a time (a fresh server and encoder each); median, p10, p90, ratio to nginx.
#  2. CPU per channel with N concurrent RTMP publishers (benches/rtmp_cpu.py): N × ffmpeg
#     -re -stream_loop -1 -c copy of one pre-encoded FLV (the encoder's cost is not measured),
#     CPU of the server process(es) only, for N in CHANNELS; ours (fMP4), ours --format ts, nginx.
#
#   benches/rtmp.sh   env: PHASES (latency,cpu), LAT_SECONDS (30), LAT_CASES ("ours-ll ours-classic
#                     nginx"), LAT_ROUNDS (3: a player's latency depends on where in the GOP it
#                     joined, so each case runs that many times, interleaved), CHANNELS (1,10,50), CPU_MODES (ours,ours-ts,nginx), CPU_WINDOW (30),
#                     CPU_WARMUP (10), BUILD (release; `debug` uses target/debug without building:
#                     a smoke run, not figures)
# Needs ffmpeg, nginx + libnginx-mod-rtmp (Debian), chromium, node with tests/e2e/node_modules.
# CARGO_TARGET_DIR is honoured. Ports 19300-19399 on 127.0.0.1. Output in bench-out/rtmp/.
set -euo pipefail
cd "$(dirname "$0")/.."
PHASES=${PHASES:-latency,cpu}
LAT_SECONDS=${LAT_SECONDS:-30}
LAT_CASES=${LAT_CASES:-ours-ll ours-classic nginx}
LAT_ROUNDS=${LAT_ROUNDS:-3}
CHANNELS=${CHANNELS:-1,10,50}
CPU_MODES=${CPU_MODES:-ours,ours-ts,nginx}
CPU_WINDOW=${CPU_WINDOW:-30}
CPU_WARMUP=${CPU_WARMUP:-10}
BUILD=${BUILD:-release}
WORK=$PWD/bench-out/rtmp
MOD=/usr/lib/nginx/modules/ngx_rtmp_module.so
RTMP=127.0.0.1:19335
[ -x /usr/sbin/nginx ] || { echo "nginx missing: apt-get install -y nginx" >&2; exit 1; }
[ -f $MOD ] || { echo "nginx-rtmp missing: apt-get install -y libnginx-mod-rtmp" >&2; exit 1; }
[ -d tests/e2e/node_modules/hls.js ] || { echo "run npm ci in tests/e2e first" >&2; exit 1; }
ulimit -n "$(ulimit -Hn)"

# The encoder of benches/live.sh: 720p30 testsrc2 + sine, x264 veryfast/zerolatency, 1 s GOP, 3 Mb/s.
SRC=(-f lavfi -i "testsrc2=size=1280x720:rate=30" -f lavfi -i "sine=frequency=1000:sample_rate=48000")
ENC=(-c:v libx264 -preset veryfast -tune zerolatency -g 30 -b:v 3M -pix_fmt yuv420p -c:a aac -b:a 128k)

if [ "$BUILD" = release ]; then cargo build --release --quiet; fi
export RUST_LOG=${RUST_LOG:-warn}
BIN=${CARGO_TARGET_DIR:-target}/$BUILD/hlsorigin
mkdir -p "$WORK"

. benches/procs.sh
wait_segments() { # URL N: a media playlist with at least N segments, within 60 s
  local i
  for i in $(seq 600); do
    if [ "$(curl -sf "$1" 2>/dev/null | grep -c '^#EXTINF')" -ge "$2" ]; then return 0; fi
    sleep 0.1
  done
  echo "no $2 segments at $1 after 60 s" >&2
  return 1
}

# nginx-rtmp config DIR HLS_PATH: RTMP on $RTMP (app live, hls on, 2 s fragments, 12 s playlist),
# HTTP on 127.0.0.1:19302 serving HLS_PATH under /hls/. One worker (nginx-rtmp's live mode needs
# the publisher and the HLS writer in one worker); root, so the worker may write under bench-out.
nginx_conf() {
  mkdir -p "$1/tmp" "$2"
  cat >"$1/nginx.conf" <<EOF
load_module $MOD;
user root;
worker_processes 1;
pid $1/nginx.pid;
error_log $1/error.log warn;
daemon off;
events { worker_connections 4096; }
rtmp {
    server {
        listen $RTMP;
        chunk_size 4096;
        application live {
            live on;
            hls on;
            hls_path $2;
            hls_fragment 2s;
            hls_playlist_length 12s;
        }
    }
}
http {
    access_log off;
    sendfile on;
    tcp_nodelay on;
    client_body_temp_path $1/tmp;
    types { application/vnd.apple.mpegurl m3u8; video/mp2t ts; }
    server {
        listen 127.0.0.1:19302;
        location /hls/ { alias $2/; add_header Cache-Control no-cache; add_header Access-Control-Allow-Origin *; }
    }
}
EOF
}

echo "machine: $(nproc) CPUs, load average $(load) at start; binary $BIN" >&2

########## 1. latency
if [[ $PHASES == *latency* ]]; then
  rm -rf "$WORK/lat"
  mkdir -p "$WORK/lat/ours"
  nginx_conf "$WORK/lat/nginx" "$WORK/lat/nginx-hls"
  lat_case() { # name round
    local name=$1 round=$2 srv url media ll=0 enc
    case $name in
      ours-ll|ours-classic)
        rm -rf "$WORK/lat/ours/lat"
        local extra=()
        [ $name = ours-ll ] && { extra=(--ll-hls --part-duration 0.2); ll=1; }
        "$BIN" live --rtmp-listen $RTMP --root "$WORK/lat/ours" --listen 127.0.0.1:19300 \
          --segment-duration 2 "${extra[@]}" >/dev/null &
        srv=$!
        url=http://127.0.0.1:19300/lat/master.m3u8 media=http://127.0.0.1:19300/lat/stream.m3u8 ;;
      nginx)
        rm -rf "$WORK/lat/nginx-hls"/*
        /usr/sbin/nginx -p "$WORK/lat/nginx" -c "$WORK/lat/nginx/nginx.conf" -e "$WORK/lat/nginx/error.log" &
        srv=$!
        url=http://127.0.0.1:19302/hls/lat.m3u8 media=$url ;;
    esac
    started $srv
    sleep 1
    ffmpeg -nostdin -v error -re "${SRC[@]}" "${ENC[@]}" -f flv "rtmp://$RTMP/live/lat" &
    enc=$!; started $enc
    wait_segments "$media" 2
    echo "latency $name: playing $url for ${LAT_SECONDS}s (load $(load))" >&2
    node benches/latency.mjs --url "$url" --low-latency $ll --seconds "$LAT_SECONDS" --samples \
      >"$WORK/lat/$name-$round.json" || echo "  $name: playback not ok, see $WORK/lat/$name-$round.json" >&2
    finish "$enc"; finish "$srv"
  }
  for round in $(seq "$LAT_ROUNDS"); do
    for name in $LAT_CASES; do lat_case $name $round; done
  done
  echo "== 1. latency from RTMP input: hls.latency over ${LAT_SECONDS}s of playback × $LAT_ROUNDS rounds, samples every 0.5 s =="
  python3 - "$WORK/lat" "$LAT_ROUNDS" $LAT_CASES <<'EOF'
import json, sys
d, rounds, cases = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
def q(xs, p):
    s = sorted(xs); i = (len(s) - 1) * p; lo = int(i); hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (i - lo)
runs = {n: [json.load(open(f"{d}/{n}-{r}.json")) for r in range(1, rounds + 1)] for n in cases}
lat = {n: [s["latency"] for r in rs for s in (r.get("samples") or []) if s["latency"] is not None]
       for n, rs in runs.items()}
base = q(lat["nginx"], 0.5) if lat.get("nginx") else None
label = {"ours-ll": "ours LL-HLS (0.2 s parts)", "ours-classic": "ours classic (2 s)",
         "nginx": "nginx-rtmp hls (2 s)"}
print(f"{'case':<28}{'median':>8}{'p10':>7}{'p90':>7}{'ratio':>7}{'lost s':>8}{'start s':>8}{'ok':>4}  per-run medians")
for n, rs in runs.items():
    if not lat[n]:
        print(f"{label[n]:<28} no samples: {[r.get('errors') for r in rs]}")
        continue
    med = q(lat[n], 0.5)
    lost = max(r.get("wallSeconds", 0) - r.get("advancedSeconds", 0) for r in rs)
    start = max(r.get("startupMs", 0) for r in rs) / 1000
    per = " ".join(f"{r['latency']['median']:.2f}" for r in rs if r.get("latency"))
    print(f"{label[n]:<28}{med:>8.2f}{q(lat[n], 0.1):>7.2f}{q(lat[n], 0.9):>7.2f}"
          f"{(med / base if base else float('nan')):>6.2f}x{lost:>8.2f}{start:>8.1f}"
          f"{'yes' if all(r.get('ok') for r in rs) else 'NO':>4}  {per}")
print("median/p10/p90 of hls.latency (s); ratio = median / nginx-rtmp's; lost s = wall time - playback "
      "advanced, worst run (a starved player falls behind); start s = time to first frame, worst run")
EOF
fi

########## 2. CPU per channel
if [[ $PHASES == *cpu* ]]; then
  SRC_FLV=$WORK/src-720p30-3M-60s.flv
  if [ ! -f "$SRC_FLV" ]; then
    echo "encoding $SRC_FLV (60 s, the encoder settings above)…" >&2
    ffmpeg -nostdin -v error -y -f lavfi -i "testsrc2=size=1280x720:rate=30:duration=60" \
      -f lavfi -i "sine=frequency=1000:sample_rate=48000:duration=60" "${ENC[@]}" -f flv "$SRC_FLV"
  fi
  mkdir -p "$WORK/cpu"
  nginx_conf "$WORK/cpu/nginx" "$WORK/cpu/nginx-hls"
  echo "== 2. CPU per channel, N RTMP publishers: ${CPU_WINDOW}s window after ${CPU_WARMUP}s warm-up; load at start $(load) =="
  python3 benches/rtmp_cpu.py --bin "$BIN" --input "$SRC_FLV" --nginx-conf "$WORK/cpu/nginx/nginx.conf" \
    --work "$WORK/cpu" --channels "$CHANNELS" --modes "$CPU_MODES" --window "$CPU_WINDOW" \
    --warmup "$CPU_WARMUP" --json | tee "$WORK/cpu.txt" | grep -v '^JSON' \
    || echo "some channel broke: see $WORK/cpu.txt and $WORK/cpu/*/stderr.log" >&2
fi
echo "load average at end: $(load)" >&2

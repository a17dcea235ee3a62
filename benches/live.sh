#!/usr/bin/env bash
# Live benchmark (issue 5), one run, everything on 127.0.0.1, every phase of fixed length:
#  1. latency as hls.js reports it (`hls.latency`, sampled every 0.5 s for LAT_SECONDS of
#     playback in headless Chromium, benches/latency.mjs) for
#       ll      hlsorigin live --ll-hls --part-duration 0.2 (hls.js lowLatencyMode: true)
#       ll-rate the same with hls.js maxLiveSyncPlaybackRate: 1.5 (catch up to its target latency)
#       classic hlsorigin live (2 s fMP4 segments, no LL)
#       ffmpeg  ffmpeg's hls muxer (2 s TS segments, list size 6) into a directory nginx serves
#     with the same x264/AAC encoder settings (the encoder runs live, -re, one case at a time);
#     median, p10, p90 and the ratio to ffmpeg + nginx; ROUNDS rounds, cases interleaved.
#  2. CPU per live channel: N packagers fed one pre-encoded 3 Mb/s 720p30 TS over UDP
#     (benches/live_cpu.py: one ffmpeg -c copy sender + benches/udp_fanout.c relay), CPU seconds
#     of the packagers only over CPU_WINDOW seconds, for N in CHANNELS; ffmpeg's hls muxer per
#     channel as the peer.
#  3. RSS of `hlsorigin live --ll-hls --listen` with PARKED parked blocking playlist reloads
#     (benches/park_client.c), all checked to return 200 with the part they waited for; also
#     `hlsorigin serve` watching ffmpeg's playlist with as many _HLS_msn requests.
#
#   benches/live.sh      env: PHASES (latency,cpu,parked), BIN (a built hlsorigin), ROUNDS (1), LAT_SECONDS (30),
#                        LAT_CASES ("ll ll-rate classic ffmpeg"),
#                        CHANNELS (1,10,50,100), CPU_MODES (ours-ts,ours-fmp4,ours-ll,ffmpeg),
#                        CPU_WINDOW (30), PARKED (10000), PARKED_SERVE (1: also against
#                        `hlsorigin serve` watching ffmpeg's hls output, _HLS_msn only)
# Needs ffmpeg, nginx (Debian), chromium, node with tests/e2e/node_modules (npm ci there), cc.
# CARGO_TARGET_DIR is honoured. Ports 19000-19999 on 127.0.0.1. Output in bench-out/live/.
set -euo pipefail
cd "$(dirname "$0")/.."
PHASES=${PHASES:-latency,cpu,parked}
ROUNDS=${ROUNDS:-1}
LAT_SECONDS=${LAT_SECONDS:-30}
LAT_CASES=${LAT_CASES:-ll ll-rate classic ffmpeg}
CHANNELS=${CHANNELS:-1,10,50,100}
CPU_MODES=${CPU_MODES:-ours-ts,ours-fmp4,ours-ll,ffmpeg}
CPU_WINDOW=${CPU_WINDOW:-30}
PARKED=${PARKED:-10000}
PARKED_SERVE=${PARKED_SERVE:-1}
WORK=$PWD/bench-out/live
NGX=$WORK/nginx
[ -x /usr/sbin/nginx ] || { echo "nginx missing: apt-get install -y nginx" >&2; exit 1; }
[ -d tests/e2e/node_modules/hls.js ] || { echo "run npm ci in tests/e2e first" >&2; exit 1; }
ulimit -n "$(ulimit -Hn)"

# The encoder, everywhere: 720p30 testsrc2 + 1 kHz sine, x264 veryfast/zerolatency, 1 s GOP, 3 Mb/s.
SRC=(-f lavfi -i "testsrc2=size=1280x720:rate=30" -f lavfi -i "sine=frequency=1000:sample_rate=48000")
ENC=(-c:v libx264 -preset veryfast -tune zerolatency -g 30 -b:v 3M -pix_fmt yuv420p -c:a aac -b:a 128k)

[ -n "${BIN:-}" ] || cargo build --release --quiet
export RUST_LOG=${RUST_LOG:-warn}  # no per-request log lines from the servers
BIN=${BIN:-${CARGO_TARGET_DIR:-target}/release/hlsorigin}
mkdir -p "$WORK"

. benches/procs.sh

# Waits until URL serves a media playlist with at least $2 segments.
wait_segments() {
  local url=$1 want=$2 i
  for i in $(seq 300); do
    if [ "$(curl -sf "$url" 2>/dev/null | grep -c '^#EXTINF')" -ge "$want" ]; then return 0; fi
    sleep 0.1
  done
  echo "no $want segments at $url after 30 s" >&2
  return 1
}

echo "machine: $(nproc) CPUs, load average $(load) at start" >&2

########## 1. latency
if [[ $PHASES == *latency* ]]; then
  rm -rf "$WORK/lat" "$NGX"
  mkdir -p "$WORK/lat/ours" "$WORK/lat/ffhls/live" "$NGX"
  cat >"$NGX/nginx.conf" <<EOF
worker_processes 1;
pid $NGX/nginx.pid;
error_log $NGX/error.log warn;
daemon off;
events { worker_connections 1024; }
http {
    access_log off;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    client_body_temp_path $NGX/tmp;
    types {
        application/vnd.apple.mpegurl m3u8;
        video/mp2t ts;
    }
    server {
        listen 127.0.0.1:19102;
        root $WORK/lat/ffhls;
        # A live playlist must not be reused from the browser cache (nginx sends Last-Modified,
        # which allows heuristic caching otherwise).
        location ~ \.m3u8\$ { add_header Cache-Control "no-cache"; }
    }
}
EOF
  /usr/sbin/nginx -p "$NGX" -c "$NGX/nginx.conf" -e "$NGX/error.log" &
  NGINX_PID=$!
  started $NGINX_PID

  lat_case() { # name round
    local name=$1 round=$2 url ll media enc srv= lag cfg='{}'
    case $name in
      ll|ll-rate)
        # ll-rate: the same stream, hls.js allowed to play up to 1.5x to reach its target latency.
        [ $name = ll-rate ] && cfg='{"maxLiveSyncPlaybackRate":1.5}'
        rm -rf "$WORK/lat/ours/$name"  # a fresh stream every time (no recovery from disk)
        "$BIN" live --input udp://127.0.0.1:19000 --name $name --root "$WORK/lat/ours" \
          --listen 127.0.0.1:19100 --ll-hls --part-duration 0.2 --segment-duration 2 >/dev/null &
        srv=$!; started $srv
        ffmpeg -nostdin -v error -re "${SRC[@]}" "${ENC[@]}" -f mpegts "udp://127.0.0.1:19000?pkt_size=1316" &
        enc=$!; started $enc
        url=http://127.0.0.1:19100/$name/master.m3u8 ll=1 media=http://127.0.0.1:19100/$name/stream.m3u8
        wait_segments $media 2 ;;
      classic)
        rm -rf "$WORK/lat/ours/classic"
        "$BIN" live --input udp://127.0.0.1:19001 --name classic --root "$WORK/lat/ours" \
          --listen 127.0.0.1:19101 --segment-duration 2 >/dev/null &
        srv=$!; started $srv
        ffmpeg -nostdin -v error -re "${SRC[@]}" "${ENC[@]}" -f mpegts "udp://127.0.0.1:19001?pkt_size=1316" &
        enc=$!; started $enc
        url=http://127.0.0.1:19101/classic/master.m3u8 ll=0 media=http://127.0.0.1:19101/classic/stream.m3u8
        wait_segments $media 2 ;;
      ffmpeg)
        rm -f "$WORK/lat/ffhls/live/"*
        ffmpeg -nostdin -v error -re "${SRC[@]}" "${ENC[@]}" -f hls -hls_time 2 -hls_list_size 6 \
          -hls_flags delete_segments+program_date_time "$WORK/lat/ffhls/live/stream.m3u8" &
        enc=$!; started $enc
        url=http://127.0.0.1:19102/live/stream.m3u8 ll=0 media=http://127.0.0.1:19102/live/stream.m3u8
        wait_segments $media 2 ;;
    esac
    echo "latency $name round $round: playing $url for ${LAT_SECONDS}s (load $(load))" >&2
    # Meanwhile: how late the playlist lists media (blocking reloads for LL, else 20 ms polls).
    python3 benches/publish_lag.py "$media" --seconds "$LAT_SECONDS" --json \
      $([ $ll = 1 ] && echo --blocking) >"$WORK/lat/$name-$round.lag" &
    lag=$!; started $lag
    node benches/latency.mjs --url "$url" --low-latency $ll --config "$cfg" --seconds "$LAT_SECONDS" --samples \
      >"$WORK/lat/$name-$round.json" || echo "  $name: playback not ok, see $WORK/lat/$name-$round.json" >&2
    wait "$lag" || true
    finish "$lag" "$enc" $srv
  }
  for round in $(seq "$ROUNDS"); do
    for name in $LAT_CASES; do lat_case $name "$round"; done
  done
  finish "$NGINX_PID"

  echo "== 1. latency: hls.latency over ${LAT_SECONDS}s of playback x $ROUNDS round(s), samples every 0.5 s =="
  python3 - "$WORK/lat" "$ROUNDS" $LAT_CASES <<'EOF'
import json, sys
d, rounds, cases = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
def q(xs, p):
    s = sorted(xs); i = (len(s) - 1) * p; lo = int(i); hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (i - lo)
rows = {}
for name in cases:
    runs = [json.load(open(f"{d}/{name}-{r}.json")) for r in range(1, rounds + 1)]
    lat = [s["latency"] for r in runs for s in (r.get("samples") or []) if s["latency"] is not None]
    pdt = [s["pdt"] for r in runs for s in (r.get("samples") or []) if s["pdt"] is not None]
    less = [s["latency"] - s["lost"] for r in runs for s in (r.get("samples") or [])
            if s["latency"] is not None and s.get("lost") is not None]
    lags = [json.loads(open(f"{d}/{name}-{r}.lag").read() or "{}").get("median") for r in range(1, rounds + 1)]
    lags = [x for x in lags if x is not None]
    rows[name] = dict(runs=runs, lat=lat, pdt=pdt, less=less, lag=sorted(lags)[len(lags) // 2] if lags else None)
base = q(rows["ffmpeg"]["lat"], 0.5) if rows.get("ffmpeg", {}).get("lat") else None
label = {"ll": "ours LL-HLS (0.2 s parts)", "ll-rate": "  same, hls.js rate <= 1.5",
         "classic": "ours classic (2 s)", "ffmpeg": "ffmpeg hls + nginx (2 s)"}
print(f"{'case':<28}{'median':>8}{'p10':>7}{'p90':>7}{'ratio':>7}{'PDT med':>9}{'first':>7}{'lost s':>7}{'-lost':>7}"
      f"{'target':>8}{'PHB':>6}{'pub lag':>8}{'start s':>8}{'stalls':>7}{'ok':>4}")
for name, r in rows.items():
    if not r["lat"]:
        print(f"{label[name]:<28} no samples: {[x.get('errors') for x in r['runs']]}")
        continue
    med = q(r["lat"], 0.5)
    last = r["runs"][-1]
    pdt = f"{q(r['pdt'], 0.5):.2f}" if r["pdt"] else "-"
    lag = f"{r['lag']:.2f}" if r["lag"] is not None else "-"
    # Latency at the first sample, and the playback time lost against the wall clock (median
    # over the rounds): at playback rate 1, every second lost adds a second of latency.
    firsts = sorted(x["samples"][0]["latency"] for x in r["runs"] if x.get("samples"))
    lost = sorted(x["wallSeconds"] - x["advancedSeconds"] for x in r["runs"] if "wallSeconds" in x)
    first = f"{firsts[len(firsts) // 2]:.2f}" if firsts else "-"
    lost = f"{lost[len(lost) // 2]:.2f}" if lost else "-"
    less = f"{q(r['less'], 0.5):.2f}" if r["less"] else "-"
    print(f"{label[name]:<28}{med:>8.2f}{q(r['lat'], 0.1):>7.2f}{q(r['lat'], 0.9):>7.2f}"
          f"{(med / base if base else float('nan')):>6.2f}x{pdt:>9}{first:>7}{lost:>7}{less:>7}{(last.get('targetLatency') or 0):>8.2f}"
          f"{(last.get('partHoldBack') or 0):>6.2f}"
          f"{lag:>8}"
          f"{sum(x.get('startupMs', 0) for x in r['runs']) / len(r['runs']) / 1000:>8.1f}"
          f"{sum(x.get('stalls', 0) for x in r['runs']):>7}{'yes' if all(x['ok'] for x in r['runs']) else 'NO':>4}")
print("median/p10/p90 of hls.latency (s); ratio = median / ffmpeg's; PDT med = median of "
      "Date.now() - hls.playingDate (wall clock since ingest); first = latency at the first sample; "
      "lost s = wall time - playback advanced (medians over rounds); -lost = median of hls.latency "
      "minus the playback time lost so far (a player keeping real time); target = hls.targetLatency (last round); "
      "PHB = PART-HOLD-BACK; pub lag = median of now - (PDT + duration) of the playlist's "
      "edge when it moved (benches/publish_lag.py, run alongside)")
EOF
fi

########## 2. CPU per channel
if [[ $PHASES == *cpu* ]]; then
  SRC_TS=$WORK/src-720p30-3M-60s.ts
  if [ ! -f "$SRC_TS" ]; then
    echo "encoding $SRC_TS (60 s, the encoder settings above)…" >&2
    ffmpeg -nostdin -v error -y -f lavfi -i "testsrc2=size=1280x720:rate=30:duration=60" \
      -f lavfi -i "sine=frequency=1000:sample_rate=48000:duration=60" "${ENC[@]}" -f mpegts "$SRC_TS"
  fi
  cc -O2 -Wall -o "$WORK/udp_fanout" benches/udp_fanout.c
  echo "== 2. CPU per channel: ${CPU_WINDOW}s window after 10 s warm-up; source $(du -h "$SRC_TS" | cut -f1) / 60 s; load at start $(load) =="
  python3 benches/live_cpu.py --bin "$BIN" --input "$SRC_TS" --relay "$WORK/udp_fanout" \
    --work "$WORK/cpu" --channels "$CHANNELS" --modes "$CPU_MODES" --window "$CPU_WINDOW" --json \
    | tee "$WORK/cpu.txt" | grep -v '^JSON' || echo "some channel broke: see $WORK/cpu.txt and $WORK/cpu/*/stderr.log" >&2
fi

########## 3. parked blocking reloads
parked_report() {
  python3 - "$1" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
n = r["n"]
b, i, p = r["rss_baseline_kib"], r["rss_idle_conns_kib"], r["rss_parked_kib"] or 0
print(f"RSS baseline {b/1024:.1f} MiB; {r['open']} idle keep-alive connections {i/1024:.1f} MiB "
      f"({(i-b)/n:.1f} KiB each); all parked {p/1024:.1f} MiB ({(p-b)/n:.1f} KiB per parked request "
      f"with its connection, {(p-i)/n:.1f} KiB over an idle connection); peak {r['hwm_kib']/1024:.1f} MiB")
print(f"parked {r['parked_for_s']} s for msn/part {r['target']} (hint {r['hint']}, {r['rss_samples']} RSS samples); "
      f"statuses {r['statuses']}; 200 listing the target: {r['ok_with_part']}/{n}; "
      f"all answered within {r['answer_spread_ms']} ms of the first")
print(f"server CPU while parked {r['server_cpu_parking_s']} s, answering {r['server_cpu_answering_s']} s; "
      f"connect {r['connect_s']} s, {r['connect_failures']} failures, {r.get('keepalive_refreshes', 0)} keep-alive refreshes")
EOF
}
if [[ $PHASES == *parked* ]]; then
  SRC_TS=$WORK/src-720p30-3M-60s.ts
  [ -f "$SRC_TS" ] || { echo "run PHASES=cpu once first (it encodes $SRC_TS)" >&2; exit 1; }
  rm -rf "$WORK/park"
  mkdir -p "$WORK/park"
  cc -O2 -Wall -o "$WORK/park_client" benches/park_client.c
  RUST_LOG=warn "$BIN" live --input udp://127.0.0.1:19003 --name park --root "$WORK/park" \
    --listen 127.0.0.1:19103 --ll-hls --part-duration 0.2 --segment-duration 2 >/dev/null &
  SRV=$!
  started $SRV
  ffmpeg -nostdin -v error -re -stream_loop -1 -i "$SRC_TS" -c copy -f mpegts "udp://127.0.0.1:19003?pkt_size=1316" &
  started $!
  wait_segments http://127.0.0.1:19103/park/stream.m3u8 3
  sleep 2
  echo "== 3. $PARKED parked blocking reloads on hlsorigin live --ll-hls --listen (load $(load)) =="
  "$WORK/park_client" --port 19103 --path /park/stream.m3u8 --pid "$SRV" -n "$PARKED" \
    >"$WORK/parked.json" || echo "not every parked request got its part: see $WORK/parked.json" >&2
  parked_report "$WORK/parked.json"
  finish "${PIDS[@]}"
  if [ "$PARKED_SERVE" = 1 ]; then
    # The same against `hlsorigin serve` watching the playlist ffmpeg's hls muxer writes.
    rm -rf "$WORK/park-ff"
    mkdir -p "$WORK/park-ff/live"
    ffmpeg -nostdin -v error -re -stream_loop -1 -i "$SRC_TS" -c copy -f hls -hls_time 2 \
      -hls_list_size 6 -hls_flags delete_segments "$WORK/park-ff/live/stream.m3u8" &
    started $!
    "$BIN" serve "$WORK/park-ff" --listen 127.0.0.1:19104 >/dev/null &
    SRV=$!
    started $SRV
    wait_segments http://127.0.0.1:19104/live/stream.m3u8 3
    echo "== 3b. $PARKED parked blocking reloads (_HLS_msn only) on hlsorigin serve watching ffmpeg's playlist (load $(load)) =="
    "$WORK/park_client" --port 19104 --path /live/stream.m3u8 --pid "$SRV" -n "$PARKED" \
      --segments >"$WORK/parked-serve.json" || echo "not every parked request got its segment: see $WORK/parked-serve.json" >&2
    parked_report "$WORK/parked-serve.json"
  fi
fi
echo "load average at end: $(load)" >&2

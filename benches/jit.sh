#!/usr/bin/env bash
# Just-in-time packaging (issue 13), side by side in one run: the same 10 min 1080p MP4 served
#   static  packaged once by `hlsorigin package` (fMP4, 6 s) and served as files
#   jit     served just in time from the MP4 (`/FILE.mp4/master.m3u8`)
# by one `hlsorigin serve` with the hot-object cache off (both read from disk every time).
#  1. first requests on a fresh server (page cache warm, index not built): time of the master,
#     the media playlist and the first segment (curl), then the same again (index cached);
#     TS as well as fMP4.
#  1b. the same with the page cache dropped (root only: `echo 3 > /proc/sys/vm/drop_caches` after
#     the server started, before its first request): the disk-bound first requests.
#  2. segment throughput: wrk -t2 at 16 and 64 connections on one mid-stream segment, static vs
#     JIT (benches/wrk_compare.py: req/s, GB/s, p99, server CPU per GB), ROUNDS rounds.
#  3. RSS with NFILES files indexed: NFILES hard links of a short MP4 (each path is its own
#     stream), each asked for its media playlist; server VmRSS before and after.
#  4. encryption (`serve --jit-encrypt`): first requests on fresh servers, clear JIT vs
#     `cbcs,sample-aes` vs `aes-128` JIT vs the same file packaged `--encrypt cbcs` beforehand
#     (static), ENC_ROUNDS fresh servers each; then segment throughput, JIT AES-128 vs clear
#     (wrk -t2, 16 connections).
# Targets (issue 13): first playlist and first segment < 20 ms each warm; JIT segment
# throughput ≥ 0.5× static.
#   benches/jit.sh   env: DURATION (s per wrk run, 10), ROUNDS (3), NFILES (1000), PORT (18190),
#                    BIN (a built hlsorigin instead of building release),
#                    PHASES (first,cold,throughput,many,enc), COLD_ROUNDS (3), ENC_ROUNDS (3)
# CARGO_TARGET_DIR is honoured. All on 127.0.0.1. Output in bench-out/jit/.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-10}
ROUNDS=${ROUNDS:-3}
NFILES=${NFILES:-1000}
PHASES=${PHASES:-first,cold,throughput,many,enc}
COLD_ROUNDS=${COLD_ROUNDS:-3}
ENC_ROUNDS=${ENC_ROUNDS:-3}
ENC_SECRET=bench-jit-secret-0123456789
phase() { [[ ",$PHASES," == *",$1,"* ]]; }
PORT=${PORT:-18190}
WORK=$PWD/bench-out/jit
ROOT=$WORK/root
command -v wrk >/dev/null || { echo "wrk missing: apt-get install -y wrk" >&2; exit 1; }
ulimit -n "$(ulimit -Hn)"

. benches/inputs.sh
make_input_10min
release_bin

rm -rf "$WORK"
mkdir -p "$ROOT/jit" "$ROOT/many"
"$BIN" package "$IN" -o "$ROOT/static" --format fmp4 --segment-duration 6 --quiet --run-id bench
if phase enc; then
  "$BIN" package "$IN" -o "$ROOT/static-cbcs" --format fmp4 --segment-duration 6 --quiet \
    --run-id bench --encrypt cbcs --key 000102030405060708090a0b0c0d0e0f
fi
ln "$IN" "$ROOT/jit/title.mp4" 2>/dev/null || cp "$IN" "$ROOT/jit/title.mp4"
# A short file for the many-files phase: the first 60 s of the input, remuxed.
ffmpeg -nostdin -v error -y -i "$IN" -t 60 -c copy -movflags +faststart "$WORK/short.mp4"
for i in $(seq "$NFILES"); do ln "$WORK/short.mp4" "$ROOT/many/f$i.mp4"; done

SRV=
cleanup() { [ -z "$SRV" ] || { kill "$SRV" 2>/dev/null || true; wait "$SRV" 2>/dev/null || true; }; }
trap cleanup EXIT
start() { # extra `serve` options
  cleanup
  RUST_LOG=warn "$BIN" serve "$ROOT" --listen "127.0.0.1:$PORT" --hot-cache-mib 0 "$@" >/dev/null 2>>"$WORK/serve.log" &
  SRV=$!
  local i
  for i in $(seq 100); do curl -sf -o /dev/null "http://127.0.0.1:$PORT/healthz" && return 0; sleep 0.1; done
  echo "server did not come up" >&2
  exit 1
}
ms() { curl -s -o /dev/null -w '%{http_code} %{time_total}' "http://127.0.0.1:$PORT$1" | awk '{ printf "%s %.1f", $1, $2 * 1000 }'; }
first_segment() { # playlist URL → the first segment's URL (same directory)
  local dir=${1%/*}
  echo "$dir/$(curl -s "http://127.0.0.1:$PORT$1" | grep -v '^#' | head -n1)"
}
rss_kib() { awk '/^VmRSS/ { print $2 }' "/proc/$SRV/status"; }

# Page cache warm for both.
cat "$IN" "$ROOT"/static/*.m4s >/dev/null

first_requests() { # label, then the case's base path: master, media playlist, first segment
  local m p seg s
  m=$(ms "$2/master.m3u8")
  p=$(ms "$2/stream.m3u8")
  seg=$(first_segment "$2/stream.m3u8")
  s=$(ms "$seg")
  printf '%-28s %10s %10s %10s\n' "$1" "${m#* }" "${p#* }" "${s#* }"
  for x in "$m" "$p" "$s"; do [ "${x%% *}" = 200 ] || echo "  not 200: $x" >&2; done
}
CASES=("static fMP4|/static" "jit fMP4|/jit/title.mp4" "jit TS|/jit/title.mp4/ts")

if phase first; then
echo "== 1. first requests on a fresh server (page cache warm), ms =="
printf '%-28s %10s %10s %10s   %s\n' case master media seg0 "(HTTP status, then ms)"
for case in "${CASES[@]}"; do
  name=${case%%|*} base=${case#*|}
  start
  for pass in first again; do first_requests "$name ($pass)" "$base"; done
done
fi

if phase cold && [ -w /proc/sys/vm/drop_caches ]; then
echo "== 1b. first requests on a fresh server, page cache dropped, ms ($COLD_ROUNDS rounds) =="
printf '%-28s %10s %10s %10s\n' case master media seg0
for r in $(seq "$COLD_ROUNDS"); do
  for case in "${CASES[@]}"; do
    name=${case%%|*} base=${case#*|}
    start
    sync
    echo 3 >/proc/sys/vm/drop_caches
    first_requests "$name (cold $r)" "$base"
  done
done
cat "$IN" "$ROOT"/static/*.m4s >/dev/null
elif phase cold; then
  echo "== 1b. skipped: /proc/sys/vm/drop_caches is not writable (run as root) =="
fi

if phase throughput; then
echo "== 2. segment throughput, hot cache off, wrk -t2, ${DURATION}s × $ROUNDS rounds =="
start
STATIC_SEG=$(grep -v '^#' "$ROOT/static/stream.m3u8" | sed -n '50p')
JIT_SEG=$(curl -s "http://127.0.0.1:$PORT/jit/title.mp4/stream.m3u8" | grep -v '^#' | sed -n '50p')
[ -n "$STATIC_SEG" ] && [ -n "$JIT_SEG" ] || { echo "no 50th segment" >&2; exit 1; }
# One process serves both paths: each "server" of wrk_compare is the full URL of its segment
# (the case's path is empty), so the ratio is JIT over static for the same case.
python3 benches/wrk_compare.py --duration "$DURATION" --rounds "$ROUNDS" --threads 2 \
  --server "jit=http://127.0.0.1:$PORT/jit/title.mp4/$JIT_SEG=$SRV" \
  --server "static=http://127.0.0.1:$PORT/static/$STATIC_SEG=$SRV" \
  --case "segment (50th)|||GB" --conns 16,64 || echo "wrk_compare failed" >&2
fi

if phase many; then
echo "== 3. RSS with $NFILES files indexed (each a 60 s 1080p MP4, media playlist asked for) =="
start
sleep 1
# The library listed before any file is planned: /api/streams plans none of them.
listing() {
  curl -s -o "$WORK/streams.json" -w '%{time_total}' "http://127.0.0.1:$PORT/api/streams" |
    awk '{ printf "%.1f ms", $1 * 1000 }'
  python3 -c 'import json, sys; e = json.load(open(sys.argv[1]))["entries"]
print(", %d entries, %d with details" % (len(e), sum("duration" in x for x in e)))' "$WORK/streams.json"
}
echo "/api/streams, nothing planned: $(listing); again: $(listing)"
echo "index cache after listing: $(curl -s "http://127.0.0.1:$PORT/metrics" | awk '/^hlsorigin_jit_index_cache_entries / { print $2 }') entries"
before=$(rss_kib)
t0=$(date +%s.%N)
fail=0
for i in $(seq "$NFILES"); do
  code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/many/f$i.mp4/stream.m3u8")
  [ "$code" = 200 ] || fail=$((fail + 1))
done
t1=$(date +%s.%N)
after=$(rss_kib)
cached=$(curl -s "http://127.0.0.1:$PORT/metrics" | awk '/^hlsorigin_jit_index_cache_(bytes|entries) / { printf "%s=%s ", $1, $2 }')
echo "RSS $before KiB before, $after KiB after $NFILES playlists ($(( (after - before) / NFILES )) KiB per file;" \
  "$fail not 200); $(awk -v a="$t0" -v b="$t1" -v n="$NFILES" 'BEGIN { printf "%.1f ms per first playlist", (b - a) * 1000 / n }'); $cached"
echo "/api/streams, all asked for: $(listing)"
fi

if phase enc; then
echo "== 4. encryption: first requests on a fresh server (page cache warm), ms, $ENC_ROUNDS servers each =="
printf '%-28s %10s %10s %10s\n' case master media seg0
cat "$IN" "$ROOT"/static-cbcs/*.m4s >/dev/null
# case | serve options | base path
ENC_CASES=(
  "static cbcs||/static-cbcs"
  "jit fMP4 clear||/jit/title.mp4"
  "jit fMP4 cbcs|cbcs,sample-aes|/jit/title.mp4"
  "jit fMP4 aes-128|aes-128|/jit/title.mp4"
  "jit TS clear||/jit/title.mp4/ts"
  "jit TS sample-aes|cbcs,sample-aes|/jit/title.mp4/ts"
  "jit TS aes-128|aes-128|/jit/title.mp4/ts"
)
for r in $(seq "$ENC_ROUNDS"); do
  for case in "${ENC_CASES[@]}"; do
    IFS='|' read -r name methods base <<<"$case"
    if [ -n "$methods" ]; then
      start --jit-encrypt "$methods" --jit-key-secret "$ENC_SECRET"
    else
      start
    fi
    first_requests "$name ($r)" "$base"
  done
done
echo "== 4b. segment throughput, JIT AES-128 vs clear (50th segment), wrk -t2, ${DURATION}s × $ROUNDS =="
start --jit-encrypt aes-128 --jit-key-secret "$ENC_SECRET"
ENC=$SRV
SRV=
PORT0=$PORT
PORT=$((PORT + 1))
start
SEG=$(curl -s "http://127.0.0.1:$PORT/jit/title.mp4/stream.m3u8" | grep -v '^#' | sed -n '50p')
ESEG=$(curl -s "http://127.0.0.1:$PORT0/jit/title.mp4/stream.m3u8" | grep -v '^#' | sed -n '50p')
python3 benches/wrk_compare.py --duration "$DURATION" --rounds "$ROUNDS" --threads 2 \
  --server "aes128=http://127.0.0.1:$PORT0/jit/title.mp4/$ESEG=$ENC" \
  --server "clear=http://127.0.0.1:$PORT/jit/title.mp4/$SEG=$SRV" \
  --case "segment (50th)|||GB" --conns 16 || echo "wrk_compare failed" >&2
kill "$ENC" 2>/dev/null || true
wait "$ENC" 2>/dev/null || true
PORT=$PORT0
fi

#!/usr/bin/env bash
# Signed URLs (issue 13): what token verification and playlist rewriting cost, side by side in
# one run. The same directory (the 10 min input packaged as TS, and as fMP4) is served by two
# `hlsorigin serve` processes on loopback:
#   plain   no signing
#   signed  --sign-secret (every stream protected); requests carry a token from `hlsorigin sign`
# Both get the same URL (the plain server ignores the `token` parameter), with wrk -t2 at 64
# and 1000 connections over ROUNDS interleaved rounds (benches/wrk_compare.py): median
# requests/s, p99 and the server's CPU ms per request, ratio signed/plain. Cases: the VOD media
# playlist gzip (rewritten per token, once per version), and a small fMP4 init segment (the
# token check alone).
# Target (issue 13): signed ≥ 0.95× plain playlist requests/s.
#   benches/signed.sh   env: DURATION (s per wrk run, 10), ROUNDS (3), PORT_BASE (18180),
#                       BIN (a built hlsorigin instead of building release)
# CARGO_TARGET_DIR is honoured. All on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-10}
ROUNDS=${ROUNDS:-3}
PORT_BASE=${PORT_BASE:-18180}
PLAIN_PORT=$PORT_BASE
SIGNED_PORT=$((PORT_BASE + 1))
WORK=$PWD/bench-out/signed
ROOT=$WORK/root
SECRET=bench-secret-0123456789abcdef
command -v wrk >/dev/null || { echo "wrk missing: apt-get install -y wrk" >&2; exit 1; }
ulimit -n "$(ulimit -Hn)"

. benches/inputs.sh
make_input_10min
release_bin

rm -rf "$WORK"
mkdir -p "$ROOT"
"$BIN" package "$IN" -o "$ROOT/ts" --format ts --quiet --run-id bench
"$BIN" package "$IN" -o "$ROOT/fmp4" --quiet --run-id bench
. benches/procs.sh
RUST_LOG=warn "$BIN" serve "$ROOT" --listen "127.0.0.1:$PLAIN_PORT" >/dev/null &
PLAIN_PID=$!
started "$PLAIN_PID"
RUST_LOG=warn "$BIN" serve "$ROOT" --listen "127.0.0.1:$SIGNED_PORT" --sign-secret "$SECRET" >/dev/null &
SIGNED_PID=$!
started "$SIGNED_PID"
wait_http "http://127.0.0.1:$PLAIN_PORT/healthz"
wait_http "http://127.0.0.1:$SIGNED_PORT/healthz"

# `hlsorigin sign` prints the signed path and query of a stream's master; the token covers the
# stream's directory.
token() {
  "$BIN" sign "$1" --expires 1d --sign-secret "$SECRET" | sed -n 's/.*[?&]token=\([^& ]*\).*/\1/p' | head -n1
}
TS_TOKEN=$(token /ts/master.m3u8)
FMP4_TOKEN=$(token /fmp4/master.m3u8)
[ -n "$TS_TOKEN" ] && [ -n "$FMP4_TOKEN" ] || { echo "hlsorigin sign printed no token" >&2; exit 1; }
PLAYLIST="/ts/stream.m3u8?token=$TS_TOKEN"
INIT=$(sed -n 's/.*EXT-X-MAP:URI="\([^"]*\)".*/\1/p' "$ROOT/fmp4/stream.m3u8" | head -n1)
INIT="/fmp4/$INIT?token=$FMP4_TOKEN"
for p in "$PLAYLIST" "$INIT"; do
  for port in "$PLAIN_PORT" "$SIGNED_PORT"; do
    code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port$p")
    [ "$code" = 200 ] || { echo "$p on port $port answered $code" >&2; exit 1; }
  done
done
# Without a token the signed server refuses (the check is really on).
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$SIGNED_PORT/ts/stream.m3u8")
[ "$code" = 403 ] || { echo "signed server answered $code without a token" >&2; exit 1; }
# The signed playlist really is rewritten: every segment URI carries the token.
rewritten=$(curl -s "http://127.0.0.1:$SIGNED_PORT$PLAYLIST" | grep -v '^#' | grep -c "token=" || true)
echo "signed playlist: $rewritten URIs carry the token" >&2

echo "== wrk -t2, ${DURATION}s per run, $ROUNDS interleaved rounds; ratios signed/plain =="
python3 benches/wrk_compare.py --duration "$DURATION" --rounds "$ROUNDS" --threads 2 --conns 64,1000 \
  --server "signed=http://127.0.0.1:$SIGNED_PORT=$SIGNED_PID" \
  --server "plain=http://127.0.0.1:$PLAIN_PORT=$PLAIN_PID" \
  --case "playlist gzip|$PLAYLIST|gzip|req" --case "init segment|$INIT||req"

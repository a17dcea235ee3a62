#!/usr/bin/env bash
# Origin benchmark, side by side on loopback: `hlsorigin serve` vs nginx (sendfile on, gzip for
# playlists, access_log off) serving the same directory (the 10 min input packaged as TS).
#  1. wrk -t2 at 64 and 1000 connections: a VOD media playlist (gzip) and a ~6 MB TS segment;
#     median requests/s, GB/s and p99 latency over ROUNDS interleaved rounds, ratios to nginx
#     (default settings + the above). Also shown: nginx with open_file_cache (valid 1s), the
#     counterpart of our 1 s revalidation window for VOD playlists, and each server's CPU time
#     (ms per playlist request, s per GB of segment) -- robust to the other tenants' load.
#     The segment case also runs against a second hlsorigin with the hot-object cache off
#     (`--hot-cache-mib 0`: every response read from the file), to show what the cache does.
#  2. RSS with 10,000 idle keep-alive connections (each has had one playlist response).
#   benches/origin.sh              env: DURATION (s per wrk run, 10), ROUNDS (3), IDLE (10000;
#                                  0 skips step 2),
#                                  PORT_BASE (18080: ours, +1 nginx, +2 nginx-ofc, +3 ours-nocache),
#                                  BIN (a built hlsorigin to use instead of building release)
# Both servers log nothing per request (ours: RUST_LOG=warn, nginx: access_log off).
# CARGO_TARGET_DIR is honoured. All on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-10}
ROUNDS=${ROUNDS:-3}
IDLE=${IDLE:-10000}
PORT_BASE=${PORT_BASE:-18080}
OURS_PORT=$PORT_BASE
NGINX_PORT=$((PORT_BASE + 1))
NGINX_OFC_PORT=$((PORT_BASE + 2))
NOCACHE_PORT=$((PORT_BASE + 3))
WORK=$PWD/bench-out/origin
ROOT=$WORK/root
NGX=$WORK/nginx
ulimit -n "$(ulimit -Hn)"
if [ "$(ulimit -n)" -le $((IDLE + 100)) ]; then
  echo "ulimit -n $(ulimit -n) is too low for $IDLE connections" >&2
  exit 1
fi
command -v wrk >/dev/null || { echo "wrk missing: apt-get install -y wrk" >&2; exit 1; }
[ -x /usr/sbin/nginx ] || { echo "nginx missing: apt-get install -y nginx" >&2; exit 1; }

. benches/inputs.sh
make_input_10min
release_bin

rm -rf "$WORK"
mkdir -p "$ROOT" "$NGX"
"$BIN" package "$IN" -o "$ROOT/vod" --format ts --quiet --run-id bench
PLAYLIST=/vod/stream.m3u8
# The third segment, by the name the playlist gives it.
SEGMENT=/vod/$(grep -v "^#" "$ROOT/vod/stream.m3u8" | sed -n 3p)
echo "playlist $(stat -c %s "$ROOT$PLAYLIST") bytes, segment $(stat -c %s "$ROOT$SEGMENT") bytes" >&2

cat >"$NGX/nginx.conf" <<EOF
worker_processes auto;
worker_rlimit_nofile $(ulimit -n);
pid $NGX/nginx.pid;
error_log $NGX/error.log warn;
daemon off;
events {
    worker_connections $((IDLE + 1000));
}
http {
    access_log off;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    keepalive_timeout 120s;
    keepalive_requests 1000000;
    client_body_temp_path $NGX/tmp;
    types {
        application/vnd.apple.mpegurl m3u8;
        video/mp2t ts;
        video/iso.segment m4s;
        video/mp4 mp4;
    }
    gzip on;
    gzip_types application/vnd.apple.mpegurl;
    gzip_vary on;
    server {
        listen 127.0.0.1:$NGINX_PORT;
        root $ROOT;
        location ~ \.(ts|m4s|mp4)\$ {
            add_header Cache-Control "public, max-age=31536000, immutable";
        }
    }
    # The same with open_file_cache (off by default): descriptors and metadata kept for 1 s,
    # the nginx counterpart of hlsorigin's 1 s revalidation window for VOD playlists.
    server {
        listen 127.0.0.1:$NGINX_OFC_PORT;
        root $ROOT;
        open_file_cache max=10000 inactive=20s;
        open_file_cache_valid 1s;
        location ~ \.(ts|m4s|mp4)\$ {
            add_header Cache-Control "public, max-age=31536000, immutable";
        }
    }
}
EOF

OURS_PID=
NOCACHE_PID=
NGINX_PID=
IDLE_PID=
stop() {
  # Only the processes this script started, by id.
  [ -n "$IDLE_PID" ] && kill "$IDLE_PID" 2>/dev/null || true
  [ -n "$OURS_PID" ] && kill "$OURS_PID" 2>/dev/null || true
  [ -n "$NOCACHE_PID" ] && kill "$NOCACHE_PID" 2>/dev/null || true
  [ -n "$NGINX_PID" ] && kill "$NGINX_PID" 2>/dev/null || true
  wait 2>/dev/null || true
  OURS_PID= NOCACHE_PID= NGINX_PID= IDLE_PID=
}
. benches/procs.sh  # wait_http (its EXIT trap is replaced by ours below)
trap stop EXIT

wait_up() { wait_http "http://127.0.0.1:$1$PLAYLIST"; }

start() {
  # Default settings, except a long idle keep-alive timeout for the idle-connection test
  # (ours closes idle HTTP/1 connections after --header-read-timeout-secs, 10 s by default).
  RUST_LOG=warn "$BIN" serve "$ROOT" --listen "127.0.0.1:$OURS_PORT" "$@" >/dev/null &
  OURS_PID=$!
  /usr/sbin/nginx -p "$NGX" -c "$NGX/nginx.conf" -e "$NGX/error.log" &
  NGINX_PID=$!
  wait_up $OURS_PORT
  wait_up $NGINX_PORT
}

# Tree RSS in KiB: the process and its children (nginx's workers).
rss_kib() {
  local total=0 pid
  for pid in "$1" $(pgrep -P "$1" || true); do
    total=$((total + $(awk '/^VmRSS/ {print $2}' "/proc/$pid/status")))
  done
  echo "$total"
}

established() {
  ss -Htn state established "( sport = :$1 )" | wc -l
}

echo "== same bytes from both? ==" >&2
start
for p in "$PLAYLIST" "$SEGMENT"; do
  a=$(curl -s "http://127.0.0.1:$OURS_PORT$p" | sha256sum)
  b=$(curl -s "http://127.0.0.1:$NGINX_PORT$p" | sha256sum)
  [ "$a" = "$b" ] || { echo "$p differs between servers" >&2; exit 1; }
  ga=$(curl -s -H 'Accept-Encoding: gzip' -o /dev/null -w '%{size_download} %{content_type}' "http://127.0.0.1:$OURS_PORT$p")
  gb=$(curl -s -H 'Accept-Encoding: gzip' -o /dev/null -w '%{size_download} %{content_type}' "http://127.0.0.1:$NGINX_PORT$p")
  echo "$p with Accept-Encoding: gzip -> ours $ga, nginx $gb" >&2
done

if [ "$IDLE" -gt 0 ]; then
  echo "== idle keep-alive connections: $IDLE each =="
  stop
  start --header-read-timeout-secs 120
  printf '%-8s%14s%16s%12s%16s\n' server "RSS before MiB" "RSS $IDLE MiB" established "KiB/connection"
  for s in ours nginx; do
    if [ $s = ours ]; then port=$OURS_PORT pid=$OURS_PID; else port=$NGINX_PORT pid=$NGINX_PID; fi
    before=$(rss_kib "$pid")
    coproc IDLEC { python3 benches/idle_conns.py --port "$port" --path "$PLAYLIST" -n "$IDLE" --hold 120; }
    IDLE_PID=$IDLEC_PID
    read -r word open failed <&"${IDLEC[0]}"
    sleep 1
    after=$(rss_kib "$pid")
    est=$(established "$port")
    exec {IDLEC[1]}>&-
    wait "$IDLE_PID" || true
    IDLE_PID=
    if [ "$open" -ne "$IDLE" ]; then
      echo "$s: only $open of $IDLE connections opened ($failed failed)" >&2
    fi
    awk -v s=$s -v b="$before" -v a="$after" -v e="$est" -v n="$open" \
      'BEGIN { printf "%-8s%14.1f%16.1f%12d%16.1f\n", s, b/1024, a/1024, e, (a-b)/(n>0?n:1) }'
  done
fi

echo "== wrk -t2, ${DURATION}s per run, $ROUNDS interleaved rounds; ratios ours/nginx =="
stop
start
RUST_LOG=warn "$BIN" serve "$ROOT" --listen "127.0.0.1:$NOCACHE_PORT" --hot-cache-mib 0 >/dev/null &
NOCACHE_PID=$!
wait_up $NOCACHE_PORT
python3 benches/wrk_compare.py --duration "$DURATION" --rounds "$ROUNDS" --threads 2 --conns 64,1000 \
  --server "ours=http://127.0.0.1:$OURS_PORT=$OURS_PID" \
  --server "ours-nocache=http://127.0.0.1:$NOCACHE_PORT=$NOCACHE_PID" \
  --server "nginx-ofc=http://127.0.0.1:$NGINX_OFC_PORT=$NGINX_PID" \
  --server "nginx=http://127.0.0.1:$NGINX_PORT=$NGINX_PID" \
  --only "ours-nocache=segment 6MB" \
  --case "playlist gzip|$PLAYLIST|gzip|req" --case "segment 6MB|$SEGMENT||GB"
echo "peak RSS under load: ours $(awk '/^VmHWM/ {print $2}' /proc/$OURS_PID/status) KiB;" \
  "nginx master+workers now $(rss_kib "$NGINX_PID") KiB"

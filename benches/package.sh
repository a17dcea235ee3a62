#!/usr/bin/env bash
# Packaging benchmark, one run, side by side: hlsorigin package (ts, fmp4) vs ffmpeg's hls muxer
# (-c copy, same segment duration) vs cp of the input. Prints medians, ratios to cp, and peak RSS.
#   benches/package.sh [RUNS]     (default 5; input: 10 min 1080p30 ~8 Mb/s H.264 + AAC, generated once)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-5}
OUT=bench-out/package
mkdir -p "$OUT"
IN=bench-out/input-1080p30-10min.mp4
if [ ! -f "$IN" ]; then
  echo "generating $IN (1 min encoded, looped to 10 min with -c copy)…" >&2
  ffmpeg -v error -y -f lavfi -i "testsrc2=size=1920x1080:rate=30:duration=60" \
    -f lavfi -i "sine=frequency=440:sample_rate=48000:duration=60" \
    -c:v libx264 -preset ultrafast -b:v 8M -maxrate 8M -bufsize 16M -g 60 -pix_fmt yuv420p \
    -c:a aac -b:a 128k bench-out/one-minute.mp4
  ffmpeg -v error -y -stream_loop 9 -i bench-out/one-minute.mp4 -c copy -movflags +faststart "$IN"
fi
cargo build --release --quiet
BIN=target/release/hlsorigin
ls -l "$IN" >&2
python3 benches/compare.py --runs "$RUNS" --baseline cp \
  --setup "rm -rf $OUT/*" \
  cp "cp $IN $OUT/copy.mp4" \
  "hlsorigin ts" "$BIN package $IN -o $OUT/ours-ts --format ts --segment-duration 6 --quiet" \
  "hlsorigin fmp4" "$BIN package $IN -o $OUT/ours-fmp4 --format fmp4 --segment-duration 6 --quiet" \
  "ffmpeg hls ts" "mkdir -p $OUT/ff-ts && ffmpeg -v error -y -i $IN -c copy -f hls -hls_time 6 -hls_playlist_type vod $OUT/ff-ts/index.m3u8" \
  "ffmpeg hls fmp4" "mkdir -p $OUT/ff-fmp4 && ffmpeg -v error -y -i $IN -c copy -f hls -hls_time 6 -hls_segment_type fmp4 -hls_playlist_type vod $OUT/ff-fmp4/index.m3u8"

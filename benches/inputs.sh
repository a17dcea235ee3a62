# Sourced by the benchmark scripts: generates the inputs once into bench-out/.
#   IN   10 min 1080p30 ~8 Mb/s H.264 + AAC (1 min encoded with x264, looped with -c copy)
#   IN20 the same looped to 20 min (for the peak-RSS-does-not-grow check)
IN=bench-out/input-1080p30-10min.mp4
IN20=bench-out/input-1080p30-20min.mp4

make_input_10min() {
  mkdir -p bench-out
  if [ ! -s "$IN" ]; then
    echo "generating $IN (1 min encoded, looped to 10 min with -c copy)…" >&2
    ffmpeg -v error -y -f lavfi -i "testsrc2=size=1920x1080:rate=30:duration=60" \
      -f lavfi -i "sine=frequency=440:sample_rate=48000:duration=60" \
      -c:v libx264 -preset ultrafast -b:v 8M -maxrate 8M -bufsize 16M -g 60 -pix_fmt yuv420p \
      -c:a aac -b:a 128k bench-out/one-minute.mp4
    ffmpeg -v error -y -stream_loop 9 -i bench-out/one-minute.mp4 -c copy -movflags +faststart "$IN"
  fi
}

make_input_20min() {
  make_input_10min
  if [ ! -s "$IN20" ]; then
    echo "generating $IN20 (the 10 min input looped twice with -c copy)…" >&2
    ffmpeg -v error -y -stream_loop 1 -i "$IN" -c copy -movflags +faststart "$IN20"
  fi
}

# SETUP: the untimed step before every timed packaging run (benches/compare.py --setup): an
# empty output directory, no dirty pages (`sync`: writeback of the previous run must not land
# on the next command), then PRETOUCH_MIB MiB (2048; 0: off) written and deleted. On this kind
# of VM the first write into page-cache pages the guest has not touched lately costs several
# times more than the copy itself (`perf`: copy_folio_from_iter_atomic; `package` of the 10 min
# input takes 0.25 s or 2-6 s depending on what ran before, BENCHMARKS.md section 1); the
# pre-touch gives every command, ours and the peers', the same warm memory.
PRETOUCH_MIB=${PRETOUCH_MIB:-2048}
setup_for() { # setup_for OUTDIR: the --setup string
  local s="rm -rf $1/* && sync"
  if [ "$PRETOUCH_MIB" -gt 0 ]; then
    s="$s && dd if=/dev/zero of=$1/.pretouch bs=1M count=$PRETOUCH_MIB status=none && rm -f $1/.pretouch"
  fi
  echo "$s"
}

# BIN: the hlsorigin to measure; a release build of this tree unless BIN is given.
release_bin() {
  if [ -z "${BIN:-}" ]; then
    cargo build --release --quiet
    BIN=${CARGO_TARGET_DIR:-target}/release/hlsorigin
  fi
}

#!/usr/bin/env bash
# The one test command (README): installs what the tests need, then runs every check.
#   - Debian packages: ffmpeg (media generation + independent checks), chromium (real browser),
#     nginx + varnish (CDN stand-ins), wrk (benchmarks)
#   - npm: playwright-core + hls.js for the browser harness (tests/e2e)
#   - cargo fmt --check, cargo clippy -D warnings, cargo test (unit, integration, browser e2e)
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
for pair in ffmpeg:ffmpeg ffprobe:ffmpeg chromium:chromium nginx:nginx varnishd:varnish node:nodejs; do
  cmd=${pair%%:*}; pkg=${pair##*:}
  command -v "$cmd" >/dev/null 2>&1 || [ -x "/usr/sbin/$cmd" ] || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "installing: ${need[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
if [ ! -d tests/e2e/node_modules/playwright-core ] || [ ! -d tests/e2e/node_modules/hls.js ]; then
  (cd tests/e2e && npm ci --no-audit --no-fund --loglevel=error)
fi

cargo fmt --all --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo test --workspace --locked -- --test-threads="${TEST_THREADS:-2}"

#!/usr/bin/env bash
# Installs the Debian packages Earmark's tests and benchmarks use, when missing and when root:
#   ffmpeg, libchromaprint-tools (fpcalc: the reference the tests compare against),
#   wesnoth-1.16-music and supertux-data (real music, GPL-2+, for real-audio tests),
#   chromium (the browser Playwright drives in the website's tests: /usr/bin/chromium) and
#   nodejs (runs the website's fingerprint.js functions in tests/web/test_fingerprint_js.py).
# Without root, it only says what is missing; those tests then skip (outside CI) with a reason.
set -euo pipefail
source "$(dirname "$0")/apt-missing.sh"
install_missing system-deps "tests that need them will skip" \
  ffmpeg libchromaprint-tools wesnoth-1.16-music supertux-data chromium nodejs

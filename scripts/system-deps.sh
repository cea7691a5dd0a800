#!/usr/bin/env bash
# Installs the Debian packages Earmark's tests and benchmarks use, when missing and when root:
#   ffmpeg, libchromaprint-tools (fpcalc: the reference the tests compare against),
#   wesnoth-1.16-music and supertux-data (real music, GPL-2+, for real-audio tests).
# Without root, it only says what is missing; those tests then skip (outside CI) with a reason.
set -euo pipefail
packages=(ffmpeg libchromaprint-tools wesnoth-1.16-music supertux-data)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
((${#missing[@]})) || exit 0
if ! command -v apt-get >/dev/null; then
  echo "system-deps: not a Debian/Ubuntu machine; install by hand: ${missing[*]}" >&2
  exit 0
fi
if [[ $(id -u) -ne 0 ]]; then
  echo "system-deps: missing ${missing[*]} (run 'sudo make deps'); tests that need them will skip" >&2
  exit 0
fi
echo "system-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

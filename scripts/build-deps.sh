#!/usr/bin/env bash
# Installs what building Earmark's C extension needs (a C compiler and the headers of the Python
# that runs Earmark), when missing and when root. Usage: build-deps.sh PYTHON
# Without them `make install` still works: earmark.chromaprint falls back to numpy (slower
# lookups, same results), and says so in `earmark version`.
set -euo pipefail
python=${1:-python3}
include=$("$python" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')
version=$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
missing=()
command -v gcc >/dev/null || command -v cc >/dev/null || missing+=(gcc)
[[ -f "$include/Python.h" ]] || missing+=("python$version-dev")
((${#missing[@]})) || exit 0
if ! command -v apt-get >/dev/null || [[ $(id -u) -ne 0 ]]; then
  echo "build-deps: missing ${missing[*]}: the C extension will not be built (numpy fallback)" >&2
  exit 0
fi
echo "build-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

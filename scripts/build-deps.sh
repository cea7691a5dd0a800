#!/usr/bin/env bash
# Installs what building Earmark's C extension needs (a C compiler and the headers of the Python
# that runs Earmark), when missing and when root. Usage: build-deps.sh PYTHON
# Without them `make install` still works: earmark.chromaprint falls back to numpy (slower
# lookups, same results), and `earmark --version` says so.
set -euo pipefail
source "$(dirname "$0")/apt-missing.sh"
python=${1:-python3}
include=$("$python" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')
version=$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
packages=()
command -v gcc >/dev/null || command -v cc >/dev/null || packages+=(gcc)
[[ -f "$include/Python.h" ]] || packages+=("python$version-dev")
((${#packages[@]})) || exit 0
install_missing build-deps "the C extension will not be built (numpy fallback)" "${packages[@]}"

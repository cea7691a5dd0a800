# Sourced by system-deps.sh and build-deps.sh: install_missing WHAT CONSEQUENCE PACKAGE...
# installs the Debian packages among PACKAGE... that are not installed, when root on a
# Debian/Ubuntu machine; otherwise says which are missing and CONSEQUENCE, and goes on.
install_missing() {
  local what=$1 consequence=$2
  shift 2
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  ((${#missing[@]})) || return 0
  if ! command -v apt-get >/dev/null; then
    echo "$what: not a Debian/Ubuntu machine; install by hand: ${missing[*]} ($consequence)" >&2
    return 0
  fi
  if [[ $(id -u) -ne 0 ]]; then
    echo "$what: missing ${missing[*]} (run as root: 'sudo make deps install'); $consequence" >&2
    return 0
  fi
  echo "$what: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

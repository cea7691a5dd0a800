#!/usr/bin/env bash
# make deploy-test: the production fleet of deploy/compose.yaml built and run on a local Docker
# engine, then tested from the outside (scripts/deploy_test.py; docs/deploy.md, "The deployment
# test"). Usage: deploy-test.sh PYTHON   (PYTHON: the venv's, with httpx)
#
# What this part does: installs docker.io, docker-compose and debootstrap when missing (as
# root), starts dockerd when no engine answers (and stops it at the end), builds the Debian
# bookworm base image with debootstrap + docker import (nothing can be pulled here) unless the
# one of the same build inputs exists, fills deploy/wheels for an offline build, and builds the
# four images. The Python part brings the stack up, tests it and removes every container,
# network and volume it made; the images stay, so the next run reuses their layers.
set -euo pipefail
cd "$(dirname "$0")/.."
python=${1:-.venv/bin/python}
source scripts/apt-missing.sh
state=${EARMARK_DEPLOY_STATE:-/var/tmp/earmark-deploy-test}
mkdir -p "$state"
started=$(date +%s)
say() { printf 'deploy-test [%3ds] %s\n' $(( $(date +%s) - started )) "$*"; }

# --- tools --------------------------------------------------------------------------------
need=()
command -v dockerd >/dev/null || need+=(docker.io)
command -v docker-compose >/dev/null || docker compose version >/dev/null 2>&1 || need+=(docker-compose)
command -v debootstrap >/dev/null || need+=(debootstrap)
if ((${#need[@]})); then
  install_missing deploy-test "the deployment test cannot run" "${need[@]}"
fi
for tool in docker debootstrap; do
  command -v "$tool" >/dev/null || { echo "deploy-test: $tool is missing (run as root to install it)" >&2; exit 1; }
done
if docker compose version >/dev/null 2>&1; then compose=(docker compose); else compose=(docker-compose); fi

# --- the engine -------------------------------------------------------------------------
dockerd_pid=""
stop_dockerd() {
  if [[ -n $dockerd_pid ]]; then
    say "stopping the dockerd this test started (pid $dockerd_pid)"
    kill "$dockerd_pid" 2>/dev/null || true
    wait "$dockerd_pid" 2>/dev/null || true
  fi
}
trap stop_dockerd EXIT
if ! docker info >/dev/null 2>&1; then
  [[ $(id -u) -eq 0 ]] || { echo "deploy-test: no Docker engine answers and not root to start one" >&2; exit 1; }
  say "starting dockerd (log: $state/dockerd.log)"
  dockerd >"$state/dockerd.log" 2>&1 &
  dockerd_pid=$!
  for _ in $(seq 60); do docker info >/dev/null 2>&1 && break; sleep 0.5; done
  docker info >/dev/null 2>&1 || { echo "deploy-test: dockerd did not start: $(tail -3 "$state/dockerd.log")" >&2; exit 1; }
fi

# --- the base image: Debian bookworm by debootstrap, keyed on its build inputs -------------
mirror=$(sed -n 's/^URIs: *\([^ ]*\).*/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null | grep -v security | head -n 1 || true)
[[ -n $mirror ]] || mirror=$(awk '$1 == "deb" && $2 !~ /security/ {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
mirror=${mirror:-http://deb.debian.org/debian}
include=python3,python3-venv,ca-certificates
key=$(printf 'bookworm %s minbase %s v1\n' "$mirror" "$include" | sha256sum | cut -c1-12)
base=earmark-deploy-base:$key
if docker image inspect "$base" >/dev/null 2>&1; then
  say "base image $base (cached)"
else
  say "building the base image $base with debootstrap from $mirror"
  rootfs=$state/rootfs
  rm -rf "$rootfs"
  debootstrap --variant=minbase --include="$include" bookworm "$rootfs" "$mirror" >"$state/debootstrap.log" 2>&1 \
    || { echo "deploy-test: debootstrap failed: $(tail -3 "$state/debootstrap.log")" >&2; exit 1; }
  # What an image does not need: the package cache, documentation, other languages' messages.
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* \
    "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/locale/*
  tar -C "$rootfs" -c . | docker import - "$base" >/dev/null
  rm -rf "$rootfs"
fi

# --- wheels for an offline build (the build's containers may not reach a package index) ---
stamp=$(cat pyproject.toml setup.py | sha256sum | cut -c1-16)
if [[ $(cat deploy/wheels/.stamp 2>/dev/null) != "$stamp" ]]; then
  say "pip wheel into deploy/wheels"
  rm -f deploy/wheels/*.whl
  # async-timeout: redis needs it on Pythons before 3.11.3, such as Debian bookworm's 3.11.2.
  "$python" -m pip wheel --quiet --wheel-dir deploy/wheels . 'setuptools>=77' wheel 'async-timeout>=4.0.3' 2>&1 \
    | grep -v 'is ignored' || true
  rm -f deploy/wheels/earmark-*.whl
  echo "$stamp" > deploy/wheels/.stamp
fi

# --- the images ---------------------------------------------------------------------------
say "building the images on $base"
prefix=earmark-deploy-test
build() {  # build NAME CONTEXT [DOCKERFILE]
  docker build --quiet --force-rm --label earmark-deploy-test=1 --build-arg BASE_IMAGE="$base" -t "$prefix-$1:latest" ${3:+-f "$3"} "$2" \
    >"$state/build-$1.log" 2>&1 || { echo "deploy-test: building $1 failed:" >&2; tail -20 "$state/build-$1.log" >&2; return 1; }
}
pids=()
for service in postgres redis nats prometheus; do build "$service" "deploy/images/$service" & pids+=($!); done
build earmark . & pids+=($!)
for pid in "${pids[@]}"; do wait "$pid"; done
# The images these replaced (untagged now) go; the tagged ones stay for the next run's cache.
docker image prune --force --filter label=earmark-deploy-test=1 >/dev/null
say "images built"

export EARMARK_IMAGE=$prefix-earmark:latest EARMARK_POSTGRES_IMAGE=$prefix-postgres:latest \
  EARMARK_REDIS_IMAGE=$prefix-redis:latest EARMARK_NATS_IMAGE=$prefix-nats:latest \
  EARMARK_PROMETHEUS_IMAGE=$prefix-prometheus:latest
"$python" scripts/deploy_test.py --compose "${compose[*]}" --state "$state"
say "passed"

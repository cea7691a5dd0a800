#!/bin/sh
set -eu
if [ -r /run/secrets/redis_password ]; then export REDISCLI_AUTH="$(cat /run/secrets/redis_password)"; fi
test "$(redis-cli -h 127.0.0.1 ping)" = PONG

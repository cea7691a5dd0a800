#!/bin/bash
# NATS's own health endpoint (JetStream included), read over bash's /dev/tcp: no curl needed.
set -eu
exec 3<>/dev/tcp/127.0.0.1/8222
printf 'GET /healthz HTTP/1.0\r\nHost: localhost\r\n\r\n' >&3
head -n 1 <&3 | grep -q ' 200 '

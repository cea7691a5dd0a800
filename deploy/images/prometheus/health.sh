#!/bin/bash
# Prometheus's own health endpoint, read over bash's /dev/tcp (this promtool has no
# `check healthy`, and the image has no curl).
set -eu
exec 3<>/dev/tcp/127.0.0.1/9090
printf 'GET /-/healthy HTTP/1.0\r\nHost: localhost\r\n\r\n' >&3
head -n 1 <&3 | grep -q ' 200 '

#!/bin/sh
# The password comes from the secret file; it is passed on stdin, never on the command line.
set -eu
{ printf 'bind 0.0.0.0 -::*\nprotected-mode no\nsave ""\nappendonly no\n'
  if [ -r /run/secrets/redis_password ]; then printf 'requirepass "%s"\n' "$(cat /run/secrets/redis_password)"; fi
} | exec redis-server -

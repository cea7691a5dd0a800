#!/bin/sh
# Writes the secrets deploy/compose.yaml reads (random passwords, the URLs that carry them) into
# DIR (default deploy/secrets), leaving files that exist alone. Usage: make-secrets.sh [DIR]
set -eu
dir=${1:-$(dirname "$0")/secrets}
mkdir -p "$dir"
chmod 700 "$dir"
random() { od -An -N18 -tx1 /dev/urandom | tr -d ' \n'; }
put() {  # put NAME VALUE: only when missing; 0644 because the containers' users read them
    [ -s "$dir/$1" ] || { printf '%s\n' "$2" > "$dir/$1"; chmod 644 "$dir/$1"; }
}
put postgres_password "$(random)"
put redis_password "$(random)"
pg=$(cat "$dir/postgres_password")
put database_url "postgresql://earmark:$pg@postgres:5432/earmark"
put musicbrainz_database_url "postgresql://earmark:$pg@postgres:5432/musicbrainz"
put redis_url "redis://:$(cat "$dir/redis_password")@redis:6379/0"
put cluster_secret "$(random)"
put web_secret "$(random)"
echo "secrets in $dir"

#!/bin/sh
# First start: initdb, the role `earmark` (password from POSTGRES_PASSWORD_FILE) owning each
# database of POSTGRES_DATABASES; every start: PostgreSQL in the foreground, listening on the
# container's network with password (scram) authentication.
set -eu
if [ ! -s "$PGDATA/PG_VERSION" ]; then
    password=$(cat "$POSTGRES_PASSWORD_FILE")
    initdb --pgdata="$PGDATA" --username=postgres --auth-local=trust --auth-host=scram-sha-256 \
        --encoding=UTF8 --locale=C.UTF-8 >/dev/null
    printf 'host all all 0.0.0.0/0 scram-sha-256\nhost all all ::/0 scram-sha-256\n' >> "$PGDATA/pg_hba.conf"
    pg_ctl --pgdata="$PGDATA" --options="-c listen_addresses=''" --wait start >/dev/null
    psql -v ON_ERROR_STOP=1 -U postgres -q -v pw="$password" <<'SQL'
CREATE ROLE earmark LOGIN PASSWORD :'pw';
SQL
    for db in ${POSTGRES_DATABASES:-earmark}; do
        createdb -U postgres -O earmark "$db"
    done
    pg_ctl --pgdata="$PGDATA" --mode=fast --wait stop >/dev/null
fi
exec postgres -c listen_addresses='*' -c max_connections="${POSTGRES_MAX_CONNECTIONS:-200}" "$@"

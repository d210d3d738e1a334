#!/usr/bin/env bash
# Runs a command with CERTNET_DATABASE_URL pointing at a throwaway PostgreSQL cluster (installed
# from Debian's packages when missing; CI runs as root), and removes the cluster afterwards.
# Usage: scripts/with_postgres.sh COMMAND [ARGS...]
set -euo pipefail
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
if [ -z "$bin" ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
    bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
fi
as_postgres=()
if [ "$(id -u)" = 0 ]; then as_postgres=(runuser -u postgres --); fi  # initdb refuses to run as root
dir=$(mktemp -d /tmp/certnet-pg.XXXXXX)
chmod 755 "$dir"
[ "$(id -u)" = 0 ] && chown postgres "$dir"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"${as_postgres[@]}" "$bin/initdb" -D "$dir/data" -A trust -U certnet >/dev/null
"${as_postgres[@]}" "$bin/pg_ctl" -D "$dir/data" -o "-p $port -k $dir -c listen_addresses=''" -l "$dir/log" -w start >/dev/null
trap '"${as_postgres[@]}" "$bin/pg_ctl" -D "$dir/data" -m fast stop >/dev/null; rm -rf "$dir"' EXIT
"${as_postgres[@]}" "$bin/createdb" -h "$dir" -p "$port" -U certnet certnet
export CERTNET_DATABASE_URL="postgresql+psycopg://certnet@/certnet?host=$dir&port=$port"
echo "PostgreSQL $("$bin/postgres" --version | awk '{print $3}') at $dir:$port"
"$@"

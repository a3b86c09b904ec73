#!/usr/bin/env bash
# Builds real application images from Debian's packages (there is no image registry here):
#   orun-test/debian-apps:bookworm   debootstrap rootfs with nginx-light, redis-server, postgresql,
#                                    python3, procps and netcat-openbsd (the shared base)
#   orun-test/nginx:1      nginx on :80 (document root /var/www/html, with /health), daemon off
#   orun-test/redis:1      redis-server on :6379, protected mode off
#   orun-test/postgres:1   postgres 15 on :5432, trust auth from any address, database `postgres`;
#                          initdb on first start when PGDATA (/var/lib/postgresql/data) is empty
#   orun-test/python:1     `python3 -m http.server 8000` in /srv (override with command/args)
#   orun-test/flyway:1     a flyway stand-in for the Orchfile spec example (-url=jdbc:postgresql://HOST/DB migrate)
# The app images are `docker build`s on the base that only add CMD/STOPSIGNAL, so they cost
# almost no disk. Needs root, debootstrap and the Debian mirror; the base takes about 90 s the
# first time. Idempotent: an image with the current recipe is kept (FORCE=1 rebuilds).
set -euo pipefail

# Bump when a recipe below changes: an existing image with another recipe is rebuilt.
BASE_RECIPE=1
RECIPE=2
BASE=orun-test/debian-apps:bookworm
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}

recipe_of() { docker image inspect -f '{{ index .Config.Labels "orun.test/recipe" }}' "$1" 2>/dev/null || true; }

build_base() {
  if [ "${FORCE:-0}" != 1 ] && [ "$(recipe_of "$BASE")" = "$BASE_RECIPE" ]; then return; fi
  if ! command -v debootstrap >/dev/null; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
  fi
  local rootfs
  rootfs=$(mktemp -d /tmp/orun-apps-rootfs.XXXXXX)
  # shellcheck disable=SC2064
  trap "rm -rf '$rootfs'" RETURN
  echo "app-images: debootstrap bookworm (nginx-light redis-server postgresql python3)" >&2
  debootstrap --variant=minbase \
    --include=nginx-light,redis-server,postgresql,python3,procps,netcat-openbsd,ca-certificates \
    bookworm "$rootfs" "$MIRROR" >/dev/null

  # nginx: a health page beside the default one; logs to the container's stdout/stderr.
  echo ok >"$rootfs/var/www/html/health"
  echo '<h1>orun nginx</h1>' >"$rootfs/var/www/html/index.html"
  ln -sf /dev/stdout "$rootfs/var/log/nginx/access.log"
  ln -sf /dev/stderr "$rootfs/var/log/nginx/error.log"

  chroot "$rootfs" id postgres >/dev/null
  mkdir -p "$rootfs/srv"
  echo ok >"$rootfs/srv/health"
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*

  echo "app-images: docker import $BASE" >&2
  tar -C "$rootfs" -c . | docker import -c "LABEL orun.test/recipe=$BASE_RECIPE" - "$BASE" >/dev/null
}

# build_app NAME DOCKERFILE-TAIL [FILE...]: a tiny image on the base (CMD and friends, plus the
# given files in the build context for COPY).
build_app() {
  local ref=$1 tail=$2
  shift 2
  if [ "${FORCE:-0}" != 1 ] && [ "$(recipe_of "$ref")" = "$RECIPE" ]; then return; fi
  local ctx
  ctx=$(mktemp -d)
  # shellcheck disable=SC2064
  trap "rm -rf '$ctx'" RETURN
  [ $# -eq 0 ] || cp "$@" "$ctx/"
  printf 'FROM %s\nLABEL orun.test/recipe=%s\n%s\n' "$BASE" "$RECIPE" "$tail" >"$ctx/Dockerfile"
  local out
  out=$(docker build -q -t "$ref" "$ctx" 2>&1) || { echo "$out" >&2; return 1; }
  echo "app-images: built $ref" >&2
}

# postgres: like the official image, the wrapper runs initdb on first start when PGDATA is empty
# (a fresh volume too), listening on every address with trust auth (a test database, never a real
# one). setpriv execs postgres itself as PID 1, so STOPSIGNAL reaches it (runuser would not forward).
pgdir=$(mktemp -d)
trap 'rm -rf "$pgdir"' EXIT
cat >"$pgdir/orun-postgres" <<'SH'
#!/bin/sh
set -e
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | head -1)
PGDATA=${PGDATA:-/var/lib/postgresql/data}
mkdir -p "$PGDATA" /run/postgresql
chown postgres:postgres "$PGDATA" /run/postgresql
chmod 700 "$PGDATA"
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  setpriv --reuid=postgres --regid=postgres --init-groups "$PGBIN/initdb" -D "$PGDATA" --auth=trust -U postgres >/dev/null
  echo "listen_addresses = '*'" >>"$PGDATA/postgresql.conf"
  echo 'host all all 0.0.0.0/0 trust' >>"$PGDATA/pg_hba.conf"
fi
exec setpriv --reuid=postgres --regid=postgres --init-groups "$PGBIN/postgres" -D "$PGDATA" "$@"
SH
chmod 755 "$pgdir/orun-postgres"

# A flyway stand-in for the Orchfile spec example's db-migrate (`CMD -url=jdbc:postgresql://HOST/DB
# migrate`): creates DB if missing and records one row per migrate run in its `migrations` table.
cat >"$pgdir/flyway" <<'SH'
#!/bin/sh
set -e
url=; cmd=
for a in "$@"; do
  case "$a" in -url=jdbc:postgresql://*) url=${a#-url=jdbc:postgresql://} ;; migrate) cmd=migrate ;; esac
done
[ "$cmd" = migrate ] && [ -n "$url" ] || { echo "usage: flyway -url=jdbc:postgresql://HOST/DB migrate" >&2; exit 2; }
host=${url%%/*}; db=${url#*/}
psql -h "$host" -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname='$db'" | grep -q 1 ||
  psql -h "$host" -U postgres -c "CREATE DATABASE \"$db\""
psql -h "$host" -U postgres -d "$db" -v ON_ERROR_STOP=1 \
  -c "CREATE TABLE IF NOT EXISTS migrations (id serial PRIMARY KEY, at timestamptz DEFAULT now())" \
  -c "INSERT INTO migrations DEFAULT VALUES"
echo "flyway: migrated $db on $host"
SH
chmod 755 "$pgdir/flyway"

build_base
build_app orun-test/nginx:1 $'EXPOSE 80\nSTOPSIGNAL SIGQUIT\nCMD ["nginx","-g","daemon off;"]'
build_app orun-test/redis:1 $'EXPOSE 6379\nCMD ["redis-server","--protected-mode","no","--bind","0.0.0.0"]'
build_app orun-test/postgres:1 $'EXPOSE 5432\nSTOPSIGNAL SIGINT\nCOPY orun-postgres /usr/local/bin/orun-postgres\nCMD ["/usr/local/bin/orun-postgres"]' "$pgdir/orun-postgres"
build_app orun-test/flyway:1 $'COPY flyway /usr/local/bin/flyway\nENTRYPOINT ["/usr/local/bin/flyway"]' "$pgdir/flyway"
build_app orun-test/python:1 $'EXPOSE 8000\nWORKDIR /srv\nCMD ["python3","-m","http.server","8000"]'

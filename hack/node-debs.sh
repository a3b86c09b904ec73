#!/usr/bin/env bash
# A local, file-based apt repository with the Debian packages `orun bootstrap` installs on the
# test node (caddy and what it pulls in that orun-test/node:bookworm lacks), so the bootstrap e2e
# runs `apt-get install caddy` offline and in a second: the test mounts the directory into the
# node container and points /etc/apt/sources.list at it (`deb [trusted=yes] file:/srv/debs ./`).
# The .deb set is the exact closure apt computes in a throwaway node container
# (`apt-get install --download-only`); Packages is made with dpkg-scanpackages (dpkg-dev).
# Idempotent: an existing repository is kept (--rebuild replaces it). Needs the Debian mirror once.
# `--orch` makes a second repository instead (/var/cache/orun-test/orch-debs): the host tools the
# Orchfile spec example's HEALTHCHECKs and django run on a systemd node (pg_isready, redis-cli,
# curl, python), for test/orch-systemd/spec-example.test.ts.
set -euo pipefail

IMAGE=${ORUN_NODE_IMAGE:-orun-test/node:bookworm}
if [ "${1:-}" = "--orch" ]; then
  shift
  DIR=${ORUN_ORCH_DEBS:-/var/cache/orun-test/orch-debs}
  PACKAGES=(postgresql-client redis-tools curl python-is-python3)
else
  DIR=${ORUN_NODE_DEBS:-/var/cache/orun-test/node-debs}
  PACKAGES=(caddy)
fi

# The bootstrap e2e removes git from its node (only the package: its dependencies stay), so
# bootstrap has to install it: git's own .deb is added beside the closure.
EXTRA=()
[ "${PACKAGES[*]}" = caddy ] && EXTRA=(git)
if [ "${1:-}" != "--rebuild" ] && [ -s "$DIR/Packages" ] &&
  { [ ${#EXTRA[@]} = 0 ] || grep -q '^Package: git$' "$DIR/Packages"; }; then
  echo "node-debs: $DIR exists" >&2
  exit 0
fi
if ! command -v dpkg-scanpackages >/dev/null; then
  echo "node-debs: installing dpkg-dev" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends dpkg-dev >/dev/null
fi
rm -rf "$DIR"
mkdir -p "$DIR/partial"
docker run --rm -v "$DIR:/var/cache/apt/archives" --entrypoint /bin/sh "$IMAGE" -c \
  "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --download-only --no-install-recommends ${PACKAGES[*]}${EXTRA:+ && cd /var/cache/apt/archives && apt-get download -qq ${EXTRA[*]}}" >&2
rm -rf "$DIR/partial" "$DIR/lock"
(cd "$DIR" && dpkg-scanpackages --multiversion . /dev/null >Packages 2>/dev/null)
echo "node-debs: $(ls "$DIR"/*.deb | wc -l) packages in $DIR" >&2

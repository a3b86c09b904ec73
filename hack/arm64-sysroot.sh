#!/usr/bin/env bash
# An arm64 Debian bookworm sysroot (libc6, libstdc++6, libgcc-s1: what Node.js links) so the
# arm64 single executable (ORUN_DIST_ARCH=arm64 npm run dist) runs on this x64 machine under
# qemu user mode: `qemu-aarch64-static -L "$DIR" dist/orun-linux-arm64 --version`
# (test/bootstrap/sea-arm64.test.ts). The .debs are fetched in a throwaway container of the node
# image (dpkg --add-architecture arm64 there, not on this host) and unpacked with dpkg -x.
# Idempotent: an existing sysroot is kept (--rebuild replaces it). Needs the Debian mirror once.
set -euo pipefail

IMAGE=${ORUN_NODE_IMAGE:-orun-test/node:bookworm}
DIR=${ORUN_ARM64_SYSROOT:-/var/cache/orun-test/arm64-sysroot}
PACKAGES=(libc6:arm64 libstdc++6:arm64 libgcc-s1:arm64)

if [ "${1:-}" != "--rebuild" ] && [ -e "$DIR/lib/ld-linux-aarch64.so.1" ]; then
  echo "arm64-sysroot: $DIR exists" >&2
  exit 0
fi
debs=$(mktemp -d /tmp/orun-arm64-debs.XXXXXX)
trap 'rm -rf "$debs"' EXIT
docker run --rm -v "$debs:/var/cache/apt/archives" --entrypoint /bin/sh "$IMAGE" -c \
  "dpkg --add-architecture arm64 && apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --download-only --no-install-recommends ${PACKAGES[*]}" >&2
rm -rf "$DIR"
mkdir -p "$DIR"
for deb in "$debs"/*.deb; do dpkg -x "$deb" "$DIR"; done
echo "arm64-sysroot: $(ls "$debs"/*.deb | wc -l) packages unpacked in $DIR" >&2

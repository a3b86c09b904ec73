#!/usr/bin/env bash
# Installs, from Debian's packages, everything the tests and the demo need, and starts dockerd.
# Idempotent: a second run installs nothing and leaves a running dockerd alone.
set -euo pipefail

PACKAGES=(
  docker.io busybox-static git ca-certificates curl openssl
  caddy pebble openssh-server openssh-client prometheus age
  systemd # systemd-analyze, for verifying rendered Orchfile units (systemd is not booted)
  debootstrap iproute2 # the systemd node image for the bootstrap e2e (hack/node-image.sh)
  binutils # strip, for the single executable (npm run dist)
  binutils-aarch64-linux-gnu qemu-user-static # the arm64 single executable: strip it, run it (hack/arm64-sysroot.sh)
  postgresql-client redis-tools python-is-python3 # the Orchfile spec example: pg_isready, redis-cli (host-side HEALTHCHECKs), python
  wrk # the load generator of bench/ingress.ts
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# sshd (bootstrap and ssh:// git tests) needs its privilege-separation dir; there is no systemd to make it.
mkdir -p /run/sshd

bash "$(dirname "$0")/start-dockerd.sh"

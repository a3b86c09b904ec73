#!/usr/bin/env bash
# Builds `orun-test/node:bookworm`: a Debian bookworm rootfs that boots systemd as PID 1 with sshd,
# the "systemd node in a container" the bootstrap e2e test provisions over SSH (DESIGN §4).
# Needs root, debootstrap and the Debian mirror. Idempotent: an existing image is kept
# (pass --rebuild to replace it). Takes about a minute the first time.
set -euo pipefail

IMAGE=${ORUN_NODE_IMAGE:-orun-test/node:bookworm}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}

if [ "${1:-}" != "--rebuild" ] && docker image inspect "$IMAGE" >/dev/null 2>&1; then
  echo "node-image: $IMAGE exists" >&2
  exit 0
fi

if ! command -v debootstrap >/dev/null; then
  echo "node-image: installing debootstrap" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
fi

rootfs=$(mktemp -d /tmp/orun-node-rootfs.XXXXXX)
trap 'rm -rf "$rootfs"' EXIT

echo "node-image: debootstrap bookworm into $rootfs" >&2
debootstrap --variant=minbase \
  --include=systemd,systemd-sysv,dbus,openssh-server,ca-certificates,git,iproute2 \
  bookworm "$rootfs" "$MIRROR" >/dev/null

# Root logs in with a key only; the test installs its key through `docker exec` before connecting.
mkdir -p "$rootfs/root/.ssh"
chmod 700 "$rootfs/root/.ssh"
# Host keys are made at first boot (sshd-keygen via ssh.service's ExecStartPre needs them gone):
# every container started from the image then has its own host key.
rm -f "$rootfs"/etc/ssh/ssh_host_*
cat >"$rootfs/etc/systemd/system/orun-test-hostkeys.service" <<'UNIT'
[Unit]
Description=Generate SSH host keys at first boot
Before=ssh.service
ConditionPathExists=!/etc/ssh/ssh_host_ed25519_key

[Service]
Type=oneshot
ExecStart=/usr/bin/ssh-keygen -A

[Install]
WantedBy=multi-user.target
UNIT
ln -sf /etc/systemd/system/orun-test-hostkeys.service \
  "$rootfs/etc/systemd/system/multi-user.target.wants/orun-test-hostkeys.service"
# Nothing in a container needs these, and they fail or wait without real hardware.
for unit in systemd-udevd.service systemd-udev-trigger.service getty@tty1.service \
  systemd-networkd-wait-online.service console-getty.service; do
  ln -sf /dev/null "$rootfs/etc/systemd/system/$unit"
done
echo orun-node >"$rootfs/etc/hostname"
rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*

echo "node-image: docker import $IMAGE" >&2
tar -C "$rootfs" -c . | docker import -c 'CMD ["/sbin/init"]' - "$IMAGE" >/dev/null
echo "node-image: built $IMAGE" >&2

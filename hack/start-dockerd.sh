#!/usr/bin/env bash
# Starts dockerd when it is not answering (there is no systemd here) and waits for its socket.
set -euo pipefail
SOCK=/var/run/docker.sock
if docker version >/dev/null 2>&1; then exit 0; fi
echo "start-dockerd: starting dockerd (log: /var/log/dockerd.log)" >&2
nohup dockerd >/var/log/dockerd.log 2>&1 &
for _ in $(seq 1 120); do
  if [ -S "$SOCK" ] && docker version >/dev/null 2>&1; then exit 0; fi
  sleep 0.5
done
echo "start-dockerd: dockerd did not come up within 60s; last log lines:" >&2
tail -20 /var/log/dockerd.log >&2
exit 1

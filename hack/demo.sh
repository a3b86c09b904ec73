#!/usr/bin/env bash
# `npm run demo`: the agent against the sample repository in config/samples/.
# Installs what is missing (Debian packages, dockerd, test images, npm packages), builds the
# CLIs, turns config/samples/ into a local Git repository and runs `orun start` against it in the
# foreground. The sample Service `web` is routed as http://web.localhost/ by the agent's Caddy on
# port 80 when it is free (else the demo runs with --ingress none and says why). Ctrl-C stops the
# agent and its Caddy; the containers it started keep running (as with systemd),
# `bash hack/demo.sh clean` removes them.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=${ORUN_DEMO_DIR:-/tmp/orun-demo}

if [ "${1:-}" = clean ]; then
  # A Caddy left by a killed agent (it stops on its own at its next log line otherwise).
  # Caddy 2.6.2 wants an empty Host header on its unix socket (curl: 'Host;').
  sock=$ROOT/data/caddy/admin.sock
  [ ! -S "$sock" ] || curl -s --max-time 5 --unix-socket "$sock" -H 'Host;' -X POST http://caddy/stop >/dev/null 2>&1 || true
  ids=$(docker ps -aq --filter label=run.orcra.dev/managed-by=orun --filter label=run.orcra.dev/node=demo)
  [ -z "$ids" ] || docker rm -f $ids >/dev/null
  # The node network the agent made (orun-net-<node>); an agent never removes it itself.
  docker network rm orun-net-demo >/dev/null 2>&1 || true
  rm -rf "$ROOT"
  echo "demo: removed managed containers, the orun-net-demo network and $ROOT" >&2
  exit 0
fi

if [ "$(id -u)" = 0 ]; then
  bash hack/install-deps.sh
  bash hack/images.sh
fi
# The sample api Deployment mounts this host path; a missing one is reported as InvalidMount.
mkdir -p /srv/orun-demo/api-data 2>/dev/null || echo "demo: cannot create /srv/orun-demo/api-data; the api sample will report InvalidMount" >&2
bash hack/ensure-npm.sh
npm run --silent build

REPO=$ROOT/repo
if [ ! -d "$REPO/.git" ]; then
  mkdir -p "$REPO"
  cp -r config/samples/. "$REPO/"
  git -C "$REPO" init -q -b main
  git -C "$REPO" -c user.name=demo -c user.email=demo@localhost add -A
  git -C "$REPO" -c user.name=demo -c user.email=demo@localhost commit -qm "sample manifests"
fi

# The ingress (Caddy) takes port 80 when it can; the demo never fights another server for it.
INGRESS=(--ingress caddy --http-port 80)
why=
if ! command -v caddy >/dev/null 2>&1; then
  why="caddy is not installed (hack/install-deps.sh installs it)"
elif (exec 3<>/dev/tcp/127.0.0.1/80) 2>/dev/null; then
  why="port 80 is already in use"
elif [ "$(id -u)" != 0 ] && [ "$(cat /proc/sys/net/ipv4/ip_unprivileged_port_start 2>/dev/null || echo 1024)" -gt 80 ]; then
  why="binding port 80 needs root"
fi
if [ -n "$why" ]; then
  INGRESS=(--ingress none)
  ingress_hint="demo: ingress off ($why): the web Service is not routed; orun runs with --ingress none"
else
  ingress_hint="        curl -s -H 'Host: web.localhost' localhost/      # the web Service, through Caddy"
fi

cat >&2 <<MSG
demo: agent starting against $REPO (node "demo", data dir $ROOT/data)
demo: in another shell try
        npx orunctl --socket $ROOT/data/orun.sock get all
        curl -s localhost:8080/
$ingress_hint
      edit $REPO/deployments/*.yaml and commit to watch it reconcile.
MSG
exec node_modules/.bin/node dist/orun.js start --repo "$REPO" --node demo --data-dir "$ROOT/data" --poll-interval 2s "${INGRESS[@]}" "$@"

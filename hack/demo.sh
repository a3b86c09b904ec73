#!/usr/bin/env bash
# `npm run demo`: the agent against the sample repository in config/samples/.
# Installs what is missing (Debian packages, dockerd, test images, npm packages), builds the
# CLIs, turns config/samples/ into a local Git repository and runs `orun start` against it in the
# foreground. Ctrl-C stops the agent; the containers it started keep running (as with systemd),
# `bash hack/demo.sh clean` removes them.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=${ORUN_DEMO_DIR:-/tmp/orun-demo}

if [ "${1:-}" = clean ]; then
  ids=$(docker ps -aq --filter label=run.orcra.dev/managed-by=orun --filter label=run.orcra.dev/node=demo)
  [ -z "$ids" ] || docker rm -f $ids >/dev/null
  rm -rf "$ROOT"
  echo "demo: removed managed containers and $ROOT" >&2
  exit 0
fi

if [ "$(id -u)" = 0 ]; then
  bash hack/install-deps.sh
  bash hack/images.sh
fi
# The sample api Deployment mounts this host path; a missing one is reported as InvalidMount.
mkdir -p /opt/orun/samples/api-data 2>/dev/null || echo "demo: cannot create /opt/orun/samples/api-data; the api sample will report InvalidMount" >&2
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

cat >&2 <<MSG
demo: agent starting against $REPO (node "demo", data dir $ROOT/data)
demo: in another shell try
        npx orunctl --socket $ROOT/data/orun.sock get deploy
        curl -s localhost:8080/
      edit $REPO/deployments/*.yaml and commit to watch it reconcile.
MSG
exec node_modules/.bin/node dist/orun.js start --repo "$REPO" --node demo --data-dir "$ROOT/data" --poll-interval 2s "$@"

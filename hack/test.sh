#!/usr/bin/env bash
# `npm test`: installs what the tests need when it is missing (Debian packages, dockerd, the
# local test images, npm packages), then runs every tier with vitest. Extra args go to vitest.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" = 0 ]; then
  bash hack/install-deps.sh
  bash hack/images.sh
  bash hack/node-image.sh
  bash hack/node-debs.sh
  bash hack/node-debs.sh --orch
  bash hack/arm64-sysroot.sh
  bash hack/app-images.sh
else
  echo "test: not root; assuming hack/install-deps.sh and hack/images.sh already ran" >&2
fi
bash hack/ensure-npm.sh
# Node 24 from the `node` devDependency, also when this script is run without npm.
export PATH="$PWD/node_modules/.bin:$PATH"
exec vitest run "$@"

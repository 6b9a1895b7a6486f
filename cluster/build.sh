#!/usr/bin/env bash
# Builds the test ground's third-party programs from their Go modules, through the
# wrapper modules in cluster/tools/, into a cache outside the repository keyed by
# name and version. A cached build is reused; a new version builds beside it.
#
#   cluster/build.sh [tool...]      tools: kubernetes etcd kwok versitygw minio
#                                          crossplane-cli crossplane-core provider-helm
#                                          provider-helm-crds provider-aws-crds (CRDs only)
#                                          golangci-lint (for make lint)
#   cluster/build.sh --path TOOL    prints the folder holding TOOL's binaries
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cache=${QDRANTOPS_CACHE:-$HOME/.cache/qdrantops}
all_tools=(kubernetes etcd kwok versitygw crossplane-cli crossplane-core provider-helm provider-helm-crds provider-aws-crds minio golangci-lint)
# provider-upjet-aws is too big to build for tests; only the CRDs of the S3
# kinds the composition function composes are taken from its module.
aws_version=v2.5.0

# module TOOL prints the module its wrapper builds from.
module() {
  case $1 in
    kubernetes) echo k8s.io/kubernetes ;;
    etcd) echo go.etcd.io/etcd/server/v3 ;;
    kwok) echo sigs.k8s.io/kwok ;;
    versitygw) echo github.com/versity/versitygw ;;
    minio) echo github.com/minio/minio ;;
    crossplane-cli) echo github.com/crossplane/cli/v2 ;;
    crossplane-core) echo github.com/crossplane/crossplane/v2 ;;
    provider-helm) echo github.com/crossplane-contrib/provider-helm ;;
    provider-aws-crds) echo github.com/upbound/provider-aws/v2 ;;
    provider-helm-crds) echo github.com/crossplane-contrib/provider-helm ;;
    golangci-lint) echo github.com/golangci/golangci-lint/v2 ;;
    *) echo "unknown tool $1" >&2; return 1 ;;
  esac
}

# version TOOL prints the version its wrapper module pins.
version() {
  if [ "$1" = provider-aws-crds ]; then echo "$aws_version"; return; fi
  if [ "$1" = provider-helm-crds ]; then version provider-helm; return; fi
  local mod; mod=$(module "$1")
  awk -v m="$mod" '($1 == m && $2 ~ /^v/) {print $2; exit} ($1 == "require" && $2 == m) {print $3; exit}' \
    "$here/tools/$1/go.mod"
}

# recipe TOOL prints a suffix that changes when a tool's build recipe does, so
# that a cached build made the old way is not taken for the new one.
recipe() {
  case $1 in
    crossplane-core) echo "-r2" ;; # r2: version stamped, RBAC manager's metrics on loopback.
    *) echo "" ;;
  esac
}

dir() { echo "$cache/bin/$1-$(version "$1")$(recipe "$1")"; }

# build_into TOOL OUT: compiles TOOL's binaries into OUT.
build_into() {
  local tool=$1 out=$2
  if [ "$tool" = provider-aws-crds ]; then
    local src
    src=$(cd "$(mktemp -d)" && go mod download -json "$(module "$tool")@$aws_version" | sed -n 's/.*"Dir": "\(.*\)",/\1/p')
    for k in buckets bucketversionings bucketserversideencryptionconfigurations bucketpublicaccessblocks bucketlifecycleconfigurations; do
      cp "$src/package/crds/s3.aws.m.upbound.io_$k.yaml" "$out/"
    done
    return
  fi
  if [ "$tool" = provider-helm-crds ]; then
    # The Release CRD alone, for validating what the function composes.
    cd "$here/tools/provider-helm"
    cp "$(go list -m -f '{{.Dir}}' "$(module provider-helm)")/package/crds/"*.yaml "$out/"
    return
  fi
  cd "$here/tools/$tool"
  case $tool in
    kubernetes)
      local v; v=$(version kubernetes)
      local major=${v#v}; major=${major%%.*}
      local minor=${v#v*.}; minor=${minor%%.*}
      local ld="-s -w"
      for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
        ld+=" -X $p.gitVersion=$v -X $p.gitMajor=$major -X $p.gitMinor=$minor"
        ld+=" -X $p.gitTreeState=clean -X $p.buildDate=1970-01-01T00:00:00Z"
      done
      for c in kube-apiserver kube-controller-manager kube-scheduler kubectl; do
        go build -trimpath -ldflags "$ld" -o "$out/$c" "k8s.io/kubernetes/cmd/$c"
      done ;;
    etcd) go build -trimpath -ldflags "-s -w" -o "$out/etcd" go.etcd.io/etcd/server/v3 ;;
    kwok) go build -trimpath -ldflags "-s -w" -o "$out/kwok" sigs.k8s.io/kwok/cmd/kwok
      # kwok exits without stages; ship the ones its module carries beside the binary.
      local src; src=$(go list -m -f '{{.Dir}}' sigs.k8s.io/kwok)
      local f
      for f in node/fast/node-initialize node/heartbeat-with-lease/node-heartbeat-with-lease \
        pod/fast/pod-ready pod/fast/pod-complete pod/fast/pod-delete; do
        echo "---"; cat "$src/kustomize/stage/$f.yaml"
      done > "$out/stages.yaml" ;;
    versitygw) go build -trimpath -ldflags "-s -w" -o "$out/versitygw" github.com/versity/versitygw/cmd/versitygw ;;
    minio) go build -trimpath -ldflags "-s -w" -o "$out/minio" github.com/minio/minio ;;
    golangci-lint) local v; v=$(version golangci-lint)
      # A fixed date stops golangci-lint reading its version from the wrapper module.
      go build -trimpath -ldflags "-s -w -X main.version=${v#v} -X main.date=1970-01-01T00:00:00Z" \
        -o "$out/golangci-lint" github.com/golangci/golangci-lint/v2/cmd/golangci-lint ;;
    crossplane-cli) go build -trimpath -ldflags "-s -w" -o "$out/crossplane" github.com/crossplane/cli/v2/cmd/crossplane ;;
    crossplane-core) local v; v=$(version crossplane-core)
      # Core refuses every package when it has no version ("incompatible
      # Crossplane version ()"), so stamp it as its release build does. The
      # RBAC manager (crossplane rbac start) has no metrics flag and would bind
      # :8080 on every interface, as provider-helm does; out of cluster both
      # run in one network namespace, so its default moves to a free loopback
      # port. core start sets its own metrics address and is not affected.
      go build -trimpath -ldflags "-s -w -X github.com/crossplane/crossplane-runtime/v2/pkg/version.version=$v \
        -X sigs.k8s.io/controller-runtime/pkg/metrics/server.DefaultBindAddress=127.0.0.1:0" \
        -o "$out/crossplane" github.com/crossplane/crossplane/v2/cmd/crossplane
      # Crossplane's own CRDs (XRD, Composition, Function...) validate package manifests.
      local src; src=$(go list -m -f '{{.Dir}}' github.com/crossplane/crossplane/v2)
      mkdir -p "$out/crds" && cp "$src/cluster/crds/"*.yaml "$out/crds/" ;;
    provider-helm) go build -trimpath -ldflags "-s -w" -o "$out/provider" github.com/crossplane-contrib/provider-helm/cmd/provider
      # The provider's CRDs travel with the binary: tests install and validate against them.
      local src; src=$(go list -m -f '{{.Dir}}' github.com/crossplane-contrib/provider-helm)
      mkdir -p "$out/crds" && cp "$src/package/crds/"*.yaml "$out/crds/" ;;
    *) echo "unknown tool $tool" >&2; return 1 ;;
  esac
}

build() {
  local tool=$1 final tmp
  final=$(dir "$tool")
  [ -f "$final/.done" ] && return 0
  echo "building $tool $(version "$tool") into $final" >&2
  local start=$SECONDS
  mkdir -p "$cache/bin"
  tmp=$(mktemp -d "$cache/bin/.$tool.XXXXXX")
  # Build in a scratch folder and move it in whole, so an interrupted build never
  # leaves a half-filled folder that later runs would take for a finished one.
  (build_into "$tool" "$tmp")
  touch "$tmp/.done"
  rm -rf "$final" && mv "$tmp" "$final"
  echo "built $tool in $((SECONDS - start)) s" >&2
}

if [ "${1:-}" = "--path" ]; then dir "$2"; exit 0; fi
tools=("$@"); [ ${#tools[@]} -gt 0 ] || tools=("${all_tools[@]}")
for t in "${tools[@]}"; do build "$t"; done

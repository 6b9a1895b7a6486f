#!/usr/bin/env bash
# Builds the three Crossplane packages without Docker:
#
#   cluster/package.sh OUTDIR [ARCH...]     ARCH: amd64 arm64 (default both)
#
#   OUTDIR/provider-qdrantops-ARCH.xpkg       provider, runtime image embedded
#   OUTDIR/function-compose-qdrant-ARCH.xpkg  function, runtime image embedded
#   OUTDIR/configuration-qdrantops.xpkg       XRD, Composition, dependsOn
#
# Environment: XPKG_REGISTRY (default ghcr.io/qdrantops), where the project's
# own packages are published, and VERSION (default v0.1.0), their tag. The
# runtime images are built in Go by cluster/image (reproducible: same inputs,
# same digest); `crossplane xpkg build` from cluster/build.sh wraps them.
set -euo pipefail

if [ $# -lt 1 ]; then
  echo "usage: $0 OUTDIR [ARCH...]" >&2
  exit 2
fi
root=$(cd "$(dirname "$0")/.." && pwd)
out=$1
shift
arches=("$@")
[ ${#arches[@]} -gt 0 ] || arches=(amd64 arm64)
registry=${XPKG_REGISTRY:-ghcr.io/qdrantops}
registry=${registry%/}
version=${VERSION:-v0.1.0}
# The registry the sources name; package.sh points them at $registry.
source_registry=ghcr.io/qdrantops

for a in "${arches[@]}"; do
  case $a in
    amd64 | arm64) ;;
    *) echo "package.sh: unsupported architecture $a (amd64, arm64)" >&2; exit 2 ;;
  esac
done

mkdir -p "$out"
out=$(cd "$out" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"$root/cluster/build.sh" crossplane-cli >&2
crossplane=$("$root/cluster/build.sh" --path crossplane-cli)/crossplane

# dns_label REF prints the name Crossplane's dependency resolution gives the
# package REF when it installs it (crossplane-runtime's xpkg.ToDNSLabel of the
# repository without its registry host): the Composition must name the
# Function by it.
dns_label() {
  local repo=${1#*/}
  repo=$(printf '%s' "${repo:0:63}" | tr '/.:' '---' | tr -cd 'a-z0-9-')
  repo=${repo##-}
  printf '%s\n' "${repo%%-}"
}

# stamp FILE: the project's own package paths point at $registry, and their
# dependsOn versions are the version being built.
stamp() {
  awk -v from="$source_registry/" -v to="$registry/" -v version="$version" '
    index($0, from) { sub(from, to); own = 1; print; next }
    own && $1 == "version:" { sub(/version:.*/, "version: " version); own = 0; print; next }
    { print }
  ' "$1"
}

cd "$root"
go build -o "$work/build-image" ./cluster/image/cmd/build-image

# image NAME PACKAGE BINARY ARCH builds a runtime image tarball.
image() {
  local name=$1 pkg=$2 binary=$3 arch=$4
  local digest
  digest=$("$work/build-image" -package "$pkg" -binary "$binary" -arch "$arch" \
    -ref "$registry/$name:$version" -o "$work/$name-$arch.tar")
  echo "package.sh: $name linux/$arch runtime image $digest" >&2
}

# xpkg ROOT EXAMPLES FILE [TARBALL] builds one package.
xpkg() {
  local root=$1 examples=$2 file=$3 tarball=${4:-}
  local args=(--package-root "$root" --examples-root "$examples" --package-file "$file")
  [ -z "$tarball" ] || args+=(--embed-runtime-image-tarball "$tarball")
  "$crossplane" xpkg build "${args[@]}" >&2
  echo "package.sh: $file" >&2
}

# Examples shipped in the packages: the provider's own kinds in the
# provider, every example in the Configuration (the product's install unit).
mkdir -p "$work/examples-provider" "$work/no-examples"
rmdir "$work/no-examples"
for f in examples/*.yaml; do
  if grep -q '^apiVersion: ops\.qdrantops\.io/' "$f"; then cp "$f" "$work/examples-provider/"; fi
done

for arch in "${arches[@]}"; do
  image provider-qdrantops ./provider-qdrantops/cmd/provider provider "$arch"
  xpkg package/provider "$work/examples-provider" "$out/provider-qdrantops-$arch.xpkg" "$work/provider-qdrantops-$arch.tar"
  image function-compose-qdrant ./functions/compose-qdrant function "$arch"
  xpkg package/function "$work/no-examples" "$out/function-compose-qdrant-$arch.xpkg" "$work/function-compose-qdrant-$arch.tar"
done

# The Configuration: the root crossplane.yaml and package/configuration/,
# staged together since the package root must hold the metadata.
mkdir -p "$work/configuration"
stamp crossplane.yaml >"$work/configuration/crossplane.yaml"
cp package/configuration/definition.yaml "$work/configuration/"
# The Composition names the Function as Crossplane names the one it installs
# for the dependency on $registry/function-compose-qdrant.
function_name=$(dns_label "$registry/function-compose-qdrant")
stamp package/configuration/composition.yaml |
  awk -v name="$function_name" '
    /^ *functionRef: *$/ { ref = 1; print; next }
    ref && $1 == "name:" { sub(/name:.*/, "name: " name); ref = 0 }
    { print }
  ' >"$work/configuration/composition.yaml"
xpkg "$work/configuration" examples "$out/configuration-qdrantops.xpkg"

#!/usr/bin/env bash
# The demo behind 'make demo': a local control plane and S3 server, a 3-node
# Qdrant emulator with sample data (or the real Qdrant at QDRANT_URL, with
# QDRANT_API_KEY and optionally QDRANT_PEERS), provider-qdrantops running
# against them, and the examples applied: the example Backup runs for real;
# with the emulator, its collections are then dropped and the example Restore
# brings them back.
# Everything is torn down at the end.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
export TESTBED=${TESTBED:-$root/_output/testbed}
bin=$root/_output/bin
base=${QDRANTOPS_PORT_BASE:-26400}

cleanup() {
  for p in ${pids:-}; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  "$here/testbed.sh" down >/dev/null 2>&1 || true
}
trap cleanup EXIT

"$here/testbed.sh" down >/dev/null 2>&1 || true
"$here/testbed.sh" up
# shellcheck disable=SC1091
source "$TESTBED/env"
mkdir -p "$bin"
go build -o "$bin/provider" ./provider-qdrantops/cmd/provider
go build -o "$bin/qdrant-emulator" ./cluster/qdrant-emulator

pids=""
restore=""
if [ -z "${QDRANT_URL:-}" ]; then
  # Only the emulator's collections are dropped and restored; a real Qdrant
  # is backed up and left as it is.
  restore="--restore"
  export QDRANT_API_KEY=${QDRANT_API_KEY:-demo-api-key}
  "$bin/qdrant-emulator" --nodes 3 --sample-data --api-key "$QDRANT_API_KEY" \
    --ports "$((base + 20)),$((base + 21)),$((base + 22))" --dir "$TESTBED/qdrant" \
    --urls-file "$TESTBED/qdrant-urls" >"$TESTBED/qdrant-emulator.log" 2>&1 &
  pids="$pids $!"
  for _ in $(seq 1 100); do [ -s "$TESTBED/qdrant-urls" ] && break; sleep 0.1; done
  export QDRANT_URL=$(head -n1 "$TESTBED/qdrant-urls")
  export QDRANT_PEERS=$(paste -sd, "$TESTBED/qdrant-urls")
  echo "demo: Qdrant emulator with 3 nodes and sample collections at $QDRANT_PEERS"
else
  echo "demo: using the Qdrant at $QDRANT_URL"
fi

"$bin/provider" --poll 5s --shard-retry-delay 1s \
  --metrics-bind-address "127.0.0.1:$((base + 30))" --health-probe-bind-address "127.0.0.1:$((base + 31))" \
  >"$TESTBED/provider.log" 2>&1 &
pids="$pids $!"
echo "demo: provider-qdrantops running (log: $TESTBED/provider.log, metrics: http://127.0.0.1:$((base + 30))/metrics)"

go run ./cluster/demo ${restore:+"$restore"}

echo
kubectl() { "$(cluster/build.sh --path kubernetes)/kubectl" --cache-dir "$TESTBED/kube-cache" "$@"; }
echo "== kubectl get qdrant -A (the category every qdrantops kind is in)"
kubectl get qdrant -A
echo
echo "== backup and restore metrics"
curl -s "http://127.0.0.1:$((base + 30))/metrics" | grep -E '^qdrantops_(backup|restore)' | grep -v '_bucket{' || true

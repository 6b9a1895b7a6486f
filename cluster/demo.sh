#!/usr/bin/env bash
# The demo behind 'make demo': the story the end-to-end test (e2e/) proves,
# told with short progress lines. On the local test ground, real Crossplane
# core installs qdrantops's packages from a loopback registry, composes a
# QdrantCluster through the function, provider-helm installs the chart, kwok
# runs its pods and a Qdrant emulator stands in for them; the schedule's
# Backup and the example Backup run for real, a Restore into a second
# cluster verifies its counts, and deleting the clusters removes what they
# composed. cluster/demo runs itself again in private network and mount
# namespaces (unshare -n -m; root is needed), so nothing binds the host's
# interfaces and everything is torn down at the end. Logs of every process
# are in _output/demo/logs/.
#
#   cluster/demo.sh [--keep 10m]   keep everything running at the end for a look
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
cd "$root"
mkdir -p _output/bin
go build -o _output/bin/demo ./cluster/demo
exec _output/bin/demo "$@"

# qdrantops: the two set-up commands are `make demo` and `make test`.
SHELL := /usr/bin/env bash
.SHELLFLAGS := -euo pipefail -c

GO        ?= go
BUILD     := cluster/build.sh
TESTBED_SH := cluster/testbed.sh
export QDRANTOPS_CACHE ?= $(HOME)/.cache/qdrantops
export TESTBED ?= $(CURDIR)/_output/testbed
# Where the project publishes its own Crossplane packages, and their version:
# $(XPKG_REGISTRY)/provider-qdrantops, function-compose-qdrant and
# configuration-qdrantops, tagged $(VERSION).
XPKG_REGISTRY ?= ghcr.io/qdrantops
VERSION ?= v0.1.0
# Qdrant's OpenAPI schema for the emulator's contract tests; read in place, never copied.
export QDRANT_OPENAPI ?= $(wildcard $(CURDIR)/../shared/qdrant/openapi-v1.19.0.json)

# Tools the tests need, built from their Go modules into $(QDRANTOPS_CACHE).
TEST_TOOLS := kubernetes etcd crossplane-core crossplane-cli kwok versitygw provider-helm provider-helm-crds provider-aws-crds
# Tools `make lint` needs, built the same way (cluster/tools/golangci-lint pins the version).
LINT_TOOLS := golangci-lint

.PHONY: all generate build lint test test-unit test-integration tools demo bench package clean

all: build

## generate: regenerate deepcopy, method sets, CRDs and the XRD from apis/, and the function input CRD.
generate:
	$(GO) generate -tags generate ./apis/... ./functions/compose-qdrant/input/...

## build: compile everything.
build:
	$(GO) build ./...

## lint: vet, formatting, then golangci-lint with .golangci.yml.
lint:
	$(GO) vet ./...
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(BUILD) $(LINT_TOOLS)
	$$($(BUILD) --path golangci-lint)/golangci-lint run ./...

## tools: build the test ground's binaries and the linter (cached by name and version).
tools:
	$(BUILD) $(TEST_TOOLS) $(LINT_TOOLS)

# Test binaries run at once. Most integration tests wait on apiservers,
# controllers and ticks rather than compute: with go's default (one per core)
# two cores sit half idle while the end-to-end test waits.
TEST_PARALLEL ?= 3

## test: unit and integration tests against a real kube-apiserver, etcd and S3 server.
test: tools
	KUBEBUILDER_ASSETS=$$($(TESTBED_SH) assets) \
	CROSSPLANE_CRDS=$$($(BUILD) --path crossplane-core)/crds \
	QDRANTOPS_TESTBED_TEST=1 QDRANTOPS_E2E=1 CI=1 \
	$(GO) test -race -count=1 -p $(TEST_PARALLEL) -timeout 30m ./...

## test-unit: the tests that need no test ground binaries (the integration TestMains skip under -short).
test-unit:
	env -u KUBEBUILDER_ASSETS -u CROSSPLANE_CRDS -u QDRANTOPS_TESTBED_TEST -u QDRANTOPS_E2E -u CI \
	$(GO) test -race -count=1 -short -timeout 20m ./...

## test-integration: the packages whose tests start a kube-apiserver, etcd, an S3 server or the test ground; a missing binary fails.
test-integration: tools
	pkgs=$$($(GO) list -f '{{.ImportPath}} {{join .TestImports " "}} {{join .XTestImports " "}}' ./... \
		| awk '/\/cluster\/(testenv|s3server)( |$$)/ { print $$1 }'); \
	KUBEBUILDER_ASSETS=$$($(TESTBED_SH) assets) \
	CROSSPLANE_CRDS=$$($(BUILD) --path crossplane-core)/crds \
	QDRANTOPS_TESTBED_TEST=1 QDRANTOPS_E2E=1 CI=1 \
	$(GO) test -race -count=1 -p $(TEST_PARALLEL) -timeout 30m ./cluster $$pkgs

## demo: the end-to-end story with real Crossplane core on the test ground (packages from a loopback registry, a QdrantCluster composed, backed up, restored, deleted), told in short progress lines; needs root (private namespaces).
demo: tools
	cluster/demo.sh

## bench: throughput and memory benchmarks against the real S3 server and the emulator, and the BackupSchedule controller's tick latency and reconcile cost against a real apiserver, written to bench-results.txt (one iteration each: they move GiBs; the throughput benchmark runs its alternating rounds inside).
bench: tools
	{ KUBEBUILDER_ASSETS=$$($(TESTBED_SH) assets) CROSSPLANE_CRDS=$$($(BUILD) --path crossplane-core)/crds \
	  CI=1 $(GO) test -count=1 -run '^$$' -bench . -benchtime 1x -timeout 30m \
		./provider-qdrantops/internal/backup/ ./provider-qdrantops/internal/restore/ ./provider-qdrantops/internal/qdrant/ \
		./provider-qdrantops/internal/controller/schedule/ && \
	  $(GO) test -count=1 -run '^$$' -bench . ./functions/compose-qdrant/; } 2>&1 | tee bench-results.txt

## package: the provider, function (linux/amd64 and arm64, runtime images built in Go, no Docker) and Configuration packages, into _output/packages.
package:
	XPKG_REGISTRY=$(XPKG_REGISTRY) VERSION=$(VERSION) cluster/package.sh _output/packages

clean:
	-$(TESTBED_SH) down
	rm -rf _output bin

//go:build generate

package apis

// Remove generated CRDs so that renamed or deleted types leave nothing behind.
//go:generate rm -rf ../package/provider/crds

// Deepcopy methods for every API type.
//go:generate go tool controller-gen object:headerFile=boilerplate.go.txt paths=./...

// CRDs of the provider's managed resources and configuration types.
//go:generate go tool controller-gen crd:crdVersions=v1 paths=./ops/... output:crd:artifacts:config=../package/provider/crds

// crossplane-runtime method sets (resource.Managed, ProviderConfig, usages).
//go:generate go tool angryjet generate-methodsets --header-file=boilerplate.go.txt ./...

// The QdrantCluster XRD, its schema taken from the Go types.
//go:generate go run ./xrdgen -header boilerplate.go.txt -out ../package/configuration/definition.yaml

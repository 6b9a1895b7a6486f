//go:build generate

package v1alpha1

// Remove the generated CRD so that a renamed type leaves nothing behind.
//go:generate rm -rf ../../../../package/function/input

// The input's CRD, shipped in the function package.
//go:generate go tool controller-gen crd:crdVersions=v1 paths=./... output:crd:artifacts:config=../../../../package/function/input

package main

import (
	"encoding/json"

	"github.com/crossplane/function-sdk-go/errors"
	fnv1 "github.com/crossplane/function-sdk-go/proto/v1"

	inputv1alpha1 "github.com/qdrantops/qdrantops/functions/compose-qdrant/input/v1alpha1"
)

// Chart says which qdrant chart to install.
type Chart = inputv1alpha1.Chart

// ProviderConfigRef names the provider-helm config that installs the chart.
type ProviderConfigRef = inputv1alpha1.ProviderConfigRef

// Kinds of provider-helm config a Release may name.
const (
	kindProviderConfig        = "ProviderConfig"
	kindClusterProviderConfig = "ClusterProviderConfig"
)

// defaultProviderConfig is the namespaced provider-helm ProviderConfig of the
// XR's namespace, which the platform admin creates per tenant namespace with
// rights in that namespace only. Without a reference provider-helm would use
// the ClusterProviderConfig "default", whose identity usually has
// cluster-wide rights, and act with them on Helm release records (Secrets)
// the tenant can forge in its own namespace.
var defaultProviderConfig = ProviderConfigRef{Kind: kindProviderConfig, Name: "default"}

// config is what the function input decides, with defaults filled in.
type config struct {
	chart          Chart
	providerConfig ProviderConfigRef
}

// readInput reads the input (package input/v1alpha1), falling back to the
// official chart and the namespaced ProviderConfig "default" for every field
// it leaves out.
func readInput(req *fnv1.RunFunctionRequest) (config, error) {
	c := config{
		chart:          Chart{Name: chartName, Repository: chartRepository, Version: chartVersion},
		providerConfig: defaultProviderConfig,
	}
	in := req.GetInput()
	if in == nil {
		return c, nil
	}
	var v inputv1alpha1.Input
	b, err := in.MarshalJSON()
	if err != nil {
		return c, errors.Wrap(err, "cannot read the function input")
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return c, errors.Wrap(err, "cannot decode the function input")
	}
	if v.Chart.Name != "" {
		c.chart.Name = v.Chart.Name
	}
	if v.Chart.Repository != "" {
		c.chart.Repository = v.Chart.Repository
	}
	if v.Chart.Version != "" {
		c.chart.Version = v.Chart.Version
	}
	if r := v.Release.ProviderConfigRef; r != nil {
		// The input's CRD checks these, but crossplane render and a
		// Composition applied without the CRD installed do not.
		switch r.Kind {
		case "":
			r.Kind = kindProviderConfig
		case kindProviderConfig, kindClusterProviderConfig:
		default:
			return c, errors.Errorf("release.providerConfigRef.kind must be %s or %s, not %q", kindProviderConfig, kindClusterProviderConfig, r.Kind)
		}
		if r.Name == "" {
			return c, errors.New("release.providerConfigRef.name must not be empty")
		}
		c.providerConfig = *r
	}
	return c, nil
}

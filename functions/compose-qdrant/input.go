package main

import (
	"encoding/json"

	"github.com/crossplane/function-sdk-go/errors"
	fnv1 "github.com/crossplane/function-sdk-go/proto/v1"

	inputv1alpha1 "github.com/qdrantops/qdrantops/functions/compose-qdrant/input/v1alpha1"
)

// Chart says which qdrant chart to install.
type Chart = inputv1alpha1.Chart

// chart reads the input (package input/v1alpha1), falling back to the
// official chart for every field it leaves out.
func chart(req *fnv1.RunFunctionRequest) (Chart, error) {
	c := Chart{Name: chartName, Repository: chartRepository, Version: chartVersion}
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
		c.Name = v.Chart.Name
	}
	if v.Chart.Repository != "" {
		c.Repository = v.Chart.Repository
	}
	if v.Chart.Version != "" {
		c.Version = v.Chart.Version
	}
	return c, nil
}

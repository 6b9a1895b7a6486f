package main

import (
	"encoding/json"

	"github.com/crossplane/function-sdk-go/errors"
	fnv1 "github.com/crossplane/function-sdk-go/proto/v1"
)

// Input is the function's optional input in a Composition step. It earns its
// place for one reason: where the chart comes from. Air-gapped platforms
// mirror the qdrant chart, and tests serve a small chart of their own.
//
//	input:
//	  apiVersion: compose.qdrantops.io/v1alpha1
//	  kind: Input
//	  chart: {repository: https://charts.example.org, version: 1.15.0}
type Input struct {
	Chart Chart `json:"chart,omitempty"`
}

// Chart says which qdrant chart to install.
type Chart struct {
	Name       string `json:"name,omitempty"`
	Repository string `json:"repository,omitempty"`
	Version    string `json:"version,omitempty"`
}

// chart reads the input, falling back to the official chart.
func chart(req *fnv1.RunFunctionRequest) (Chart, error) {
	c := Chart{Name: chartName, Repository: chartRepository, Version: chartVersion}
	in := req.GetInput()
	if in == nil {
		return c, nil
	}
	var v Input
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

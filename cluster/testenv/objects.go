package testenv

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"

	extv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// ReadObjects reads every object of a YAML file or of the YAML files of a
// folder, in file name order.
func ReadObjects(path string) ([]*unstructured.Unstructured, error) {
	files := []string{path}
	if fi, err := os.Stat(path); err != nil { //nolint:gosec // Test fixtures named by the test.
		return nil, fmt.Errorf("cannot read %s: %w", path, err)
	} else if fi.IsDir() {
		var err error
		if files, err = filepath.Glob(filepath.Join(path, "*.yaml")); err != nil {
			return nil, fmt.Errorf("cannot list %s: %w", path, err)
		}
		sort.Strings(files)
	}
	var objs []*unstructured.Unstructured
	for _, f := range files {
		b, err := os.ReadFile(f) //nolint:gosec // Test fixtures named by the test.
		if err != nil {
			return nil, fmt.Errorf("cannot read %s: %w", f, err)
		}
		d := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(b), 4096)
		for {
			var raw json.RawMessage
			err := d.Decode(&raw)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return nil, fmt.Errorf("cannot decode %s: %w", f, err)
			}
			if len(raw) == 0 || string(raw) == "null" {
				continue
			}
			// Unstructured's own decoder keeps integers as int64, as the
			// apiserver's responses do.
			u := &unstructured.Unstructured{}
			if err := u.UnmarshalJSON(raw); err != nil {
				return nil, fmt.Errorf("cannot decode %s: %w", f, err)
			}
			objs = append(objs, u)
		}
	}
	return objs, nil
}

// ReadCRDs reads the CRDs of a file or folder.
func ReadCRDs(path string) ([]*extv1.CustomResourceDefinition, error) {
	objs, err := ReadObjects(path)
	if err != nil {
		return nil, err
	}
	crds := make([]*extv1.CustomResourceDefinition, 0, len(objs))
	for _, o := range objs {
		if o.GetKind() != "CustomResourceDefinition" {
			continue
		}
		b, err := o.MarshalJSON()
		if err != nil {
			return nil, fmt.Errorf("cannot encode %s: %w", o.GetName(), err)
		}
		crd := &extv1.CustomResourceDefinition{}
		if err := yaml.Unmarshal(b, crd); err != nil {
			return nil, fmt.Errorf("cannot decode CRD %s: %w", o.GetName(), err)
		}
		crds = append(crds, crd)
	}
	if len(crds) == 0 {
		return nil, fmt.Errorf("no CRDs in %s", path)
	}
	return crds, nil
}

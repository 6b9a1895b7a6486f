package stack

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Kinds of Crossplane's package manager.
var (
	ConfigurationKind      = schema.GroupVersionKind{Group: "pkg.crossplane.io", Version: "v1", Kind: "Configuration"}
	ProviderKind           = schema.GroupVersionKind{Group: "pkg.crossplane.io", Version: "v1", Kind: "Provider"}
	FunctionKind           = schema.GroupVersionKind{Group: "pkg.crossplane.io", Version: "v1", Kind: "Function"}
	ProviderRevisionKind   = schema.GroupVersionKind{Group: "pkg.crossplane.io", Version: "v1", Kind: "ProviderRevision"}
	FunctionRevisionKind   = schema.GroupVersionKind{Group: "pkg.crossplane.io", Version: "v1", Kind: "FunctionRevision"}
	ImageConfigKind        = schema.GroupVersionKind{Group: "pkg.crossplane.io", Version: "v1beta1", Kind: "ImageConfig"}
	MRDKind                = schema.GroupVersionKind{Group: "apiextensions.crossplane.io", Version: "v1alpha1", Kind: "ManagedResourceDefinition"}
	XRDKind                = schema.GroupVersionKind{Group: "apiextensions.crossplane.io", Version: "v2", Kind: "CompositeResourceDefinition"}
	CRDKind                = schema.GroupVersionKind{Group: "apiextensions.k8s.io", Version: "v1", Kind: "CustomResourceDefinition"}
	CompositionKind        = schema.GroupVersionKind{Group: "apiextensions.crossplane.io", Version: "v1", Kind: "Composition"}
	QdrantClusterKind      = schema.GroupVersionKind{Group: "qdrantops.io", Version: "v1alpha1", Kind: "QdrantCluster"}
	ReleaseKind            = schema.GroupVersionKind{Group: "helm.m.crossplane.io", Version: "v1beta1", Kind: "Release"}
	configurationPackageID = ConfigurationPath + ":" + Version
)

// Package names Crossplane gives the dependencies it installs: the DNS label
// of the repository path, as its dependency resolver names them.
var (
	ProviderName = dnsLabel("qdrantops/provider-qdrantops")
	FunctionName = dnsLabel("qdrantops/function-compose-qdrant")
	HelmName     = dnsLabel("crossplane-contrib/provider-helm")
)

// Install points the packages' real paths at the loopback registry with
// ImageConfigs and applies the Configuration, as a user would with
// crossplane xpkg install; then plays the External package runtime for the
// revisions Crossplane creates (Run*), and waits for every package to be
// installed and healthy, the XRD and the packages' CRDs established, and the
// MRDs active.
func (s *Stack) Install(ctx context.Context) error {
	for _, prefix := range mirrored {
		ic := &unstructured.Unstructured{}
		ic.SetGroupVersionKind(ImageConfigKind)
		ic.SetName("mirror-" + dnsLabel(prefix))
		ic.Object["spec"] = map[string]any{
			"matchImages":  []any{map[string]any{"type": "Prefix", "prefix": prefix}},
			"rewriteImage": map[string]any{"prefix": s.registry + "/" + prefix},
		}
		if err := s.apply(ctx, ic); err != nil {
			return fmt.Errorf("cannot apply ImageConfig %s: %w", ic.GetName(), err)
		}
	}
	cfg := &unstructured.Unstructured{}
	cfg.SetGroupVersionKind(ConfigurationKind)
	cfg.SetName("configuration-qdrantops")
	cfg.Object["spec"] = map[string]any{"package": configurationPackageID}
	if err := s.apply(ctx, cfg); err != nil {
		return fmt.Errorf("cannot apply the Configuration: %w", err)
	}
	s.progress("Configuration %s applied; Crossplane resolves its dependencies", configurationPackageID)

	start := time.Now()
	var last string
	err := poll(ctx, 4*time.Minute, time.Second, func(ctx context.Context) (bool, error) {
		if err := s.runRevisions(ctx); err != nil {
			return false, err
		}
		done, report, err := s.installed(ctx)
		if err != nil {
			return false, err
		}
		last = report
		return done, nil
	}, func() string { return "packages:\n" + last })
	if err != nil {
		return fmt.Errorf("the Configuration was not installed: %w", err)
	}
	s.progress("Configuration installed in %s: %s", time.Since(start).Round(time.Second), last)
	return s.established(ctx)
}

// FunctionRefs checks that every Composition the Configuration installed
// calls a Function Crossplane installed: a dependency is installed under the
// DNS label of its repository path, so a Composition that names the function
// otherwise never composes anything.
func (s *Stack) FunctionRefs(ctx context.Context) error {
	fns := &unstructured.UnstructuredList{}
	fns.SetGroupVersionKind(FunctionKind)
	if err := s.Kube.List(ctx, fns); err != nil {
		return err
	}
	installed := map[string]bool{}
	for _, f := range fns.Items {
		installed[f.GetName()] = true
	}
	comps := &unstructured.UnstructuredList{}
	comps.SetGroupVersionKind(CompositionKind)
	if err := s.Kube.List(ctx, comps); err != nil {
		return err
	}
	var bad []string
	for _, c := range comps.Items {
		steps, _, _ := unstructured.NestedSlice(c.Object, "spec", "pipeline")
		for _, st := range steps {
			m, _ := st.(map[string]any)
			ref, _, _ := unstructured.NestedString(m, "functionRef", "name")
			if !installed[ref] {
				bad = append(bad, fmt.Sprintf("Composition %s calls Function %q, which is not installed", c.GetName(), ref))
			}
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("%s; Crossplane installed the function as %q (the DNS label of its package's repository path): functionRef.name must say so", strings.Join(bad, "; "), FunctionName)
	}
	return nil
}

// installed reports each package's Installed and Healthy conditions. The
// packages whose runtime the stack plays must be Healthy; provider-upjet-aws's
// are not run here (nothing reconciles S3 buckets on the test ground), so
// only their revisions must be healthy.
func (s *Stack) installed(ctx context.Context) (bool, string, error) {
	var b strings.Builder
	done, n, healthyN := true, 0, 0
	for _, k := range []schema.GroupVersionKind{ConfigurationKind, ProviderKind, FunctionKind} {
		l := &unstructured.UnstructuredList{}
		l.SetGroupVersionKind(k)
		if err := s.Kube.List(ctx, l); err != nil {
			return false, "", err
		}
		for _, p := range l.Items {
			n++
			inst, healthy := condition(&p, "Installed"), condition(&p, "Healthy")
			ok := inst.Status == "True" && healthy.Status == "True"
			note := ""
			if !s.runsRuntime(k, p.GetName()) && k != ConfigurationKind {
				rev, err := s.currentRevision(ctx, k, p.GetName())
				if err != nil {
					return false, "", err
				}
				rh := condition(rev, "RevisionHealthy")
				ok = inst.Status == "True" && rh.Status == "True"
				note = fmt.Sprintf(" (revision healthy %s; not run on the test ground)", rh.Status)
			}
			if !ok {
				done = false
			}
			if ok {
				healthyN++
			}
			if !ok || note != "" {
				fmt.Fprintf(&b, "%s %s: installed %s, healthy %s%s %s\n", k.Kind, p.GetName(), inst.Status, healthy.Status, note, firstMessage(&p))
			}
		}
	}
	// The Configuration and its four dependencies (the family provider comes
	// with provider-aws-s3).
	if n < 6 {
		done = false
	}
	if done {
		return true, fmt.Sprintf("%d packages Healthy; provider-aws-s3 and provider-family-aws installed, not run (nothing reconciles buckets here)", healthyN-2), nil
	}
	return false, b.String(), nil
}

func (s *Stack) runsRuntime(k schema.GroupVersionKind, name string) bool {
	switch k {
	case FunctionKind:
		return name == FunctionName
	case ProviderKind:
		return name == ProviderName || name == HelmName
	}
	return false
}

func (s *Stack) currentRevision(ctx context.Context, k schema.GroupVersionKind, pkg string) (*unstructured.Unstructured, error) {
	l := &unstructured.UnstructuredList{}
	l.SetGroupVersionKind(k.GroupVersion().WithKind(k.Kind + "RevisionList"))
	if err := s.Kube.List(ctx, l, client.MatchingLabels{"pkg.crossplane.io/package": pkg}); err != nil {
		return nil, err
	}
	for i := range l.Items {
		if st, _, _ := unstructured.NestedString(l.Items[i].Object, "spec", "desiredState"); st == "Active" {
			return &l.Items[i], nil
		}
	}
	return &unstructured.Unstructured{Object: map[string]any{}}, nil
}

// established waits for the XRD and every CRD to be established and every
// MRD to be active.
func (s *Stack) established(ctx context.Context) error {
	var last string
	err := poll(ctx, time.Minute, time.Second, func(ctx context.Context) (bool, error) {
		var pending []string
		crds, mrds := 0, 0
		for _, c := range []struct {
			kind      schema.GroupVersionKind
			cond, grp string
		}{
			{XRDKind, "Established", "qdrantops.io"},
			{CRDKind, "Established", ""},
			{MRDKind, "Established", ""},
		} {
			l := &unstructured.UnstructuredList{}
			l.SetGroupVersionKind(c.kind)
			if err := s.Kube.List(ctx, l); err != nil {
				return false, err
			}
			for _, o := range l.Items {
				switch c.kind {
				case CRDKind:
					crds++
				case MRDKind:
					mrds++
					if st, _, _ := unstructured.NestedString(o.Object, "spec", "state"); st != "Active" {
						pending = append(pending, "MRD "+o.GetName()+" is "+st)
					}
				}
				if condition(&o, c.cond).Status != "True" {
					pending = append(pending, c.kind.Kind+" "+o.GetName()+" not "+c.cond)
				}
			}
		}
		sort.Strings(pending)
		last = strings.Join(pending, "\n")
		if len(pending) == 0 {
			s.progress("XRD established; %d CRDs established; %d MRDs active", crds, mrds)
		}
		return len(pending) == 0 && mrds > 0, nil
	}, func() string { return last })
	if err != nil {
		return fmt.Errorf("definitions not ready: %w", err)
	}
	return nil
}

// dnsLabel is how Crossplane names a package it installs as a dependency:
// the package's repository path with every character that is not a lower
// case letter or digit turned into a dash.
func dnsLabel(path string) string {
	b := []byte(strings.ToLower(path))
	for i, c := range b {
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') {
			b[i] = '-'
		}
	}
	return strings.Trim(string(b), "-")
}

// apply server-side applies an object as the stack's field manager.
func (s *Stack) apply(ctx context.Context, o *unstructured.Unstructured) error {
	o.SetManagedFields(nil)
	o.SetResourceVersion("")
	return s.Kube.Patch(ctx, o, client.Apply, client.FieldOwner("qdrantops-stack"), client.ForceOwnership) //nolint:staticcheck // Server-side apply of unstructured objects.
}

// Condition is a status condition of an object.
type Condition struct {
	Type, Status, Reason, Message string
}

func condition(o *unstructured.Unstructured, t string) Condition {
	cs, _, _ := unstructured.NestedSlice(o.Object, "status", "conditions")
	for _, c := range cs {
		m, _ := c.(map[string]any)
		if m["type"] == t {
			str := func(k string) string { v, _ := m[k].(string); return v }
			return Condition{Type: t, Status: str("status"), Reason: str("reason"), Message: str("message")}
		}
	}
	return Condition{Type: t, Status: "Unknown"}
}

// Conditions prints an object's conditions, one a line, for failure
// messages.
func Conditions(o *unstructured.Unstructured) string {
	cs, _, _ := unstructured.NestedSlice(o.Object, "status", "conditions")
	var b strings.Builder
	for _, c := range cs {
		m, _ := c.(map[string]any)
		fmt.Fprintf(&b, "  %v=%v %v: %v\n", m["type"], m["status"], m["reason"], m["message"])
	}
	if b.Len() == 0 {
		return "  (no conditions)\n"
	}
	return b.String()
}

func firstMessage(o *unstructured.Unstructured) string {
	cs, _, _ := unstructured.NestedSlice(o.Object, "status", "conditions")
	for _, c := range cs {
		m, _ := c.(map[string]any)
		if m["status"] != "True" && m["message"] != nil {
			return fmt.Sprint(m["message"])
		}
	}
	return ""
}

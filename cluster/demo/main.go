// Command demo installs qdrantops's CRDs and XRD into the local test ground
// (cluster/testbed.sh up) and applies every example a user would, showing that
// the real apiserver accepts them. make demo runs it.
package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"text/tabwriter"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/qdrantops/qdrantops/cluster/testenv"
)

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	cfg, err := clientcmd.BuildConfigFromFlags("", os.Getenv("KUBECONFIG"))
	if err != nil {
		return fmt.Errorf("cannot load kubeconfig (is the test ground up?): %w", err)
	}
	root, err := testenv.RepoRoot()
	if err != nil {
		return err
	}
	crds, err := testenv.CRDs(root)
	if err != nil {
		return err
	}
	if _, err := envtest.InstallCRDs(cfg, envtest.CRDInstallOptions{CRDs: crds}); err != nil {
		return fmt.Errorf("cannot install CRDs: %w", err)
	}
	fmt.Printf("installed %d CRDs (provider-qdrantops, Crossplane core, QdrantCluster XR)\n\n", len(crds))

	c, err := client.New(cfg, client.Options{})
	if err != nil {
		return fmt.Errorf("cannot create client: %w", err)
	}
	var objs []*unstructured.Unstructured
	for _, p := range []string{filepath.Join(root, "package", "configuration"), filepath.Join(root, "examples")} {
		o, err := testenv.ReadObjects(p)
		if err != nil {
			return err
		}
		objs = append(objs, o...)
	}
	sort.SliceStable(objs, func(i, j int) bool {
		return objs[i].GetKind() == "Namespace" && objs[j].GetKind() != "Namespace"
	})
	w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "KIND\tNAMESPACE\tNAME\tRESULT")
	for _, o := range objs {
		err := c.Patch(ctx, o, client.Apply, client.FieldOwner("qdrantops-demo"), client.ForceOwnership) //nolint:staticcheck // Server-side apply of unstructured objects.
		result := "accepted"
		if err != nil {
			result = "REJECTED: " + err.Error()
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", o.GetKind(), o.GetNamespace(), o.GetName(), result)
		if err != nil {
			_ = w.Flush()
			return fmt.Errorf("%s %s was rejected", o.GetKind(), o.GetName())
		}
	}
	return w.Flush()
}

package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"text/tabwriter"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/qdrantops/qdrantops/apis"
	"github.com/qdrantops/qdrantops/apis/ops/v1alpha1"
	"github.com/qdrantops/qdrantops/cluster/testenv"
)

// demoCollections are the emulator's sample collections.
var demoCollections = []string{"products", "reviews"}

// restoreDemo drops the sample collections, as a mistake or a disaster
// would, applies the example Restore that reads the backup straight from S3,
// waits for it, and prints what it restored.
func restoreDemo(ctx context.Context, qdrantURL, apiKey string, wait time.Duration) error {
	cfg, err := clientcmd.BuildConfigFromFlags("", os.Getenv("KUBECONFIG"))
	if err != nil {
		return fmt.Errorf("cannot load kubeconfig: %w", err)
	}
	s := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(s)
	_ = apis.AddToScheme(s)
	c, err := client.New(cfg, client.Options{Scheme: s})
	if err != nil {
		return fmt.Errorf("cannot create client: %w", err)
	}
	fmt.Println("\n== dropping the sample collections from Qdrant")
	for _, col := range demoCollections {
		if err := drop(ctx, qdrantURL, apiKey, col); err != nil {
			return err
		}
		fmt.Printf("   DELETE /collections/%s\n", col)
	}
	root, err := testenv.RepoRoot()
	if err != nil {
		return err
	}
	objs, err := testenv.ReadObjects(filepath.Join(root, "examples", "restore-from-s3.yaml"))
	if err != nil {
		return err
	}
	for _, o := range objs {
		if err := c.Patch(ctx, o, client.Apply, client.FieldOwner("qdrantops-demo"), client.ForceOwnership); err != nil { //nolint:staticcheck // Server-side apply of unstructured objects.
			return fmt.Errorf("the example Restore was rejected: %w", err)
		}
		fmt.Printf("\n== applied examples/restore-from-s3.yaml: Restore %s/%s\n", o.GetNamespace(), o.GetName())
		if err := waitForRestore(ctx, c, types.NamespacedName{Namespace: o.GetNamespace(), Name: o.GetName()}, wait); err != nil {
			return err
		}
	}
	return nil
}

func drop(ctx context.Context, qdrantURL, apiKey, collection string) error {
	// The URL is the demo's own emulator, given by cluster/demo.sh.
	req, err := http.NewRequestWithContext(ctx, http.MethodDelete, qdrantURL+"/collections/"+collection, nil) //nolint:gosec // G704: the demo's own emulator, not user input.
	if err != nil {
		return err
	}
	req.Header.Set("api-key", apiKey)
	res, err := http.DefaultClient.Do(req) //nolint:gosec // G704: the demo's own emulator, not user input.
	if err != nil {
		return fmt.Errorf("cannot drop collection %s: %w", collection, err)
	}
	_ = res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("cannot drop collection %s: %s", collection, res.Status)
	}
	return nil
}

func waitForRestore(ctx context.Context, c client.Client, key types.NamespacedName, wait time.Duration) error {
	deadline := time.Now().Add(wait)
	last := ""
	for {
		r := &v1alpha1.Restore{}
		if err := c.Get(ctx, key, r); err != nil {
			return err
		}
		ready := r.GetCondition("Ready")
		line := fmt.Sprintf("phase=%s ready=%s %s", r.Status.AtProvider.Phase, ready.Status, ready.Message)
		if line != last {
			fmt.Println("  ", line)
			last = line
		}
		if ready.Status == corev1.ConditionTrue {
			return printRestored(r)
		}
		if r.Status.AtProvider.Phase == v1alpha1.RestoreFailed {
			return fmt.Errorf("the restore failed: %s", r.Status.AtProvider.Error)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the restore did not complete within %s", wait)
		}
		time.Sleep(time.Second)
	}
}

func printRestored(r *v1alpha1.Restore) error {
	fmt.Printf("\n== restored from %s (Qdrant %s into %s)\n", r.Status.AtProvider.S3Path, r.Status.AtProvider.SourceQdrantVersion, r.Status.AtProvider.TargetQdrantVersion)
	w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	_, _ = fmt.Fprintln(w, "COLLECTION\tSHARDS\tEXPECTED\tPOINTS\tSAMPLED\tUPLOADED SHARDS\tVERIFIED")
	for _, c := range r.Status.AtProvider.RestoredCollections {
		_, _ = fmt.Fprintf(w, "%s\t%d/%d\t%s\t%s\t%d\t%d\t%t\n", c.Name, c.ShardsRestored, c.ShardsTotal, num(c.ExpectedPoints), num(c.Points), c.SampledPoints, c.UploadedShards, c.Verified)
	}
	for _, warn := range r.Status.AtProvider.Warnings {
		_, _ = fmt.Fprintf(w, "warning: %s\n", warn)
	}
	return w.Flush()
}

func num(p *int64) string {
	if p == nil {
		return "-"
	}
	return fmt.Sprint(*p)
}

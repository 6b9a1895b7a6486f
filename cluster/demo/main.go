// Command demo drives 'make demo' on the local test ground (cluster/testbed.sh
// up): it installs qdrantops's CRDs and XRD, creates the bucket and the
// QdrantCluster's connection Secret, applies every example a user would but
// the Restores, waits for the example Backup to complete, and prints its
// status and objects. With --restore (the emulator's demo) it then drops the
// sample collections, applies the example Restore from S3, and prints the
// verified counts.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/qdrantops/qdrantops/apis"
	"github.com/qdrantops/qdrantops/apis/ops/v1alpha1"
	qdrantv1alpha1 "github.com/qdrantops/qdrantops/apis/qdrantops/v1alpha1"
	"github.com/qdrantops/qdrantops/cluster/testenv"
)

func main() {
	qdrantURL := flag.String("qdrant-url", os.Getenv("QDRANT_URL"), "REST URL of the Qdrant to back up")
	peers := flag.String("qdrant-peers", os.Getenv("QDRANT_PEERS"), "comma-separated REST URLs of its nodes")
	apiKey := flag.String("qdrant-api-key", os.Getenv("QDRANT_API_KEY"), "its API key")
	wait := flag.Duration("wait", 3*time.Minute, "how long to wait for the backup, and for the restore")
	restoreToo := flag.Bool("restore", false, "after the backup, drop the sample collections and restore them (never for a real Qdrant: it deletes data)")
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), 2*(*wait)+time.Minute)
	err := run(ctx, *qdrantURL, *peers, *apiKey, *wait)
	if err == nil && *restoreToo {
		err = restoreDemo(ctx, *qdrantURL, *apiKey, *wait)
	}
	// Cancelled before os.Exit, which would skip a deferred cancel.
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, qdrantURL, peers, apiKey string, wait time.Duration) error {
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
	fmt.Printf("== installed %d CRDs (provider-qdrantops, Crossplane core, QdrantCluster XR)\n", len(crds))
	s := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(s)
	_ = apis.AddToScheme(s)
	c, err := client.New(cfg, client.Options{Scheme: s})
	if err != nil {
		return fmt.Errorf("cannot create client: %w", err)
	}
	if err := bucket(ctx, "qdrant-backups"); err != nil {
		return err
	}
	fmt.Println("== created bucket qdrant-backups on the local S3 server")

	var objs []*unstructured.Unstructured
	for _, p := range []string{filepath.Join(root, "package", "configuration"), filepath.Join(root, "examples")} {
		o, err := testenv.ReadObjects(p)
		if err != nil {
			return err
		}
		objs = append(objs, o...)
	}
	// A Restore runs once its source is there: the demo applies one after
	// its Backup completed.
	objs = slices.DeleteFunc(objs, func(o *unstructured.Unstructured) bool { return o.GetKind() == "Restore" })
	sort.SliceStable(objs, func(i, j int) bool { return objs[i].GetKind() == "Namespace" && objs[j].GetKind() != "Namespace" })
	w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	// A tabwriter buffers; a write error surfaces at Flush.
	_, _ = fmt.Fprintln(w, "KIND\tNAMESPACE\tNAME\tRESULT")
	for i, o := range objs {
		err := c.Patch(ctx, o, client.Apply, client.FieldOwner("qdrantops-demo"), client.ForceOwnership) //nolint:staticcheck // Server-side apply of unstructured objects.
		result := "accepted"
		if err != nil {
			result = "REJECTED: " + err.Error()
		}
		_, _ = fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", o.GetKind(), o.GetNamespace(), o.GetName(), result)
		if err != nil {
			_ = w.Flush()
			return fmt.Errorf("%s %s was rejected", o.GetKind(), o.GetName())
		}
		if o.GetKind() == "Namespace" && (i+1 == len(objs) || objs[i+1].GetKind() != "Namespace") {
			// What the composition function writes for QdrantCluster "search".
			if err := connectionSecret(ctx, c, qdrantURL, peers, apiKey); err != nil {
				return err
			}
		}
	}
	_ = w.Flush()
	return waitForBackup(ctx, c, wait)
}

func connectionSecret(ctx context.Context, c client.Client, url, peers, apiKey string) error {
	sec := &corev1.Secret{}
	sec.SetName(qdrantv1alpha1.ConnectionSecretName("search"))
	sec.SetNamespace("team-a")
	_, err := createOrUpdate(ctx, c, sec, func() {
		sec.StringData = map[string]string{
			qdrantv1alpha1.ConnectionKeyEndpoint: url,
			qdrantv1alpha1.ConnectionKeyPeerURLs: strings.ReplaceAll(peers, ",", "\n"),
			qdrantv1alpha1.ConnectionKeyAPIKey:   apiKey,
		}
	})
	if err != nil {
		return fmt.Errorf("cannot write the connection Secret: %w", err)
	}
	fmt.Printf("== connection Secret team-a/%s points at %s\n\n", sec.Name, url)
	return nil
}

func createOrUpdate(ctx context.Context, c client.Client, o *corev1.Secret, mutate func()) (bool, error) {
	err := c.Get(ctx, types.NamespacedName{Namespace: o.Namespace, Name: o.Name}, o)
	mutate()
	if err != nil {
		return true, c.Create(ctx, o)
	}
	return false, c.Update(ctx, o)
}

func bucket(ctx context.Context, name string) error {
	cl := s3.New(s3.Options{
		BaseEndpoint: aws.String(os.Getenv("S3_ENDPOINT")), Region: os.Getenv("S3_REGION"), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(os.Getenv("S3_ACCESS_KEY"), os.Getenv("S3_SECRET_KEY"), ""),
	})
	if _, err := cl.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil && !strings.Contains(err.Error(), "BucketAlready") {
		return fmt.Errorf("cannot create bucket %s: %w", name, err)
	}
	return nil
}

func waitForBackup(ctx context.Context, c client.Client, wait time.Duration) error {
	fmt.Println("\n== waiting for Backup team-a/search-manual")
	deadline := time.Now().Add(wait)
	last := ""
	for {
		b := &v1alpha1.Backup{}
		if err := c.Get(ctx, types.NamespacedName{Namespace: "team-a", Name: "search-manual"}, b); err != nil {
			return err
		}
		ready := b.GetCondition("Ready")
		line := fmt.Sprintf("phase=%s ready=%s %s", b.Status.AtProvider.Phase, ready.Status, ready.Message)
		if line != last {
			fmt.Println("  ", line)
			last = line
		}
		if ready.Status == corev1.ConditionTrue {
			st, _ := json.MarshalIndent(b.Status.AtProvider, "", "  ")
			fmt.Printf("\n== status.atProvider\n%s\n", st)
			return listObjects(ctx, b.Status.AtProvider.S3Path)
		}
		if b.Status.AtProvider.Phase == v1alpha1.BackupFailed {
			return fmt.Errorf("the backup failed: %s", b.Status.AtProvider.Error)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the backup did not complete within %s", wait)
		}
		time.Sleep(time.Second)
	}
}

func listObjects(ctx context.Context, s3Path string) error {
	bkt, prefix, _ := strings.Cut(strings.TrimPrefix(s3Path, "s3://"), "/")
	cl := s3.New(s3.Options{
		BaseEndpoint: aws.String(os.Getenv("S3_ENDPOINT")), Region: os.Getenv("S3_REGION"), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(os.Getenv("S3_ACCESS_KEY"), os.Getenv("S3_SECRET_KEY"), ""),
	})
	out, err := cl.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(bkt), Prefix: aws.String(prefix)})
	if err != nil {
		return fmt.Errorf("cannot list %s: %w", s3Path, err)
	}
	fmt.Printf("\n== objects under %s\n", s3Path)
	w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	for _, o := range out.Contents {
		_, _ = fmt.Fprintf(w, "%d\t  %s\n", aws.ToInt64(o.Size), aws.ToString(o.Key))
	}
	return w.Flush()
}

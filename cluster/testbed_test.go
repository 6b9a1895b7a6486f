// Package cluster_test checks the local test ground: one command brings up a
// control plane that runs pods, and an S3 server, all on loopback only.
package cluster_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

func TestTestbedUpAndDown(t *testing.T) {
	if os.Getenv("QDRANTOPS_TESTBED_TEST") != "1" {
		t.Skip("starts the whole test ground; 'make test' sets QDRANTOPS_TESTBED_TEST=1")
	}
	state := t.TempDir()
	testbed := func(args ...string) (string, error) {
		// Not t.Context(): "down" runs in a Cleanup, after that context ends.
		cmd := exec.CommandContext(context.Background(), "./testbed.sh", args...)
		// A port range of its own, so a running 'make demo' does not collide.
		cmd.Env = append(os.Environ(), "TESTBED="+state, "QDRANTOPS_PORT_BASE=26500")
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	// Registered first: a failed start must not leave processes behind.
	t.Cleanup(func() {
		if out, err := testbed("down"); err != nil {
			t.Errorf("testbed.sh down: %v\n%s", err, out)
		}
	})
	if out, err := testbed("up"); err != nil {
		t.Fatalf("testbed.sh up: %v\n%s", err, out)
	}
	env := readEnv(t, filepath.Join(state, "env"))
	kubectl := filepath.Join(filepath.Dir(mustRealpath(t, filepath.Join(env["KUBEBUILDER_ASSETS"], "kubectl"))), "kubectl")
	k := func(args ...string) string {
		t.Helper()
		out, err := exec.CommandContext(t.Context(), kubectl, append([]string{"--kubeconfig", env["KUBECONFIG"]}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("kubectl %v: %v\n%s", args, err, out)
		}
		return string(out)
	}

	t.Run("PodsBecomeReady", func(t *testing.T) {
		// The chain a Helm release needs: controller-manager makes pods of a
		// StatefulSet, the scheduler binds them, kwok runs them.
		cmd := exec.CommandContext(t.Context(), kubectl, "--kubeconfig", env["KUBECONFIG"], "apply", "-f", "-")
		cmd.Stdin = strings.NewReader(statefulSet)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("cannot apply StatefulSet: %v\n%s", err, out)
		}
		deadline := time.Now().Add(90 * time.Second)
		for {
			ready := strings.Trim(k("get", "statefulset", "web", "-n", "default", "-o", "jsonpath={.status.readyReplicas}"), "'")
			if ready == "3" {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("StatefulSet web: want 3 ready replicas, got %q\n%s", ready, k("get", "pods", "-A", "-o", "wide"))
			}
			time.Sleep(time.Second)
		}
	})

	t.Run("S3RoundTrip", func(t *testing.T) {
		ctx := context.Background()
		c := s3.New(s3.Options{
			BaseEndpoint: aws.String(env["S3_ENDPOINT"]),
			Region:       env["S3_REGION"],
			UsePathStyle: true,
			Credentials:  credentials.NewStaticCredentialsProvider(env["S3_ACCESS_KEY"], env["S3_SECRET_KEY"], ""),
		})
		if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("testbed")}); err != nil {
			t.Fatalf("CreateBucket: %v", err)
		}
		body := []byte("shard bytes")
		if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("testbed"), Key: aws.String("a/b"), Body: bytes.NewReader(body)}); err != nil {
			t.Fatalf("PutObject: %v", err)
		}
		got, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("testbed"), Key: aws.String("a/b")})
		if err != nil {
			t.Fatalf("GetObject: %v", err)
		}
		defer got.Body.Close() //nolint:errcheck // Read-only body.
		var b bytes.Buffer
		if _, err := b.ReadFrom(got.Body); err != nil || !bytes.Equal(b.Bytes(), body) {
			t.Fatalf("GetObject: want %q, got %q (%v)", body, b.Bytes(), err)
		}
	})

	t.Run("ListensOnLoopbackOnly", func(t *testing.T) {
		pids := map[string]bool{}
		files, _ := filepath.Glob(filepath.Join(state, "*.pid"))
		for _, f := range files {
			b, err := os.ReadFile(f) //nolint:gosec // The test's own state folder.
			if err != nil {
				t.Fatal(err)
			}
			pids[strings.TrimSpace(string(b))] = true
		}
		if len(pids) != 6 {
			t.Fatalf("want 6 processes, got pid files %v", files)
		}
		out, err := exec.CommandContext(t.Context(), "ss", "-Hltnp").Output()
		if err != nil {
			t.Fatalf("ss: %v", err)
		}
		n := 0
		for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			f := strings.Fields(line)
			if len(f) < 6 {
				continue
			}
			for pid := range pids {
				if !strings.Contains(f[5], "pid="+pid+",") {
					continue
				}
				n++
				addr := f[3][:strings.LastIndex(f[3], ":")]
				if addr != "127.0.0.1" && addr != "[::1]" {
					t.Errorf("process %s listens on %s, not loopback: %s", pid, f[3], line)
				}
			}
		}
		if n < 6 {
			t.Errorf("want at least 6 listening sockets of the test ground, found %d", n)
		}
	})
}

const statefulSet = `
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: web, namespace: default}
spec:
  replicas: 3
  serviceName: web
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: example.invalid/web:1
`

func readEnv(t *testing.T, path string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(path) //nolint:gosec // The test's own state folder.
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{}
	for _, l := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(strings.TrimPrefix(l, "export "), "=")
		if ok {
			env[k] = v
		}
	}
	for _, k := range []string{"KUBECONFIG", "KUBEBUILDER_ASSETS", "S3_ENDPOINT", "S3_ACCESS_KEY", "S3_SECRET_KEY", "S3_REGION"} {
		if env[k] == "" {
			t.Fatalf("%s: %s not set", path, k)
		}
	}
	if _, err := strconv.Atoi(strings.TrimPrefix(env["S3_ENDPOINT"], "http://127.0.0.1:")); err != nil {
		t.Fatalf("S3 endpoint %q is not on loopback", env["S3_ENDPOINT"])
	}
	return env
}

func mustRealpath(t *testing.T, p string) string {
	t.Helper()
	r, err := filepath.EvalSymlinks(p)
	if err != nil {
		t.Fatal(fmt.Errorf("cannot resolve %s: %w", p, err))
	}
	return r
}

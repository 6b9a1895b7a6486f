// Package s3server starts a real S3 server for tests on 127.0.0.1: versitygw
// by default, MinIO when S3_SERVER=minio. The binaries are the ones
// cluster/build.sh builds from their Go modules.
package s3server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// A Server is a running S3 server.
type Server struct {
	Flavour   string
	Endpoint  string
	AccessKey string
	SecretKey string
	Region    string

	cmd *exec.Cmd
}

// Available says why no S3 server can start, or "" when one can.
func Available() string {
	if _, err := binary(flavour()); err != nil {
		return err.Error()
	}
	return ""
}

func flavour() string {
	if f := os.Getenv("S3_SERVER"); f != "" {
		return f
	}
	return "versitygw"
}

func binary(flavour string) (string, error) {
	env := map[string]string{"versitygw": "VERSITYGW_BIN", "minio": "MINIO_BIN"}[flavour]
	if env == "" {
		return "", fmt.Errorf("unknown S3 server %q (versitygw or minio)", flavour)
	}
	if p := os.Getenv(env); p != "" {
		return p, nil
	}
	root, err := repoRoot()
	if err != nil {
		return "", err
	}
	out, err := exec.CommandContext(context.Background(), filepath.Join(root, "cluster", "build.sh"), "--path", flavour).Output()
	if err != nil {
		return "", fmt.Errorf("cannot locate %s: %w", flavour, err)
	}
	p := filepath.Join(strings.TrimSpace(string(out)), flavour)
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("%s is not built; run 'make tools' (cluster/build.sh %s)", flavour, flavour)
	}
	return p, nil
}

func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "cluster", "build.sh")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("cannot find the repository root")
		}
		dir = parent
	}
}

// Start starts a server storing its data under dir.
func Start(ctx context.Context, dir string) (*Server, error) {
	f := flavour()
	bin, err := binary(f)
	if err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	s := &Server{Flavour: f, Endpoint: fmt.Sprintf("http://127.0.0.1:%d", port), AccessKey: "qdrantops-test", SecretKey: "qdrantops-test-secret", Region: "us-east-1"} //nolint:gosec // A throwaway local test server's keys.
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	switch f {
	case "versitygw":
		s.cmd = exec.Command(bin, "--port", addr, "--access", s.AccessKey, "--secret", s.SecretKey, "--region", s.Region, "posix", dir) //nolint:noctx // Lives until Stop, not until some context ends.
	case "minio":
		cport, err := freePort()
		if err != nil {
			return nil, err
		}
		s.cmd = exec.Command(bin, "server", "--address", addr, "--console-address", fmt.Sprintf("127.0.0.1:%d", cport), dir) //nolint:noctx // Lives until Stop, not until some context ends.
		s.cmd.Env = append(os.Environ(), "MINIO_ROOT_USER="+s.AccessKey, "MINIO_ROOT_PASSWORD="+s.SecretKey, "MINIO_BROWSER=off")
	}
	log, err := os.Create(filepath.Join(dir, "..", filepath.Base(dir)+"-"+f+".log")) //nolint:gosec // Beside the server's own data folder.
	if err == nil {
		s.cmd.Stdout, s.cmd.Stderr = log, log
	}
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("cannot start %s: %w", f, err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.Endpoint+"/", nil)
		if res, err := http.DefaultClient.Do(req); err == nil {
			_ = res.Body.Close()
			return s, nil
		}
		if time.Now().After(deadline) {
			s.Stop()
			return nil, fmt.Errorf("%s did not start within 30 s", f)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Stop stops the server.
func (s *Server) Stop() {
	if s.cmd != nil && s.cmd.Process != nil {
		_ = s.cmd.Process.Kill()
		_ = s.cmd.Wait()
	}
}

// Client returns an S3 client of the server.
func (s *Server) Client() *s3.Client {
	return s3.New(s3.Options{
		BaseEndpoint: aws.String(s.Endpoint), Region: s.Region, UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(s.AccessKey, s.SecretKey, ""),
	})
}

// CreateBucket creates a bucket.
func (s *Server) CreateBucket(ctx context.Context, name string) error {
	_, err := s.Client().CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)})
	return err
}

func freePort() (int, error) {
	l, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close() //nolint:errcheck // Only the port number is wanted.
	a, ok := l.Addr().(*net.TCPAddr)
	if !ok {
		return 0, fmt.Errorf("a TCP listener has address %v", l.Addr())
	}
	return a.Port, nil
}

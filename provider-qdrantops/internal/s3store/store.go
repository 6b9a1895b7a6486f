// Package s3store is the object store adapter: streamed multipart uploads with
// a running sha256, streamed downloads, listings, batched deletes, presigned
// URLs and clean-up of abandoned multipart uploads, over aws-sdk-go-v2 against
// AWS S3 or any S3-compatible server.
package s3store

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/qdrantops/qdrantops/provider-qdrantops/internal/netguard"
)

// Defaults of a Store. One part uploads while the next is read: with shards
// transferred in parallel that keeps the link busy, and memory per transfer
// is two parts whatever the snapshot's size. 8 MiB parts allow objects of
// up to 80 GB (S3's 10,000 parts).
const (
	DefaultPartSize    = 8 << 20
	DefaultConcurrency = 1
	// minPartSize is S3's smallest part, except for the last one.
	minPartSize = 5 << 20
)

// Config says how to reach a bucket.
type Config struct {
	Bucket       string
	Region       string
	Endpoint     string // empty for AWS S3
	UsePathStyle bool
	Credentials  aws.CredentialsProvider // nil for anonymous access
	// PartSize and Concurrency bound an upload's memory: PartSize x
	// (Concurrency + 1) bytes, whatever the object's size.
	PartSize    int64
	Concurrency int
	// Budget, when set, is shared by every Store of the process and bounds
	// their part buffers together; its part size is the Store's. Without
	// one, the Store has a budget of its own of PartSize x (Concurrency + 1).
	Budget *Budget
	// Timeouts bound every request; zero fields take the defaults.
	Timeouts   Timeouts
	HTTPClient *http.Client
}

// Timeouts bound the requests of a Store, so that a server that accepts a
// connection and then says nothing cannot hold a backup for ever.
type Timeouts struct {
	// ResponseHeader bounds the wait for a response's headers once the
	// request is sent.
	ResponseHeader time.Duration
	// Request bounds a small request (head, list, delete, small PUT).
	Request time.Duration
	// Part bounds the upload of one part.
	Part time.Duration
	// IdleRead bounds the wait for the next byte of a streamed download.
	IdleRead time.Duration
}

// Default timeouts. A part of 8 MiB takes a fraction of a second on a good
// link; five minutes allows for a link of under 30 KiB/s.
const (
	DefaultResponseHeaderTimeout = time.Minute
	DefaultRequestTimeout        = 30 * time.Second
	DefaultPartTimeout           = 5 * time.Minute
	DefaultIdleReadTimeout       = time.Minute
)

func (t Timeouts) withDefaults() Timeouts {
	if t.ResponseHeader <= 0 {
		t.ResponseHeader = DefaultResponseHeaderTimeout
	}
	if t.Request <= 0 {
		t.Request = DefaultRequestTimeout
	}
	if t.Part <= 0 {
		t.Part = DefaultPartTimeout
	}
	if t.IdleRead <= 0 {
		t.IdleRead = DefaultIdleReadTimeout
	}
	return t
}

// A Store reads and writes the objects of one bucket.
type Store struct {
	client      *s3.Client
	presign     *s3.PresignClient
	bucket      string
	partSize    int64
	concurrency int
	// budget lends every upload its part buffers.
	budget   *Budget
	timeouts Timeouts
	// partTimeout bounds one part's upload.
	partTimeout time.Duration
}

// New returns a Store for a bucket.
func New(cfg Config) (*Store, error) {
	if cfg.Bucket == "" {
		return nil, errors.New("no bucket")
	}
	if cfg.Budget != nil {
		cfg.PartSize = cfg.Budget.PartSize()
	}
	if cfg.PartSize == 0 {
		cfg.PartSize = DefaultPartSize
	}
	if cfg.PartSize < minPartSize {
		return nil, fmt.Errorf("part size %d is below S3's minimum of %d", cfg.PartSize, minPartSize)
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = DefaultConcurrency
	}
	region := cfg.Region
	if region == "" {
		region = "us-east-1"
	}
	opts := s3.Options{
		Region:       region,
		UsePathStyle: cfg.UsePathStyle,
		Credentials:  cfg.Credentials,
		// Checksums are ours (sha256 end to end); S3-compatible servers differ
		// in the trailing checksums they accept, so send them only when needed.
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
	}
	if cfg.Credentials == nil {
		opts.Credentials = aws.AnonymousCredentials{}
	}
	if cfg.Endpoint != "" {
		opts.BaseEndpoint = aws.String(cfg.Endpoint)
	}
	to := cfg.Timeouts.withDefaults()
	if cfg.HTTPClient != nil {
		opts.HTTPClient = cfg.HTTPClient
	} else {
		opts.HTTPClient = newHTTPClient(to)
	}
	budget := cfg.Budget
	if budget == nil {
		b, err := NewBudget(cfg.PartSize*int64(cfg.Concurrency+1), cfg.PartSize)
		if err != nil {
			return nil, err
		}
		budget = b
	}
	c := s3.New(opts)
	return &Store{
		client: c, presign: s3.NewPresignClient(c), bucket: cfg.Bucket, partSize: cfg.PartSize, concurrency: cfg.Concurrency,
		budget: budget, timeouts: to, partTimeout: to.Part,
	}, nil
}

// newHTTPClient bounds the connection's set-up and the wait for headers; the
// requests' own contexts bound the rest. A tenant's ProviderConfig names the
// endpoint, so it dials through netguard: never a cloud's metadata address.
func newHTTPClient(to Timeouts) *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone() //nolint:forcetypeassert // net/http documents DefaultTransport as an *http.Transport.
	t.DialContext = (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second, Control: netguard.Control}).DialContext
	t.ResponseHeaderTimeout = to.ResponseHeader
	t.TLSHandshakeTimeout = 30 * time.Second
	t.MaxIdleConnsPerHost = 32
	return &http.Client{Transport: t}
}

// Bucket is the store's bucket.
func (s *Store) Bucket() string { return s.bucket }

// NotFoundError is returned for a missing object or bucket.
type NotFoundError struct{ What string }

func (e *NotFoundError) Error() string { return e.What + " not found" }

// NotFound says that the error means a missing object or bucket.
func (e *NotFoundError) NotFound() bool { return true }

// IsNotFound says whether err is a NotFoundError.
func IsNotFound(err error) bool {
	var nf *NotFoundError
	return errors.As(err, &nf)
}

// classify turns S3's not-found errors into NotFoundError and drops request
// details that could carry presigned queries.
func classify(err error, what string) error {
	if err == nil {
		return nil
	}
	var nsk *types.NoSuchKey
	var nsb *types.NoSuchBucket
	var nf *types.NotFound
	if errors.As(err, &nsk) || errors.As(err, &nf) {
		return &NotFoundError{What: what}
	}
	if errors.As(err, &nsb) {
		return &NotFoundError{What: "bucket"}
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "NoSuchBucket":
			return &NotFoundError{What: "bucket"}
		case "NoSuchKey", "NotFound":
			return &NotFoundError{What: what}
		}
		return fmt.Errorf("%s: %s: %s", what, ae.ErrorCode(), ae.ErrorMessage())
	}
	return fmt.Errorf("%s: %w", what, err)
}

// CheckBucket verifies that the bucket exists and the credentials can use it.
func (s *Store) CheckBucket(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeouts.Request)
	defer cancel()
	_, err := s.client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(s.bucket)})
	if err != nil {
		var ae smithy.APIError
		if errors.As(err, &ae) && (ae.ErrorCode() == "NotFound" || ae.ErrorCode() == "NoSuchBucket") {
			return &NotFoundError{What: fmt.Sprintf("bucket %q", s.bucket)}
		}
		var re interface{ HTTPStatusCode() int }
		if errors.As(err, &re) && re.HTTPStatusCode() == http.StatusNotFound {
			return &NotFoundError{What: fmt.Sprintf("bucket %q", s.bucket)}
		}
		if errors.As(err, &re) && (re.HTTPStatusCode() == http.StatusForbidden || re.HTTPStatusCode() == http.StatusUnauthorized) {
			return fmt.Errorf("access to bucket %q denied: check the S3 credentials", s.bucket)
		}
		return fmt.Errorf("cannot reach bucket %q: %w", s.bucket, err)
	}
	return nil
}

// Presign returns a short-lived GET URL for an object. The URL is a
// credential: never log it or put it in status.
func (s *Store) Presign(ctx context.Context, key string, ttl time.Duration) (string, error) {
	req, err := s.presign.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(key)}, s3.WithPresignExpires(ttl))
	if err != nil {
		return "", errors.New("cannot presign object URL")
	}
	return req.URL, nil
}

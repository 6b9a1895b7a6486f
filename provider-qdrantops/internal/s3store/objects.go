package s3store

import (
	"bytes"
	"context"
	"fmt"
	"io"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// ObjectInfo describes a stored object.
type ObjectInfo struct {
	Key  string
	Size int64
}

// PutBytes writes a small object in one request.
func (s *Store) PutBytes(ctx context.Context, key string, b []byte, contentType string) error {
	return s.put(ctx, key, b, contentType)
}

// put writes an object in one request, with a CRC32C that S3 checks.
func (s *Store) put(ctx context.Context, key string, b []byte, contentType string) error {
	ctx, cancel := context.WithTimeout(ctx, s.partTimeout)
	defer cancel()
	_, err := s.client.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(s.bucket), Key: aws.String(key), Body: bytes.NewReader(b),
		ContentLength: aws.Int64(int64(len(b))), ContentType: aws.String(contentType),
		ChecksumAlgorithm: types.ChecksumAlgorithmCrc32c, ChecksumCRC32C: aws.String(crc32c(b)),
	})
	return classify(err, "object "+key)
}

// Get opens an object for streaming. The caller closes it. A download that
// delivers no byte for the idle-read timeout fails rather than hangs.
func (s *Store) Get(ctx context.Context, key string) (io.ReadCloser, int64, error) {
	ctx, cancel := context.WithCancel(ctx)
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(key)})
	if err != nil {
		cancel()
		return nil, 0, classify(err, "object "+key)
	}
	return newIdleReader(out.Body, s.timeouts.IdleRead, cancel), aws.ToInt64(out.ContentLength), nil
}

// Head returns an object's size.
func (s *Store) Head(ctx context.Context, key string) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeouts.Request)
	defer cancel()
	out, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(key)})
	if err != nil {
		return 0, classify(err, "object "+key)
	}
	return aws.ToInt64(out.ContentLength), nil
}

// DeleteKeys deletes the named objects, 1000 at a time; a missing one is not
// an error. It returns how many it deleted.
func (s *Store) DeleteKeys(ctx context.Context, keys []string) (int, error) {
	deleted := 0
	for start := 0; start < len(keys); start += 1000 {
		batch := keys[start:min(start+1000, len(keys))]
		ids := make([]types.ObjectIdentifier, len(batch))
		for i, k := range batch {
			ids[i] = types.ObjectIdentifier{Key: aws.String(k)}
		}
		rctx, cancel := context.WithTimeout(ctx, s.timeouts.Request)
		out, err := s.client.DeleteObjects(rctx, &s3.DeleteObjectsInput{Bucket: aws.String(s.bucket), Delete: &types.Delete{Objects: ids, Quiet: aws.Bool(true)}})
		cancel()
		if err != nil {
			return deleted, classify(err, "deletion of objects")
		}
		if len(out.Errors) > 0 {
			e := out.Errors[0]
			return deleted, classify(&deleteError{code: aws.ToString(e.Code), msg: aws.ToString(e.Message)}, "deletion of "+aws.ToString(e.Key))
		}
		deleted += len(batch)
	}
	return deleted, nil
}

// ListKeys returns the key of every object under a prefix.
func (s *Store) ListKeys(ctx context.Context, prefix string) ([]string, error) {
	objs, err := s.List(ctx, prefix)
	if err != nil {
		return nil, err
	}
	keys := make([]string, len(objs))
	for i, o := range objs {
		keys[i] = o.Key
	}
	return keys, nil
}

// MaxListed bounds the objects a listing returns: a backup's root holds two
// objects a shard and its manifest, so a root past this is not one, and a
// server that lists without end cannot exhaust memory.
const MaxListed = 1 << 20

// List returns every object under a prefix, at most MaxListed.
func (s *Store) List(ctx context.Context, prefix string) ([]ObjectInfo, error) {
	var out []ObjectInfo
	seen := map[string]bool{}
	p := s3.NewListObjectsV2Paginator(s.client, &s3.ListObjectsV2Input{Bucket: aws.String(s.bucket), Prefix: aws.String(prefix)})
	for p.HasMorePages() {
		rctx, cancel := context.WithTimeout(ctx, s.timeouts.Request)
		page, err := p.NextPage(rctx)
		cancel()
		if err != nil {
			return nil, classify(err, "listing of "+prefix)
		}
		for _, o := range page.Contents {
			out = append(out, ObjectInfo{Key: aws.ToString(o.Key), Size: aws.ToInt64(o.Size)})
		}
		if len(out) > MaxListed {
			return nil, fmt.Errorf("listing of %s: more than %d objects", prefix, MaxListed)
		}
		if t := aws.ToString(page.NextContinuationToken); t != "" {
			if seen[t] {
				return nil, fmt.Errorf("listing of %s: the server repeats itself", prefix)
			}
			seen[t] = true
		}
	}
	return out, nil
}

// DeletePrefix deletes every object under a prefix and aborts the multipart
// uploads left under it. It returns the objects deleted. It is for tests and
// tools: a Backup deletes only the objects it can prove are its own.
func (s *Store) DeletePrefix(ctx context.Context, prefix string) (int, error) {
	objs, err := s.List(ctx, prefix)
	if err != nil {
		return 0, err
	}
	keys := make([]string, len(objs))
	for i, o := range objs {
		keys[i] = o.Key
	}
	deleted, err := s.DeleteKeys(ctx, keys)
	if err != nil {
		return deleted, err
	}
	if _, err := s.AbortUploads(ctx, prefix, nil); err != nil {
		return deleted, err
	}
	return deleted, nil
}

type deleteError struct{ code, msg string }

func (e *deleteError) Error() string { return e.code + ": " + e.msg }

// maxUploadPages bounds the pages of incomplete uploads walked: a thousand
// uploads a page, far more than a backup leaves.
const maxUploadPages = 1000

// AbortUploads aborts the incomplete multipart uploads under a prefix, the
// leftovers of a crash mid-upload, whose keys match (every one when match is
// nil). It returns how many it aborted.
func (s *Store) AbortUploads(ctx context.Context, prefix string, match func(key string) bool) (int, error) {
	n := 0
	in := &s3.ListMultipartUploadsInput{Bucket: aws.String(s.bucket), Prefix: aws.String(prefix)}
	for pages := 0; ; pages++ {
		if pages >= maxUploadPages {
			return n, fmt.Errorf("multipart uploads under %s: more than %d pages", prefix, maxUploadPages)
		}
		rctx, cancel := context.WithTimeout(ctx, s.timeouts.Request)
		page, err := s.client.ListMultipartUploads(rctx, in)
		cancel()
		if err != nil {
			return n, classify(err, "multipart uploads under "+prefix)
		}
		for _, u := range page.Uploads {
			if match != nil && !match(aws.ToString(u.Key)) {
				continue
			}
			if _, err := s.client.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: aws.String(s.bucket), Key: u.Key, UploadId: u.UploadId}); err != nil {
				return n, classify(err, "abort of upload of "+aws.ToString(u.Key))
			}
			n++
		}
		if !aws.ToBool(page.IsTruncated) {
			return n, nil
		}
		in.KeyMarker, in.UploadIdMarker = page.NextKeyMarker, page.NextUploadIdMarker
	}
}

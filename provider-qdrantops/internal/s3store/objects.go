package s3store

import (
	"bytes"
	"context"
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
	_, err := s.client.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(s.bucket), Key: aws.String(key), Body: bytes.NewReader(b),
		ContentLength: aws.Int64(int64(len(b))), ContentType: aws.String(contentType),
	})
	return classify(err, "object "+key)
}

// Get opens an object for streaming. The caller closes it.
func (s *Store) Get(ctx context.Context, key string) (io.ReadCloser, int64, error) {
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(key)})
	if err != nil {
		return nil, 0, classify(err, "object "+key)
	}
	return out.Body, aws.ToInt64(out.ContentLength), nil
}

// Head returns an object's size.
func (s *Store) Head(ctx context.Context, key string) (int64, error) {
	out, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(key)})
	if err != nil {
		return 0, classify(err, "object "+key)
	}
	return aws.ToInt64(out.ContentLength), nil
}

// List returns every object under a prefix.
func (s *Store) List(ctx context.Context, prefix string) ([]ObjectInfo, error) {
	var out []ObjectInfo
	p := s3.NewListObjectsV2Paginator(s.client, &s3.ListObjectsV2Input{Bucket: aws.String(s.bucket), Prefix: aws.String(prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, classify(err, "listing of "+prefix)
		}
		for _, o := range page.Contents {
			out = append(out, ObjectInfo{Key: aws.ToString(o.Key), Size: aws.ToInt64(o.Size)})
		}
	}
	return out, nil
}

// DeletePrefix deletes every object under a prefix, 1000 at a time, and
// aborts the multipart uploads left under it. It returns the objects deleted.
func (s *Store) DeletePrefix(ctx context.Context, prefix string) (int, error) {
	objs, err := s.List(ctx, prefix)
	if err != nil {
		return 0, err
	}
	deleted := 0
	for start := 0; start < len(objs); start += 1000 {
		batch := objs[start:min(start+1000, len(objs))]
		ids := make([]types.ObjectIdentifier, len(batch))
		for i, o := range batch {
			ids[i] = types.ObjectIdentifier{Key: aws.String(o.Key)}
		}
		out, err := s.client.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String(s.bucket), Delete: &types.Delete{Objects: ids, Quiet: aws.Bool(true)}})
		if err != nil {
			return deleted, classify(err, "deletion under "+prefix)
		}
		if len(out.Errors) > 0 {
			e := out.Errors[0]
			return deleted, classify(&deleteError{code: aws.ToString(e.Code), msg: aws.ToString(e.Message)}, "deletion of "+aws.ToString(e.Key))
		}
		deleted += len(batch)
	}
	if _, err := s.AbortUploads(ctx, prefix); err != nil {
		return deleted, err
	}
	return deleted, nil
}

type deleteError struct{ code, msg string }

func (e *deleteError) Error() string { return e.code + ": " + e.msg }

// AbortUploads aborts every incomplete multipart upload under a prefix, the
// leftovers of a crash mid-upload. It returns how many it aborted.
func (s *Store) AbortUploads(ctx context.Context, prefix string) (int, error) {
	n := 0
	in := &s3.ListMultipartUploadsInput{Bucket: aws.String(s.bucket), Prefix: aws.String(prefix)}
	for {
		page, err := s.client.ListMultipartUploads(ctx, in)
		if err != nil {
			return n, classify(err, "multipart uploads under "+prefix)
		}
		for _, u := range page.Uploads {
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

package backup

import (
	"context"
	"fmt"
	"io"

	"github.com/qdrantops/qdrantops/provider-qdrantops/internal/manifest"
)

// Verify reads a backup's manifest back from the store and checks that every
// shard object it lists is there with its recorded size. A backup is Ready
// only after this passes.
func Verify(ctx context.Context, s Store, l manifest.Layout) error {
	body, _, err := s.Get(ctx, l.ManifestKey())
	if err != nil {
		return &Error{Reason: ReasonStorageFailed, Message: "cannot read the manifest back: " + err.Error(), Err: err}
	}
	defer body.Close() //nolint:errcheck // Read-only.
	b, err := io.ReadAll(io.LimitReader(body, 64<<20))
	if err != nil {
		return &Error{Reason: ReasonStorageFailed, Message: "cannot read the manifest back: " + err.Error(), Err: err}
	}
	m, err := manifest.Decode(b)
	if err != nil {
		return &Error{Reason: ReasonStorageFailed, Message: "the stored manifest is invalid: " + err.Error(), Err: err}
	}
	for _, c := range m.Collections {
		for _, sh := range c.Shards {
			size, err := s.Head(ctx, l.Key(sh.Object))
			if err != nil {
				return &Error{Reason: ReasonStorageFailed, Message: fmt.Sprintf("shard %d of %s is missing from the bucket: %v", sh.ID, c.Name, err), Err: err}
			}
			if size != sh.SizeBytes {
				return &Error{Reason: ReasonStorageFailed, Message: fmt.Sprintf("shard %d of %s has %d bytes in the bucket, the manifest says %d", sh.ID, c.Name, size, sh.SizeBytes)}
			}
		}
	}
	return nil
}

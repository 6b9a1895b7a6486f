package backup

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/qdrantops/qdrantops/provider-qdrantops/internal/manifest"
	"github.com/qdrantops/qdrantops/provider-qdrantops/internal/sample"
)

// DefaultSamplePoints is how many points of each collection a backup samples
// when the request does not say.
const DefaultSamplePoints = 1000

// retrievePage bounds the points read back at once with their vectors and
// payloads: 64 points of three 1536-dimension vectors are about 4 MB of JSON.
const retrievePage = 64

// maxSampleBytes bounds what is read of a sample file: 1000 points take
// about 110 kB.
const maxSampleBytes = 16 << 20

// storeError marks a sample step's failure as the object store's.
type storeError struct{ error }

func (e storeError) Unwrap() error { return e.error }

// sampleAll counts each collection again, now that its shards are stored,
// and records its point sample, retrying each collection like a shard.
func (r *run) sampleAll(ctx context.Context, cols []manifest.Collection) error {
	for i := range cols {
		if err := r.sampleWithRetries(ctx, &cols[i]); err != nil {
			return err
		}
	}
	return nil
}

func (r *run) sampleWithRetries(ctx context.Context, col *manifest.Collection) error {
	var errs []string
	var last error
	delay := r.req.RetryDelay
	for attempt := 0; attempt < r.req.Attempts; attempt++ {
		err := r.sampleOnce(ctx, col)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		last = err
		errs = append(errs, err.Error())
		r.update(func(st *Status) {
			st.Retrying = fmt.Sprintf("the count and sample of collection %s failed (try %d of %d): %v", col.Name, attempt+1, r.req.Attempts, err)
		})
		if attempt+1 < r.req.Attempts {
			select {
			case <-time.After(delay):
			case <-ctx.Done():
				return ctx.Err()
			}
			delay = min(delay*2, time.Minute)
		}
	}
	msg := fmt.Sprintf("cannot record the point count and sample of collection %s after %d tries: %s", col.Name, r.req.Attempts, strings.Join(dedupe(errs), "; "))
	if errors.As(last, new(storeError)) {
		return &Error{Reason: ReasonStorageFailed, Message: msg, Err: last}
	}
	return &Error{Reason: ReasonSampleFailed, Message: msg, Err: last}
}

// sampleOnce sets the collection's PointsAfter and, unless sampling is off,
// stores its sample file and sets Sample.
func (r *run) sampleOnce(ctx context.Context, col *manifest.Collection) error {
	after, err := r.c.Count(ctx, col.Name)
	if err != nil {
		return fmt.Errorf("cannot count the points: %w", err)
	}
	if r.req.SamplePoints < 0 {
		col.PointsAfter = &after
		return nil
	}
	f, err := r.pick(ctx, col.Name)
	if err != nil {
		return err
	}
	b, err := sample.Encode(f)
	if err != nil {
		return err
	}
	object := manifest.SampleObject(col.Name)
	if err := r.s.PutBytes(ctx, r.req.Layout.Key(object), b, "application/json"); err != nil {
		return storeError{fmt.Errorf("cannot store the sample: %w", err)}
	}
	// Points written while the sample was read are not in the shards: a
	// count that moves then says so too. The first count that differs from
	// the start's is kept, so that a count that went back is not missed.
	if after == col.Points {
		if after, err = r.c.Count(ctx, col.Name); err != nil {
			return fmt.Errorf("cannot count the points: %w", err)
		}
	}
	sum := sha256.Sum256(b)
	col.PointsAfter = &after
	col.Sample = &manifest.SampleRef{Object: object, SizeBytes: int64(len(b)), SHA256: hex.EncodeToString(sum[:]), Points: len(f.Points)}
	return nil
}

// pick chooses the collection's sample, reads those points back and digests
// each. Memory holds the chosen ids and one page.
func (r *run) pick(ctx context.Context, collection string) (sample.File, error) {
	sel := sample.NewSelector(r.req.SamplePoints)
	if err := r.c.ScrollIDs(ctx, collection, func(ids []json.RawMessage) error {
		for _, id := range ids {
			if err := sel.Add(id); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		return sample.File{}, fmt.Errorf("cannot list the point ids: %w", err)
	}
	f := sample.File{FormatVersion: sample.FormatVersion, BackupUID: r.req.Backup.UID, Collection: collection, Points: []sample.Point{}}
	ids := sel.IDs()
	for start := 0; start < len(ids); start += retrievePage {
		page := ids[start:min(start+retrievePage, len(ids))]
		recs, err := r.c.Retrieve(ctx, collection, page)
		if err != nil {
			return sample.File{}, fmt.Errorf("cannot read the sampled points: %w", err)
		}
		byID := make(map[string]sample.Record, len(recs))
		for _, rec := range recs {
			id, err := sample.CanonicalID(rec.ID)
			if err != nil {
				return sample.File{}, fmt.Errorf("cannot read the sampled points: %w", err)
			}
			byID[id] = rec
		}
		for _, id := range page {
			c, _ := sample.CanonicalID(id) // The selector's ids are canonical.
			rec, ok := byID[c]
			if !ok {
				// Deleted since it was listed: the sample is smaller, not wrong.
				continue
			}
			d, err := sample.Digest(rec.Vector, rec.Payload)
			if err != nil {
				return sample.File{}, fmt.Errorf("cannot digest point %s: %w", c, err)
			}
			f.Points = append(f.Points, sample.Point{ID: id, SHA256: d})
		}
	}
	return f, nil
}

// sampleOwner reads whose a sample file is. A file that is not a sample
// file names no one.
func sampleOwner(ctx context.Context, s Store, key string) (string, error) {
	body, _, err := s.Get(ctx, key)
	if err != nil {
		return "", err
	}
	defer body.Close() //nolint:errcheck // Read-only.
	var f struct {
		BackupUID string `json:"backupUID"`
	}
	// A file that does not parse names no one: it is not this Backup's.
	_ = json.NewDecoder(io.LimitReader(body, maxSampleBytes)).Decode(&f)
	return f.BackupUID, nil
}

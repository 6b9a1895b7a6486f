package restore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/qdrantops/qdrantops/provider-qdrantops/internal/manifest"
	"github.com/qdrantops/qdrantops/provider-qdrantops/internal/sample"
)

// maxSampleBytes bounds what is read of a sample file: 10,000 points of a
// 40-character id and a checksum are under 1.5 MB.
const maxSampleBytes = 16 << 20

// retrievePage is the number of points read back per request.
const retrievePage = 256

// verify counts a restored collection's points and compares its recorded
// sample with the target. When the backup says its source was written to
// while it ran, a difference is a warning: the shards were not captured at
// one instant, so no count or sample could match exactly.
func (r *run) verify(ctx context.Context, m manifest.Manifest, it Item) error {
	c := it.Source
	n, err := r.t.Count(ctx, it.Target)
	if err != nil {
		return &Error{Reason: ReasonQdrantUnreachable, Message: fmt.Sprintf("cannot count the points of %s: %v", it.Target, err), Err: err}
	}
	r.update(func(st *Status) { r.collection(st, it.Target).Points = &n })
	var problems []string
	if n != c.Points && (c.PointsAfter == nil || n != *c.PointsAfter) {
		problems = append(problems, fmt.Sprintf("it holds %d points, the backup %d", n, c.Points))
	}
	sampled, diffs, err := r.compareSample(ctx, m, it)
	if err != nil {
		return err
	}
	if diffs != "" {
		problems = append(problems, diffs)
	}
	r.update(func(st *Status) { r.collection(st, it.Target).SampledPoints = sampled })
	if len(problems) == 0 {
		r.update(func(st *Status) { r.collection(st, it.Target).Verified = true })
		return nil
	}
	msg := fmt.Sprintf("collection %s does not match the backup: %s", it.Target, strings.Join(problems, "; "))
	if c.WrittenDuring() {
		r.warn(msg + " (expected: the source was written to while the backup ran)")
		return nil
	}
	return &Error{Reason: ReasonVerificationFailed, Permanent: true,
		Message: msg + "; the restored collections were deleted: check the backup with verify: Full, then restore again"}
}

// compareSample compares up to SamplePoints of the backup's recorded sample
// points with the target's, in the recorded order, which depends only on
// the backup's point ids. It returns how many were compared and what
// differs.
func (r *run) compareSample(ctx context.Context, m manifest.Manifest, it Item) (int, string, error) {
	c := it.Source
	if r.req.SamplePoints <= 0 {
		return 0, "", nil
	}
	if c.Sample == nil {
		r.warn(fmt.Sprintf("collection %s: the backup recorded no sample points, so only counts were compared", it.Target))
		return 0, "", nil
	}
	f, err := r.readSample(ctx, m, c)
	if err != nil {
		return 0, "", err
	}
	pts := f.Points
	if len(pts) > r.req.SamplePoints {
		pts = pts[:r.req.SamplePoints]
	}
	var missing, differ []string
	for start := 0; start < len(pts); start += retrievePage {
		page := pts[start:min(start+retrievePage, len(pts))]
		ids := make([]json.RawMessage, len(page))
		for i, p := range page {
			ids[i] = p.ID
		}
		recs, err := r.t.Retrieve(ctx, it.Target, ids)
		if err != nil {
			return 0, "", &Error{Reason: ReasonQdrantUnreachable, Message: fmt.Sprintf("cannot read sample points of %s: %v", it.Target, err), Err: err}
		}
		got := map[string]string{}
		for _, rec := range recs {
			id, err := sample.CanonicalID(rec.ID)
			if err != nil {
				continue
			}
			sum, err := sample.Digest(rec.Vector, rec.Payload)
			if err != nil {
				return 0, "", &Error{Reason: ReasonVerificationFailed, Message: fmt.Sprintf("cannot read point %s of %s: %v", id, it.Target, err), Err: err}
			}
			got[id] = sum
		}
		for _, p := range page {
			id, _ := sample.CanonicalID(p.ID)
			switch sum, ok := got[id]; {
			case !ok:
				missing = append(missing, id)
			case sum != p.SHA256:
				differ = append(differ, id)
			}
		}
	}
	var out []string
	if len(missing) > 0 {
		out = append(out, fmt.Sprintf("%d of %d sampled points are missing (%s)", len(missing), len(pts), firstFew(missing)))
	}
	if len(differ) > 0 {
		out = append(out, fmt.Sprintf("%d of %d sampled points differ in vectors or payload (%s)", len(differ), len(pts), firstFew(differ)))
	}
	return len(pts), strings.Join(out, "; "), nil
}

func (r *run) readSample(ctx context.Context, m manifest.Manifest, c manifest.Collection) (sample.File, error) {
	key := r.req.Root + c.Sample.Object
	body, _, err := r.s.Get(ctx, key)
	if err != nil {
		return sample.File{}, &Error{Reason: ReasonStorageFailed, Message: fmt.Sprintf("cannot read the sample of %s: %v", c.Name, err), Err: err}
	}
	defer body.Close() //nolint:errcheck // Read-only.
	b, err := io.ReadAll(io.LimitReader(body, maxSampleBytes+1))
	if err != nil {
		return sample.File{}, &Error{Reason: ReasonStorageFailed, Message: fmt.Sprintf("cannot read the sample of %s: %v", c.Name, err), Err: err}
	}
	sum := sha256.Sum256(b)
	if int64(len(b)) != c.Sample.SizeBytes || hex.EncodeToString(sum[:]) != c.Sample.SHA256 {
		return sample.File{}, &Error{Reason: ReasonVerificationFailed, Permanent: true,
			Message: fmt.Sprintf("the sample of %s at %s does not match its checksum in the manifest: the backup is damaged", c.Name, key)}
	}
	f, err := sample.Decode(b)
	if err != nil || f.BackupUID != m.Backup.UID || f.Collection != c.Name {
		if err == nil {
			err = errors.New("it belongs to another backup or collection")
		}
		return sample.File{}, &Error{Reason: ReasonVerificationFailed, Permanent: true, Err: err,
			Message: fmt.Sprintf("the sample of %s at %s cannot be used: %v", c.Name, key, err)}
	}
	return f, nil
}

func firstFew(ids []string) string {
	sort.Strings(ids)
	return joinFew(ids)
}

// indexSchema is the field_schema of a payload index's creation: its
// parameters when it has some (they name the type), else its type.
func indexSchema(idx manifest.PayloadIndex) (json.RawMessage, error) {
	if p := bytes.TrimSpace(idx.Params); len(p) > 0 && string(p) != "null" {
		var params map[string]json.RawMessage
		if err := json.Unmarshal(p, &params); err != nil {
			return nil, fmt.Errorf("its parameters are not an object: %w", err)
		}
		if _, ok := params["type"]; ok {
			return p, nil
		}
	}
	if idx.DataType == "" {
		return nil, errors.New("it has no type")
	}
	return json.Marshal(idx.DataType)
}

// verifier checks, while a shard object streams, that it has the size and
// sha256 the manifest records; a short or changed object is an error, never
// a smaller shard.
type verifier struct {
	r      io.Reader
	h      hashWriter
	n      int64
	size   int64
	sum    string
	broken error
}

type hashWriter interface {
	io.Writer
	Sum([]byte) []byte
}

func newVerifier(r io.Reader, size int64, sum string) *verifier {
	return &verifier{r: r, h: sha256.New(), size: size, sum: sum}
}

func (v *verifier) Read(p []byte) (int, error) {
	n, err := v.r.Read(p)
	v.n += int64(n)
	_, _ = v.h.Write(p[:n])
	if v.n > v.size {
		v.broken = fmt.Errorf("the object is larger than the %d bytes the manifest records", v.size)
		return n, v.broken
	}
	if errors.Is(err, io.EOF) {
		switch got := hex.EncodeToString(v.h.Sum(nil)); {
		case v.n != v.size:
			v.broken = fmt.Errorf("the object has %d bytes, the manifest records %d", v.n, v.size)
		case got != v.sum:
			v.broken = fmt.Errorf("the object's sha256 is %s, the manifest records %s", got, v.sum)
		}
		if v.broken != nil {
			return n, v.broken
		}
	}
	return n, err
}

func (v *verifier) err() error { return v.broken }

// countingReader reports bytes as they stream, in chunks, to keep reports
// cheap.
type countingReader struct {
	r       io.Reader
	pending int64
	added   int64
	add     func(int64)
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.pending += int64(n)
	if c.pending >= 4<<20 || (err != nil && c.pending > 0) {
		c.add(c.pending)
		c.added += c.pending
		c.pending = 0
	}
	return n, err
}

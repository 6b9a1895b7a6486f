package backup

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"

	"github.com/qdrantops/qdrantops/provider-qdrantops/internal/manifest"
	"github.com/qdrantops/qdrantops/provider-qdrantops/internal/sample"
)

// VerifyMode says how thoroughly Verify checks a backup.
type VerifyMode int

const (
	// VerifySizes reads the manifest back and checks that every shard
	// object it lists is there with its recorded size. Each part's CRC32C
	// was already checked by S3 as it arrived.
	VerifySizes VerifyMode = iota
	// VerifyContent also reads every shard object back and compares its
	// sha256 with the manifest's.
	VerifyContent
)

// errForeignManifest says that a manifest is not one this provider wrote.
var errForeignManifest = errors.New("its manifest is not a valid qdrantops manifest")

// maxManifestBytes bounds what is read of a manifest: one of 100,000 shards
// is about 30 MB.
const maxManifestBytes = 64 << 20

func readManifest(ctx context.Context, s Store, l manifest.Layout) (manifest.Manifest, error) {
	body, _, err := s.Get(ctx, l.ManifestKey())
	if err != nil {
		return manifest.Manifest{}, err
	}
	defer body.Close() //nolint:errcheck // Read-only.
	b, err := io.ReadAll(io.LimitReader(body, maxManifestBytes))
	if err != nil {
		return manifest.Manifest{}, err
	}
	m, err := manifest.Decode(b)
	if err != nil {
		return manifest.Manifest{}, fmt.Errorf("%w: %v", errForeignManifest, err) //nolint:errorlint // One wrapped cause; the other is detail.
	}
	return m, nil
}

// Verified says what Verify checked.
type Verified struct {
	Shards int
	// Bytes is the size of the shard objects.
	Bytes int64
	// Samples counts the sample files checked.
	Samples int
	Mode    VerifyMode
}

// Verify reads a backup's manifest back from the store, checks that it
// belongs to the Backup with uid, and checks every shard object and sample
// file it lists. A backup is Ready only after this passes.
func Verify(ctx context.Context, s Store, l manifest.Layout, uid string, mode VerifyMode) (Verified, error) {
	m, err := readManifest(ctx, s, l)
	if err != nil {
		return Verified{}, &Error{Reason: ReasonStorageFailed, Message: "cannot read the manifest back: " + err.Error(), Err: err}
	}
	if m.Backup.UID != uid {
		return Verified{}, &Error{Reason: ReasonLocationTaken, Permanent: true,
			Message: fmt.Sprintf("the manifest at %s belongs to %s/%s (uid %s), not to this Backup", l.ManifestKey(), m.Backup.Namespace, m.Backup.Name, m.Backup.UID)}
	}
	v := Verified{Mode: mode}
	for _, c := range m.Collections {
		for _, sh := range c.Shards {
			if err := verifyShard(ctx, s, l, c.Name, sh, mode); err != nil {
				return Verified{}, err
			}
			v.Shards++
			v.Bytes += sh.SizeBytes
		}
		if c.Sample != nil {
			if err := verifySample(ctx, s, l, uid, c, mode); err != nil {
				return Verified{}, err
			}
			v.Samples++
		}
	}
	return v, nil
}

// verifySample checks a collection's sample file: its size, and with
// VerifyContent its sha256 and that it is the sample of this Backup and
// collection that the manifest says.
func verifySample(ctx context.Context, s Store, l manifest.Layout, uid string, c manifest.Collection, mode VerifyMode) error {
	ref := *c.Sample
	key := l.Key(ref.Object)
	if mode == VerifySizes {
		size, err := s.Head(ctx, key)
		if err != nil {
			return &Error{Reason: ReasonStorageFailed, Message: fmt.Sprintf("the sample of %s is missing from the bucket: %v", c.Name, err), Err: err}
		}
		if size != ref.SizeBytes {
			return &Error{Reason: ReasonStorageFailed, Message: fmt.Sprintf("the sample of %s has %d bytes in the bucket, the manifest says %d", c.Name, size, ref.SizeBytes)}
		}
		return nil
	}
	body, _, err := s.Get(ctx, key)
	if err != nil {
		return &Error{Reason: ReasonStorageFailed, Message: fmt.Sprintf("the sample of %s is missing from the bucket: %v", c.Name, err), Err: err}
	}
	defer body.Close() //nolint:errcheck // Read-only.
	b, err := io.ReadAll(io.LimitReader(body, maxSampleBytes+1))
	if err != nil {
		return &Error{Reason: ReasonStorageFailed, Message: fmt.Sprintf("cannot read the sample of %s back: %v", c.Name, err), Err: err}
	}
	sum := sha256.Sum256(b)
	if got := hex.EncodeToString(sum[:]); int64(len(b)) != ref.SizeBytes || got != ref.SHA256 {
		return &Error{Reason: ReasonStorageFailed, Message: fmt.Sprintf("the sample of %s does not match the manifest: %d bytes with sha256 %s in the bucket, the manifest says %d bytes with sha256 %s", c.Name, len(b), got, ref.SizeBytes, ref.SHA256)}
	}
	f, err := sample.Decode(b)
	if err != nil {
		return &Error{Reason: ReasonStorageFailed, Message: fmt.Sprintf("the sample of %s is invalid: %v", c.Name, err), Err: err}
	}
	if f.BackupUID != uid || f.Collection != c.Name || len(f.Points) != ref.Points {
		return &Error{Reason: ReasonStorageFailed, Message: fmt.Sprintf("the sample of %s is of backup uid %s, collection %s, %d points; the manifest says uid %s, collection %s, %d points", c.Name, f.BackupUID, f.Collection, len(f.Points), uid, c.Name, ref.Points)}
	}
	return nil
}

func verifyShard(ctx context.Context, s Store, l manifest.Layout, collection string, sh manifest.Shard, mode VerifyMode) error {
	key := l.Key(sh.Object)
	if mode == VerifySizes {
		size, err := s.Head(ctx, key)
		if err != nil {
			return &Error{Reason: ReasonStorageFailed, Message: fmt.Sprintf("shard %d of %s is missing from the bucket: %v", sh.ID, collection, err), Err: err}
		}
		if size != sh.SizeBytes {
			return &Error{Reason: ReasonStorageFailed, Message: fmt.Sprintf("shard %d of %s has %d bytes in the bucket, the manifest says %d", sh.ID, collection, size, sh.SizeBytes)}
		}
		return nil
	}
	body, _, err := s.Get(ctx, key)
	if err != nil {
		return &Error{Reason: ReasonStorageFailed, Message: fmt.Sprintf("shard %d of %s is missing from the bucket: %v", sh.ID, collection, err), Err: err}
	}
	defer body.Close() //nolint:errcheck // Read-only.
	h := sha256.New()
	n, err := io.Copy(h, body)
	if err != nil {
		return &Error{Reason: ReasonStorageFailed, Message: fmt.Sprintf("cannot read shard %d of %s back: %v", sh.ID, collection, err), Err: err}
	}
	if got := hex.EncodeToString(h.Sum(nil)); n != sh.SizeBytes || got != sh.SHA256 {
		return &Error{Reason: ReasonStorageFailed, Message: fmt.Sprintf("shard %d of %s does not match the manifest: %d bytes with sha256 %s in the bucket, the manifest says %d bytes with sha256 %s", sh.ID, collection, n, got, sh.SizeBytes, sh.SHA256)}
	}
	return nil
}

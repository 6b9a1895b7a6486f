package sample

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sort"
)

// FormatVersion is the sample file format this code writes and reads.
const FormatVersion = 1

// A File is the sample of one collection, stored next to the manifest.
type File struct {
	FormatVersion int `json:"formatVersion"`
	// BackupUID names the Backup that wrote the file: a deletion removes
	// only the sample files of its own Backup.
	BackupUID  string  `json:"backupUID"`
	Collection string  `json:"collection"`
	Points     []Point `json:"points"`
}

// A Point is one sampled point: its id and the Digest of its vector and
// payload.
type Point struct {
	ID     json.RawMessage `json:"id"`
	SHA256 string          `json:"sha256"`
}

var sha256Hex = regexp.MustCompile(`^[0-9a-f]{64}$`)

// Encode renders a valid file as indented JSON, its points by increasing
// rank (the order a Selector returns), so that the same sample always has
// the same bytes and checksum.
func Encode(f File) ([]byte, error) {
	if err := f.Validate(); err != nil {
		return nil, err
	}
	pts := make([]Point, len(f.Points))
	ranks := make([]rank, len(f.Points))
	for i, p := range f.Points {
		raw, c, _ := canonicalRaw(p.ID) // Validate checked every id.
		pts[i] = Point{ID: raw, SHA256: p.SHA256}
		ranks[i] = rankOf(c)
	}
	idx := make([]int, len(pts))
	for i := range idx {
		idx[i] = i
	}
	sort.Slice(idx, func(a, b int) bool { return ranks[idx[a]].less(ranks[idx[b]]) })
	f.Points = make([]Point, len(pts))
	for i, j := range idx {
		f.Points[i] = pts[j]
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	if err := enc.Encode(f); err != nil {
		return nil, fmt.Errorf("cannot encode the sample of %s: %w", f.Collection, err)
	}
	return buf.Bytes(), nil
}

// Decode parses and validates a sample file.
func Decode(b []byte) (File, error) {
	var f File
	if err := json.Unmarshal(b, &f); err != nil {
		return File{}, fmt.Errorf("cannot parse sample file: %w", err)
	}
	if f.FormatVersion != FormatVersion {
		return File{}, fmt.Errorf("sample file format version %d is not supported (this provider reads version %d)", f.FormatVersion, FormatVersion)
	}
	if err := f.Validate(); err != nil {
		return File{}, err
	}
	return f, nil
}

// Validate checks the format version, that the file names its Backup and
// collection, and that every point has a canonical id, once, and a sha256.
func (f File) Validate() error {
	var errs []error
	if f.FormatVersion != FormatVersion {
		errs = append(errs, fmt.Errorf("format version %d, want %d", f.FormatVersion, FormatVersion))
	}
	if f.BackupUID == "" {
		errs = append(errs, errors.New("it names no Backup uid"))
	}
	if f.Collection == "" {
		errs = append(errs, errors.New("it names no collection"))
	}
	seen := map[string]bool{}
	for i, p := range f.Points {
		raw, c, err := canonicalRaw(p.ID)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("point %d: %w", i, err))
			continue
		case !bytes.Equal(bytes.TrimSpace(p.ID), raw):
			errs = append(errs, fmt.Errorf("point %d: id %s is not written as Qdrant writes it (%s)", i, p.ID, raw))
		case seen[c]:
			errs = append(errs, fmt.Errorf("point %s appears twice", c))
		}
		seen[c] = true
		if !sha256Hex.MatchString(p.SHA256) {
			errs = append(errs, fmt.Errorf("point %s has no valid sha256", c))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("invalid sample file: %w", errors.Join(errs...))
	}
	return nil
}

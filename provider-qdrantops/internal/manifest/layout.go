package manifest

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode"
)

// A Layout places a backup's objects in a bucket:
//
//	<prefix><namespace>/<cluster>/<backup>/manifest.json
//	<prefix><namespace>/<cluster>/<backup>/collections/<collection>/shards/<id>.snapshot
//	<prefix><namespace>/<cluster>/<backup>/collections/<collection>/sample.json
//
// Keys are built by plain concatenation of segments that Validate has checked:
// no segment is empty, "." or "..", or holds a "/", so no name taken from a
// spec can climb out of its place in a key, whatever reads the key later.
type Layout struct {
	Prefix    string
	Namespace string
	Cluster   string
	Backup    string
}

// ManifestName is the manifest's object name under a backup's root.
const ManifestName = "manifest.json"

// MaxKeyBytes is S3's limit on the length of an object key.
const MaxKeyBytes = 1024

// ErrBadKey says that a name cannot be part of an object key.
var ErrBadKey = errors.New("not usable in an object key")

// ValidSegment checks one segment of a key: a namespace, cluster, backup or
// collection name.
func ValidSegment(s string) error {
	switch {
	case s == "":
		return fmt.Errorf("%w: an empty name", ErrBadKey)
	case s == "." || s == "..":
		return fmt.Errorf("%w: the name %q", ErrBadKey, s)
	case strings.Contains(s, "/"):
		return fmt.Errorf("%w: %q holds a slash", ErrBadKey, s)
	case strings.ContainsFunc(s, unicode.IsControl):
		return fmt.Errorf("%w: %q holds a control character", ErrBadKey, s)
	case len(s) > 255:
		return fmt.Errorf("%w: a name of %d bytes (at most 255)", ErrBadKey, len(s))
	}
	return nil
}

// validPrefix checks a prefix: segments separated by single slashes, none of
// them "." or "..", not starting with a slash.
func validPrefix(p string) error {
	if p == "" {
		return nil
	}
	if strings.HasPrefix(p, "/") {
		return fmt.Errorf("%w: the prefix %q starts with a slash", ErrBadKey, p)
	}
	for _, seg := range strings.Split(strings.TrimSuffix(p, "/"), "/") {
		if err := ValidSegment(seg); err != nil {
			return fmt.Errorf("prefix %q: %w", p, err)
		}
	}
	return nil
}

// Validate checks every part of the layout.
func (l Layout) Validate() error {
	if err := validPrefix(l.Prefix); err != nil {
		return err
	}
	for what, s := range map[string]string{"namespace": l.Namespace, "cluster": l.Cluster, "backup": l.Backup} {
		if err := ValidSegment(s); err != nil {
			return fmt.Errorf("%s name: %w", what, err)
		}
	}
	return nil
}

// Root is the key prefix of every object of the backup, ending in a slash.
func (l Layout) Root() string {
	p := l.Prefix
	if p != "" && !strings.HasSuffix(p, "/") {
		p += "/"
	}
	return p + l.Namespace + "/" + l.Cluster + "/" + l.Backup + "/"
}

// ManifestKey is the manifest's object key.
func (l Layout) ManifestKey() string { return l.Root() + ManifestName }

// ShardObject is a shard snapshot's key relative to the root. The collection
// name must have passed ValidSegment.
func ShardObject(collection string, shardID uint32) string {
	return "collections/" + collection + "/shards/" + strconv.FormatUint(uint64(shardID), 10) + ".snapshot"
}

// shardObject matches what ShardObject returns.
var shardObject = regexp.MustCompile(`^collections/[^/]+/shards/[0-9]+\.snapshot$`)

// IsShardObject says whether a key relative to the root is a shard snapshot
// of this backup, rather than an object of some other backup whose root lies
// beneath this one.
func IsShardObject(relative string) bool { return shardObject.MatchString(relative) }

// SampleObject is a collection's sample file's key relative to the root.
// The collection name must have passed ValidSegment.
func SampleObject(collection string) string { return "collections/" + collection + "/sample.json" }

// sampleObject matches what SampleObject returns.
var sampleObject = regexp.MustCompile(`^collections/[^/]+/sample\.json$`)

// IsSampleObject says whether a key relative to the root is a sample file of
// this backup, rather than an object of a backup whose root lies beneath.
func IsSampleObject(relative string) bool { return sampleObject.MatchString(relative) }

// Key turns a key relative to the root into an object key.
func (l Layout) Key(relative string) string { return l.Root() + relative }

// RootOf returns the root of a backup whose manifest is at path (a folder or
// the manifest key itself), as given by a user for a raw S3 restore.
func RootOf(p string) string {
	p = strings.TrimSuffix(strings.TrimPrefix(p, "/"), ManifestName)
	if p != "" && !strings.HasSuffix(p, "/") {
		p += "/"
	}
	return p
}

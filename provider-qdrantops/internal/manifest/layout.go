package manifest

import (
	"fmt"
	"path"
	"strings"
)

// A Layout places a backup's objects in a bucket:
//
//	<prefix><namespace>/<cluster>/<backup>/manifest.json
//	<prefix><namespace>/<cluster>/<backup>/collections/<collection>/shards/<id>.snapshot
type Layout struct {
	Prefix    string
	Namespace string
	Cluster   string
	Backup    string
}

// ManifestName is the manifest's object name under a backup's root.
const ManifestName = "manifest.json"

// Root is the key prefix of every object of the backup, ending in a slash.
func (l Layout) Root() string {
	p := l.Prefix
	if p != "" && !strings.HasSuffix(p, "/") {
		p += "/"
	}
	return p + path.Join(l.Namespace, l.Cluster, l.Backup) + "/"
}

// ManifestKey is the manifest's object key.
func (l Layout) ManifestKey() string { return l.Root() + ManifestName }

// ShardObject is a shard snapshot's key relative to the root.
func ShardObject(collection string, shardID uint32) string {
	return fmt.Sprintf("collections/%s/shards/%d.snapshot", collection, shardID)
}

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

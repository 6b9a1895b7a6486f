package restore

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/qdrantops/qdrantops/provider-qdrantops/internal/manifest"
)

// MaxCollections bounds the collections of one restore, as the Restore's
// status lists each of them.
const MaxCollections = 1000

// An Item is one collection to restore: the backup's record of it and its
// name in the target.
type Item struct {
	Source manifest.Collection
	Target string
}

// Select picks the collections of a backup to restore, in the backup's order,
// and names each in the target. Every name in only and every mapping's
// source must be in the backup, and no two collections may land on one name.
func Select(m manifest.Manifest, only []string, mappings map[string]string) ([]Item, error) {
	inBackup := map[string]manifest.Collection{}
	for _, c := range m.Collections {
		inBackup[c.Name] = c
	}
	var unknown []string
	for _, n := range only {
		if _, ok := inBackup[n]; !ok {
			unknown = append(unknown, n)
		}
	}
	for from := range mappings {
		if _, ok := inBackup[from]; !ok {
			unknown = append(unknown, from)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return nil, fmt.Errorf("the backup has no collection %s (it has %s)", joinFew(dedupe(unknown)), joinFew(names(m)))
	}
	want := map[string]bool{}
	for _, n := range only {
		want[n] = true
	}
	var items []Item
	byTarget := map[string]string{}
	for _, c := range m.Collections {
		if len(only) > 0 && !want[c.Name] {
			continue
		}
		target := c.Name
		if to, ok := mappings[c.Name]; ok {
			target = to
		}
		if !validCollectionName(target) {
			return nil, fmt.Errorf("%q is not a valid Qdrant collection name", target)
		}
		if other, ok := byTarget[target]; ok {
			return nil, fmt.Errorf("collections %s and %s would both be restored as %s: map one of them to another name", other, c.Name, target)
		}
		byTarget[target] = c.Name
		items = append(items, Item{Source: c, Target: target})
	}
	if len(items) == 0 {
		return nil, fmt.Errorf("the backup holds no collection to restore")
	}
	if len(items) > MaxCollections {
		return nil, fmt.Errorf("%d collections were selected; a Restore restores at most %d: name them in collections, in several Restores", len(items), MaxCollections)
	}
	return items, nil
}

func names(m manifest.Manifest) []string {
	out := make([]string, 0, len(m.Collections))
	for _, c := range m.Collections {
		out = append(out, c.Name)
	}
	if len(out) == 0 {
		return []string{"none"}
	}
	return out
}

// validCollectionName is Qdrant's rule: 1 to 255 characters, none of the
// characters a path or a file name cannot hold.
func validCollectionName(n string) bool {
	return n != "" && len(n) <= 255 && !strings.ContainsAny(n, `<>:"/\|?*`+"\x00") && n != "." && n != ".."
}

var versionRE = regexp.MustCompile(`^v?(\d+)\.(\d+)(?:\.(\d+))?`)

// CheckVersion refuses a target whose Qdrant is an older minor than the
// backup's: a snapshot's segment format is read by the version that wrote
// it and later ones, not earlier ones. Same or newer is allowed.
func CheckVersion(source, target string) error {
	s, okS := parseVersion(source)
	t, okT := parseVersion(target)
	switch {
	case !okS:
		return fmt.Errorf("the backup does not record a Qdrant version this provider can read (%q)", source)
	case !okT:
		return fmt.Errorf("the target reports a Qdrant version this provider cannot read (%q)", target)
	case t[0] < s[0] || (t[0] == s[0] && t[1] < s[1]):
		return fmt.Errorf("the backup was taken from Qdrant %s and the target runs %s: Qdrant cannot read snapshots of a newer version; upgrade the target to %d.%d or later", source, target, s[0], s[1])
	}
	return nil
}

func parseVersion(v string) ([2]int, bool) {
	m := versionRE.FindStringSubmatch(strings.TrimSpace(v))
	if m == nil {
		return [2]int{}, false
	}
	major, err1 := strconv.Atoi(m[1])
	minor, err2 := strconv.Atoi(m[2])
	return [2]int{major, minor}, err1 == nil && err2 == nil
}

// Creation is how a collection is created in the target.
type Creation struct {
	// Body is the PUT /collections/{c} request.
	Body json.RawMessage
	// ReplicationFactor is the one asked for; Capped says it is lower than
	// the backup's because the target has fewer peers.
	ReplicationFactor uint32
	Capped            bool
}

// createParams are the collection params that a creation request accepts;
// the rest (read fan-out) are not part of a collection's creation.
var createParams = []string{"vectors", "shard_number", "sharding_method", "on_disk_payload", "sparse_vectors", "payload"}

// createConfigs maps the sections of a collection's reported config to the
// creation request's fields: Qdrant reports optimizer_config and takes
// optimizers_config.
var createConfigs = map[string]string{
	"hnsw_config":         "hnsw_config",
	"optimizer_config":    "optimizers_config",
	"wal_config":          "wal_config",
	"quantization_config": "quantization_config",
	"strict_mode_config":  "strict_mode_config",
	"metadata":            "metadata",
}

// CreationFor turns a collection's recorded config (GET /collections/{c}'s
// config) into a creation request for a cluster of peers peers: the same
// vectors, shard number, sharding method, storage, index, optimizer, WAL,
// quantization and strict-mode settings and metadata, with the replication
// factor capped at the number of peers.
func CreationFor(c manifest.Collection, peers int) (Creation, error) {
	var cfg map[string]json.RawMessage
	if err := json.Unmarshal(c.Config, &cfg); err != nil {
		return Creation{}, fmt.Errorf("the recorded config of %s is not a JSON object: %w", c.Name, err)
	}
	var params map[string]json.RawMessage
	if err := json.Unmarshal(cfg["params"], &params); err != nil || params == nil {
		return Creation{}, fmt.Errorf("the recorded config of %s has no params", c.Name)
	}
	body := map[string]json.RawMessage{}
	for _, k := range createParams {
		if v, ok := params[k]; ok && !isNull(v) {
			body[k] = v
		}
	}
	for from, to := range createConfigs {
		if v, ok := cfg[from]; ok && !isNull(v) {
			body[to] = v
		}
	}
	rf := max(c.ReplicationFactor, 1)
	capped := false
	if peers > 0 && int(rf) > peers {
		rf, capped = uint32(peers), true
	}
	body["replication_factor"] = json.RawMessage(strconv.FormatUint(uint64(rf), 10))
	if v, ok := params["write_consistency_factor"]; ok && !isNull(v) {
		var wcf uint32
		if err := json.Unmarshal(v, &wcf); err == nil {
			body["write_consistency_factor"] = json.RawMessage(strconv.FormatUint(uint64(min(max(wcf, 1), rf)), 10))
		}
	}
	if c.ShardNumber > 0 {
		body["shard_number"] = json.RawMessage(strconv.FormatUint(uint64(c.ShardNumber), 10))
	}
	if c.ShardingMethod != "" {
		b, _ := json.Marshal(c.ShardingMethod)
		body["sharding_method"] = b
	}
	b, err := json.Marshal(body)
	if err != nil {
		return Creation{}, fmt.Errorf("cannot encode the creation of %s: %w", c.Name, err)
	}
	return Creation{Body: b, ReplicationFactor: rf, Capped: capped}, nil
}

func isNull(b json.RawMessage) bool {
	return len(bytes.TrimSpace(b)) == 0 || string(bytes.TrimSpace(b)) == "null"
}

// ShardsPerKey is how many shards each key of a custom-sharded collection
// has in the backup; every key must have the same number, as recorded
// shard_number says, for the ids to come back the same.
func ShardsPerKey(c manifest.Collection) (uint32, error) {
	if len(c.ShardKeys) == 0 {
		return 0, fmt.Errorf("collection %s is custom-sharded but the backup records no shard key", c.Name)
	}
	perKey := map[string]uint32{}
	for _, s := range c.Shards {
		perKey[canonicalKey(s.ShardKey)]++
	}
	var n uint32
	for _, k := range c.ShardKeys {
		got := perKey[canonicalKey(k)]
		if got == 0 {
			return 0, fmt.Errorf("shard key %s of collection %s has no shard in the backup", k, c.Name)
		}
		if n != 0 && got != n {
			return 0, fmt.Errorf("the shard keys of collection %s have different numbers of shards (%d and %d); restore it by hand", c.Name, n, got)
		}
		n = got
	}
	return n, nil
}

// canonicalKey makes shard keys comparable whatever their JSON spacing.
func canonicalKey(k json.RawMessage) string {
	var v any
	if err := json.Unmarshal(k, &v); err != nil {
		return string(k)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// CheckShardLayout compares the target's shards, just created, with the
// backup's: the same ids, and for custom sharding the same key on each id.
// A shard snapshot recovered under another id or key would put points where
// Qdrant does not look for them.
func CheckShardLayout(c manifest.Collection, target map[uint32]json.RawMessage) error {
	var problems []string
	for _, s := range c.Shards {
		key, ok := target[s.ID]
		switch {
		case !ok:
			problems = append(problems, fmt.Sprintf("shard %d is missing", s.ID))
		case len(s.ShardKey) > 0 && canonicalKey(key) != canonicalKey(s.ShardKey):
			problems = append(problems, fmt.Sprintf("shard %d has key %s, the backup's has %s", s.ID, key, s.ShardKey))
		}
	}
	if len(target) != len(c.Shards) {
		problems = append(problems, fmt.Sprintf("the target has %d shards, the backup %d", len(target), len(c.Shards)))
	}
	if len(problems) > 0 {
		sort.Strings(problems)
		return fmt.Errorf("the shards of %s in the target do not match the backup's: %s", c.Name, strings.Join(problems, "; "))
	}
	return nil
}

// dedupe keeps the first of each repeated string, in order.
func dedupe(s []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, x := range s {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}

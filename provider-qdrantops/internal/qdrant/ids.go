package qdrant

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
)

// PointID is a Qdrant point id: an unsigned integer or a UUID string. The
// zero value is the numeric id 0. It is comparable, so it can key maps.
type PointID struct {
	num    uint64
	uuid   string
	isUUID bool
}

// NumericPointID returns the point id n.
func NumericPointID(n uint64) PointID { return PointID{num: n} }

// UUIDPointID returns the point id u. Qdrant accepts the usual UUID spellings
// and answers with the lower-case hyphenated one.
func UUIDPointID(u string) PointID { return PointID{uuid: u, isUUID: true} }

// Num returns the numeric id and true, or 0 and false for a UUID id.
func (p PointID) Num() (uint64, bool) { return p.num, !p.isUUID }

// UUID returns the UUID and true, or "" and false for a numeric id.
func (p PointID) UUID() (string, bool) { return p.uuid, p.isUUID }

// String returns the id as Qdrant prints it in paths.
func (p PointID) String() string {
	if p.isUUID {
		return p.uuid
	}
	return strconv.FormatUint(p.num, 10)
}

// Equal lets go-cmp compare ids despite their unexported fields.
func (p PointID) Equal(o PointID) bool { return p == o }

// MarshalJSON writes a JSON number or string.
func (p PointID) MarshalJSON() ([]byte, error) {
	if p.isUUID {
		return json.Marshal(p.uuid)
	}
	return []byte(strconv.FormatUint(p.num, 10)), nil
}

// UnmarshalJSON reads a non-negative JSON integer or a string; null leaves
// p unchanged, as encoding/json does for other types.
func (p *PointID) UnmarshalJSON(b []byte) error {
	if isNull(b) {
		return nil
	}
	n, s, isString, err := decodeNumberOrString(b)
	if err != nil {
		return fmt.Errorf("cannot decode point id: %w", err)
	}
	if isString {
		*p = UUIDPointID(s)
		return nil
	}
	*p = NumericPointID(n)
	return nil
}

// ShardKey is a user-defined shard key of a custom-sharded collection: a
// string or an unsigned integer. It is comparable.
type ShardKey struct {
	num      uint64
	str      string
	isString bool
}

// StringShardKey returns the shard key s.
func StringShardKey(s string) ShardKey { return ShardKey{str: s, isString: true} }

// NumericShardKey returns the shard key n.
func NumericShardKey(n uint64) ShardKey { return ShardKey{num: n} }

// Num returns the numeric key and true, or 0 and false for a string key.
func (k ShardKey) Num() (uint64, bool) { return k.num, !k.isString }

// Str returns the string key and true, or "" and false for a numeric key.
func (k ShardKey) Str() (string, bool) { return k.str, k.isString }

// String formats the key for messages.
func (k ShardKey) String() string {
	if k.isString {
		return k.str
	}
	return strconv.FormatUint(k.num, 10)
}

// Equal lets go-cmp compare keys despite their unexported fields.
func (k ShardKey) Equal(o ShardKey) bool { return k == o }

// MarshalJSON writes a JSON string or number.
func (k ShardKey) MarshalJSON() ([]byte, error) {
	if k.isString {
		return json.Marshal(k.str)
	}
	return []byte(strconv.FormatUint(k.num, 10)), nil
}

// UnmarshalJSON reads a JSON string or non-negative integer; null leaves k
// unchanged.
func (k *ShardKey) UnmarshalJSON(b []byte) error {
	if isNull(b) {
		return nil
	}
	n, s, isString, err := decodeNumberOrString(b)
	if err != nil {
		return fmt.Errorf("cannot decode shard key: %w", err)
	}
	if isString {
		*k = StringShardKey(s)
		return nil
	}
	*k = NumericShardKey(n)
	return nil
}

// decodeNumberOrString decodes the untagged "u64 or string" unions Qdrant
// uses for ids and keys. Floats, negatives and other JSON types are errors,
// because Qdrant never sends them and silently rounding an id loses data.
func decodeNumberOrString(b []byte) (n uint64, s string, isString bool, err error) {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return 0, "", false, errors.New("empty value")
	}
	if b[0] == '"' {
		if err := json.Unmarshal(b, &s); err != nil {
			return 0, "", false, err
		}
		return 0, s, true, nil
	}
	n, err = strconv.ParseUint(string(b), 10, 64)
	if err != nil {
		return 0, "", false, fmt.Errorf("want an unsigned integer or a string, got %.40s", b)
	}
	return n, "", false, nil
}

func isNull(b []byte) bool { return string(bytes.TrimSpace(b)) == "null" }

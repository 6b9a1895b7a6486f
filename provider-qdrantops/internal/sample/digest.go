// Package sample is the point sample a backup records for each collection
// and a restore checks: a few point ids, chosen by a rule that depends only on
// the set of ids, each with the sha256 of its vector and payload in a
// canonical JSON form. Two Qdrant servers that hold the same point give the
// same digest even when they print its JSON differently (key order,
// whitespace, the digits of a float). The package is pure: no I/O.
package sample

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"sort"
	"strconv"
	"strings"
)

// A Record is a point as read from Qdrant with its vector and payload, both
// as Qdrant printed them.
type Record struct {
	ID      json.RawMessage
	Vector  json.RawMessage
	Payload json.RawMessage
}

// Digest is the sha256, in lower-case hex, of the canonical JSON of
// {"payload":payload,"vector":vector}:
//
//   - object keys sorted, no whitespace, strings re-encoded by one encoder;
//   - a missing or null payload is {}, and so is a missing or null vector;
//   - every number of the vector is read as the float32 Qdrant stores and
//     printed as the shortest text that reads back as that float32, so
//     0.1 and 0.10000000149011612 are the same component;
//   - the indices of a sparse vector are exact integers, and its
//     (index, value) pairs are put in index order;
//   - a payload number without '.', 'e' or 'E' is an exact integer, printed
//     in decimal; any other is the shortest text of its float64.
func Digest(vector, payload json.RawMessage) (string, error) {
	b, err := Canonical(vector, payload)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

// Canonical returns the canonical JSON that Digest hashes.
func Canonical(vector, payload json.RawMessage) ([]byte, error) {
	p, err := parse(payload)
	if err != nil {
		return nil, fmt.Errorf("cannot read the payload: %w", err)
	}
	if p == nil {
		p = map[string]any{}
	}
	if _, ok := p.(map[string]any); !ok {
		return nil, errors.New("cannot read the payload: not a JSON object")
	}
	v, err := parse(vector)
	if err != nil {
		return nil, fmt.Errorf("cannot read the vector: %w", err)
	}
	var buf bytes.Buffer
	buf.WriteString(`{"payload":`)
	if err := writeValue(&buf, p, payloadNumber); err != nil {
		return nil, fmt.Errorf("cannot canonicalise the payload: %w", err)
	}
	buf.WriteString(`,"vector":`)
	if err := writeVector(&buf, v); err != nil {
		return nil, fmt.Errorf("cannot canonicalise the vector: %w", err)
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

// parse decodes one JSON value keeping numbers as their text; empty input
// and null are nil.
func parse(raw json.RawMessage) (any, error) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil, nil
	}
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := d.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("more than one JSON value")
	}
	return v, nil
}

// writeVector writes a vector: dense ([]float), multivector ([][]float), or
// named (an object of those and of sparse vectors). Only a named vector's
// values can be sparse, so a vector named "indices" is never mistaken for
// the indices of a sparse one.
func writeVector(buf *bytes.Buffer, v any) error {
	named, ok := v.(map[string]any)
	if v == nil {
		named, ok = map[string]any{}, true
	}
	if !ok {
		return writeValue(buf, v, vectorNumber)
	}
	buf.WriteByte('{')
	for i, k := range sortedKeys(named) {
		if i > 0 {
			buf.WriteByte(',')
		}
		writeString(buf, k)
		buf.WriteByte(':')
		if sp, ok := named[k].(map[string]any); ok {
			if err := writeSparse(buf, sp); err != nil {
				return fmt.Errorf("vector %q: %w", k, err)
			}
			continue
		}
		if err := writeValue(buf, named[k], vectorNumber); err != nil {
			return fmt.Errorf("vector %q: %w", k, err)
		}
	}
	buf.WriteByte('}')
	return nil
}

// writeSparse writes {"indices":[…],"values":[…]} with the pairs in index
// order: a sparse vector is a map from index to value, and Qdrant may list
// it in another order than it was written.
func writeSparse(buf *bytes.Buffer, sp map[string]any) error {
	idx, okI := sp["indices"].([]any)
	val, okV := sp["values"].([]any)
	if len(sp) != 2 || !okI || !okV {
		// Not the shape of a sparse vector: canonical all the same.
		return writeValue(buf, sp, vectorNumber)
	}
	if len(idx) != len(val) {
		return fmt.Errorf("a sparse vector with %d indices and %d values", len(idx), len(val))
	}
	type pair struct {
		index uint64
		value any
	}
	pairs := make([]pair, len(idx))
	for i := range idx {
		n, ok := idx[i].(json.Number)
		if !ok {
			return fmt.Errorf("sparse index %v is not a number", idx[i])
		}
		u, err := strconv.ParseUint(n.String(), 10, 64)
		if err != nil {
			return fmt.Errorf("sparse index %s is not an unsigned integer", n)
		}
		pairs[i] = pair{u, val[i]}
	}
	sort.SliceStable(pairs, func(a, b int) bool { return pairs[a].index < pairs[b].index })
	buf.WriteString(`{"indices":[`)
	for i, p := range pairs {
		if i > 0 {
			buf.WriteByte(',')
		}
		buf.WriteString(strconv.FormatUint(p.index, 10))
	}
	buf.WriteString(`],"values":[`)
	for i, p := range pairs {
		if i > 0 {
			buf.WriteByte(',')
		}
		if err := writeValue(buf, p.value, vectorNumber); err != nil {
			return err
		}
	}
	buf.WriteString("]}")
	return nil
}

// writeValue writes any decoded JSON value canonically, numbers by num.
func writeValue(buf *bytes.Buffer, v any, num func(json.Number) (string, error)) error {
	switch x := v.(type) {
	case nil:
		buf.WriteString("null")
	case bool:
		buf.WriteString(strconv.FormatBool(x))
	case string:
		writeString(buf, x)
	case json.Number:
		s, err := num(x)
		if err != nil {
			return err
		}
		buf.WriteString(s)
	case []any:
		buf.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				buf.WriteByte(',')
			}
			if err := writeValue(buf, e, num); err != nil {
				return err
			}
		}
		buf.WriteByte(']')
	case map[string]any:
		buf.WriteByte('{')
		for i, k := range sortedKeys(x) {
			if i > 0 {
				buf.WriteByte(',')
			}
			writeString(buf, k)
			buf.WriteByte(':')
			if err := writeValue(buf, x[k], num); err != nil {
				return err
			}
		}
		buf.WriteByte('}')
	default:
		return fmt.Errorf("unexpected JSON value of type %T", v)
	}
	return nil
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// writeString writes a string as one encoder always does, whatever escapes
// the server used.
func writeString(buf *bytes.Buffer, s string) {
	b, _ := json.Marshal(s) //nolint:errchkjson // A Go string always encodes.
	buf.Write(b)
}

// vectorNumber prints a vector component as the float32 Qdrant stores.
func vectorNumber(n json.Number) (string, error) {
	f, err := strconv.ParseFloat(n.String(), 32)
	if err != nil {
		return "", fmt.Errorf("vector component %s is not a float32: %w", n, err)
	}
	return strconv.FormatFloat(f, 'g', -1, 32), nil
}

// payloadNumber prints integers exactly and other numbers as the shortest
// text of their float64.
func payloadNumber(n json.Number) (string, error) {
	s := n.String()
	if !strings.ContainsAny(s, ".eE") {
		i, ok := new(big.Int).SetString(s, 10)
		if !ok {
			return "", fmt.Errorf("payload number %s is not an integer", s)
		}
		return i.String(), nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return "", fmt.Errorf("payload number %s: %w", s, err)
	}
	return strconv.FormatFloat(f, 'g', -1, 64), nil
}

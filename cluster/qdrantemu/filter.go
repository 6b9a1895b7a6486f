package qdrantemu

import (
	"encoding/json"
	"fmt"
	"strings"
)

// The emulator evaluates the part of Qdrant's filter language a backup and a
// restore need to compare data (lib/segment/src/types.rs, Filter and
// Condition): must, should, must_not and min_should-less nesting; field
// conditions with match (value, any, except) and range on payload keys with
// dotted paths into objects and arrays; has_id; is_empty and is_null. Anything
// else is refused with a 400 naming it, so that a test never passes on a
// condition the emulator silently ignored.

type filter struct {
	Must    conditions `json:"must"`
	Should  conditions `json:"should"`
	MustNot conditions `json:"must_not"`
}

// conditions is a list of conditions; Qdrant also takes a single one.
type conditions []json.RawMessage

func (c *conditions) UnmarshalJSON(b []byte) error {
	var list []json.RawMessage
	if err := json.Unmarshal(b, &list); err == nil {
		*c = list
		return nil
	}
	if string(b) == "null" {
		*c = nil
		return nil
	}
	*c = []json.RawMessage{b}
	return nil
}

type condition struct {
	Key     string            `json:"key"`
	Match   *matchCond        `json:"match"`
	Range   *rangeCond        `json:"range"`
	HasID   []json.RawMessage `json:"has_id"`
	IsEmpty *struct {
		Key string `json:"key"`
	} `json:"is_empty"`
	IsNull *struct {
		Key string `json:"key"`
	} `json:"is_null"`
	// A nested filter.
	Must    conditions `json:"must"`
	Should  conditions `json:"should"`
	MustNot conditions `json:"must_not"`
}

type matchCond struct {
	Value  json.RawMessage   `json:"value"`
	Any    []json.RawMessage `json:"any"`
	Except []json.RawMessage `json:"except"`
}

type rangeCond struct {
	GT  *float64 `json:"gt"`
	GTE *float64 `json:"gte"`
	LT  *float64 `json:"lt"`
	LTE *float64 `json:"lte"`
}

// parseFilter reads a request's filter; nil when there is none.
func parseFilter(raw json.RawMessage) (*filter, error) {
	if isNull(raw) {
		return nil, nil
	}
	f := &filter{}
	if err := json.Unmarshal(raw, f); err != nil {
		return nil, fmt.Errorf("filter: %w", err)
	}
	// Check every condition once, so that an unsupported one is refused
	// even when the collection is empty.
	if _, err := f.matches(&point{ID: json.RawMessage("0")}); err != nil {
		return nil, err
	}
	return f, nil
}

func (f *filter) matches(p *point) (bool, error) {
	if f == nil {
		return true, nil
	}
	return evalClauses(f.Must, f.Should, f.MustNot, p)
}

func evalClauses(must, should, mustNot conditions, p *point) (bool, error) {
	ok := true
	for _, c := range must {
		m, err := evalCondition(c, p)
		if err != nil {
			return false, err
		}
		ok = ok && m
	}
	if len(should) > 0 {
		some := false
		for _, c := range should {
			m, err := evalCondition(c, p)
			if err != nil {
				return false, err
			}
			some = some || m
		}
		ok = ok && some
	}
	for _, c := range mustNot {
		m, err := evalCondition(c, p)
		if err != nil {
			return false, err
		}
		ok = ok && !m
	}
	return ok, nil
}

func evalCondition(raw json.RawMessage, p *point) (bool, error) {
	var c condition
	if err := json.Unmarshal(raw, &c); err != nil {
		return false, fmt.Errorf("condition %s: %w", raw, err)
	}
	switch {
	case c.HasID != nil:
		k, _ := pointKey(p.ID)
		for _, id := range c.HasID {
			if want, err := pointKey(id); err == nil && want == k {
				return true, nil
			}
		}
		return false, nil
	case c.IsEmpty != nil:
		vals := payloadValues(p.Payload, c.IsEmpty.Key)
		for _, v := range vals {
			if string(v) != "null" {
				return false, nil
			}
		}
		return true, nil
	case c.IsNull != nil:
		vals, present := payloadLookup(p.Payload, c.IsNull.Key)
		return present && len(vals) == 1 && string(vals[0]) == "null", nil
	case c.Key != "" && c.Match != nil:
		return evalMatch(c.Match, payloadValues(p.Payload, c.Key))
	case c.Key != "" && c.Range != nil:
		for _, v := range payloadValues(p.Payload, c.Key) {
			var x float64
			if json.Unmarshal(v, &x) != nil {
				continue
			}
			r := c.Range
			if (r.GT == nil || x > *r.GT) && (r.GTE == nil || x >= *r.GTE) && (r.LT == nil || x < *r.LT) && (r.LTE == nil || x <= *r.LTE) {
				return true, nil
			}
		}
		return false, nil
	case c.Must != nil || c.Should != nil || c.MustNot != nil:
		return evalClauses(c.Must, c.Should, c.MustNot, p)
	}
	return false, fmt.Errorf("the emulator does not evaluate the condition %s", raw)
}

func evalMatch(m *matchCond, vals []json.RawMessage) (bool, error) {
	switch {
	case m.Value != nil:
		for _, v := range vals {
			if sameJSON(v, m.Value) {
				return true, nil
			}
		}
		return false, nil
	case m.Any != nil:
		for _, v := range vals {
			for _, want := range m.Any {
				if sameJSON(v, want) {
					return true, nil
				}
			}
		}
		return false, nil
	case m.Except != nil:
		if len(vals) == 0 {
			// A point without the field does not match except (Qdrant's
			// MatchExcept needs a value).
			return false, nil
		}
		for _, v := range vals {
			for _, not := range m.Except {
				if sameJSON(v, not) {
					return false, nil
				}
			}
		}
		return true, nil
	}
	return false, fmt.Errorf("the emulator does not evaluate this match: text, phrase and similar need Qdrant's full-text index")
}

// payloadValues returns the values at a dotted key, arrays flattened, as
// Qdrant's JsonPath reads them ("a.b", "a[].b" and "a.b[]" alike).
func payloadValues(payload json.RawMessage, key string) []json.RawMessage {
	vals, _ := payloadLookup(payload, key)
	var out []json.RawMessage
	for _, v := range vals {
		var arr []json.RawMessage
		if json.Unmarshal(v, &arr) == nil {
			out = append(out, arr...)
			continue
		}
		out = append(out, v)
	}
	return out
}

// payloadLookup walks a dotted key; present says whether the key exists.
func payloadLookup(payload json.RawMessage, key string) ([]json.RawMessage, bool) {
	if isNull(payload) {
		return nil, false
	}
	cur := []json.RawMessage{payload}
	for _, part := range strings.Split(key, ".") {
		part = strings.TrimSuffix(part, "[]")
		var next []json.RawMessage
		for _, v := range cur {
			var arr []json.RawMessage
			if json.Unmarshal(v, &arr) == nil {
				for _, e := range arr {
					next = append(next, field(e, part)...)
				}
				continue
			}
			next = append(next, field(v, part)...)
		}
		if len(next) == 0 {
			return nil, false
		}
		cur = next
	}
	return cur, true
}

func field(v json.RawMessage, name string) []json.RawMessage {
	var obj map[string]json.RawMessage
	if json.Unmarshal(v, &obj) != nil {
		return nil
	}
	if f, ok := obj[name]; ok {
		return []json.RawMessage{f}
	}
	return nil
}

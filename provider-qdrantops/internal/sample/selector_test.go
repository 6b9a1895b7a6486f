package sample

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"
	"testing/quick"

	"github.com/google/go-cmp/cmp"
)

func TestCanonicalID(t *testing.T) {
	cases := map[string]struct {
		reason string
		id     string
		want   string
		err    bool
	}{
		"Number":    {"A numeric id is its decimal text.", `42`, "42", false},
		"MaxUint64": {"Ids are unsigned 64-bit.", `18446744073709551615`, "18446744073709551615", false},
		"UUID":      {"A UUID is lower case.", `"5C56C793-69F3-4FBF-87E6-C4BF54C28C26"`, "5c56c793-69f3-4fbf-87e6-c4bf54c28c26", false},
		"Negative":  {"Negative ids do not exist.", `-1`, "", true},
		"Float":     {"Nor fractional ones.", `1.5`, "", true},
		"NotUUID":   {"A string id is a UUID.", `"product-1"`, "", true},
		"Empty":     {"Nothing is no id.", ``, "", true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := CanonicalID(json.RawMessage(tc.id))
			if (err != nil) != tc.err || got != tc.want {
				t.Errorf("%s\nCanonicalID(%s): want %q (error %v), got %q, %v", tc.reason, tc.id, tc.want, tc.err, got, err)
			}
		})
	}
}

// ids is a random set of point ids, numeric and UUID, some written in upper
// case, with repeats.
type ids []json.RawMessage

func (ids) Generate(r *rand.Rand, size int) reflect.Value {
	var out ids
	for range r.Intn(10 * (size + 1)) {
		switch r.Intn(3) {
		case 0:
			out = append(out, json.RawMessage(strconv.FormatUint(r.Uint64(), 10)))
		case 1:
			out = append(out, json.RawMessage(strconv.Itoa(r.Intn(100))))
		default:
			b := make([]byte, 16)
			_, _ = r.Read(b) // math/rand never fails.
			h := hex.EncodeToString(b)
			u := h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
			if r.Intn(2) == 0 {
				u = strings.ToUpper(u)
			}
			out = append(out, json.RawMessage(strconv.Quote(u)))
		}
	}
	return reflect.ValueOf(out)
}

func pick(t *testing.T, k int, in []json.RawMessage) []string {
	t.Helper()
	s := NewSelector(k)
	for _, id := range in {
		if err := s.Add(id); err != nil {
			t.Fatal(err)
		}
	}
	var out []string
	for _, id := range s.IDs() {
		out = append(out, string(id))
	}
	return out
}

func TestSelectorDependsOnlyOnTheSetOfIDs(t *testing.T) {
	f := func(in ids, k uint8, seed int64) bool {
		shuffled := append(ids(nil), in...)
		r := rand.New(rand.NewSource(seed)) //nolint:gosec // Test data, not secrets.
		r.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		// Pages may overlap: a repeat is the same id.
		if len(in) > 0 {
			shuffled = append(shuffled, in[:r.Intn(len(in))]...)
		}
		return cmp.Equal(pick(t, int(k%20), in), pick(t, int(k%20), shuffled))
	}
	if err := quick.Check(f, nil); err != nil {
		t.Error(err)
	}
}

func TestSelectorKeepsTheSmallestRanks(t *testing.T) {
	// A plain sort of every distinct id by rank is what the bounded heap
	// must agree with.
	f := func(in ids, k uint8) bool {
		n := int(k % 20)
		byRank := map[string]string{}
		for _, id := range in {
			c, err := CanonicalID(id)
			if err != nil {
				return false
			}
			sum := sha256.Sum256([]byte(c))
			raw := c
			if strings.HasPrefix(string(id), `"`) {
				raw = strconv.Quote(c)
			}
			byRank[string(sum[:])] = raw
		}
		ranks := make([]string, 0, len(byRank))
		for r := range byRank {
			ranks = append(ranks, r)
		}
		sort.Strings(ranks)
		var want []string
		for _, r := range ranks[:min(n, len(ranks))] {
			want = append(want, byRank[r])
		}
		got := pick(t, n, in)
		if !cmp.Equal(want, got) {
			t.Logf("k=%d: -want, +got:\n%s", n, cmp.Diff(want, got))
			return false
		}
		return true
	}
	if err := quick.Check(f, nil); err != nil {
		t.Error(err)
	}
}

func TestSelectorRefusesBadIDs(t *testing.T) {
	s := NewSelector(3)
	if err := s.Add(json.RawMessage(`"not-a-uuid"`)); err == nil {
		t.Error("Add accepted an id that is neither a number nor a UUID")
	}
	if err := s.Add(json.RawMessage(`7`)); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"7"}, pick(t, 3, []json.RawMessage{json.RawMessage(` 7 `)})); diff != "" {
		t.Errorf("a spaced id: -want, +got:\n%s", diff)
	}
	if got := len(NewSelector(-1).IDs()); got != 0 {
		t.Errorf("a selector of no ids kept %d", got)
	}
}

func TestSelectorMemoryIsBounded(t *testing.T) {
	s := NewSelector(10)
	for i := range 100000 {
		if err := s.Add(json.RawMessage(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	if len(s.h) != 10 || len(s.kept) != 10 {
		t.Errorf("a selector of 10 holds %d ids and %d ranks", len(s.h), len(s.kept))
	}
}

package sample

import (
	"bytes"
	"container/heap"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// uuid is a UUID as Qdrant prints it, in either case.
var uuid = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// CanonicalID is a point id as text: a numeric id in decimal, a UUID in the
// lower-case hyphenated form Qdrant answers with.
func CanonicalID(id json.RawMessage) (string, error) {
	b := bytes.TrimSpace(id)
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return "", fmt.Errorf("cannot read point id %.60s: %w", b, err)
		}
		if !uuid.MatchString(s) {
			return "", fmt.Errorf("point id %q is not a UUID", s)
		}
		return strings.ToLower(s), nil
	}
	n, err := strconv.ParseUint(string(b), 10, 64)
	if err != nil {
		return "", fmt.Errorf("point id %.60s is neither an unsigned integer nor a UUID", b)
	}
	return strconv.FormatUint(n, 10), nil
}

// canonicalRaw is an id as the JSON Qdrant answers with: a number, or a
// lower-case UUID string.
func canonicalRaw(id json.RawMessage) (json.RawMessage, string, error) {
	c, err := CanonicalID(id)
	if err != nil {
		return nil, "", err
	}
	if b := bytes.TrimSpace(id); len(b) > 0 && b[0] == '"' {
		return json.RawMessage(strconv.Quote(c)), c, nil
	}
	return json.RawMessage(c), c, nil
}

// rank orders ids for the sample: sha256 of the canonical id. It spreads the
// choice over the whole id space, whatever shard or range the ids are in.
type rank [sha256.Size]byte

func rankOf(canonical string) rank { return sha256.Sum256([]byte(canonical)) }

func (r rank) less(o rank) bool { return bytes.Compare(r[:], o[:]) < 0 }

// A Selector keeps the k ids of smallest rank among those added, in memory
// bounded by k: which ids it keeps depends only on the set of ids added, not
// on their order or on repeats, so the backup and anyone checking it later
// pick the same points.
type Selector struct {
	k    int
	h    idHeap
	kept map[rank]bool
}

// NewSelector keeps at most k ids; k <= 0 keeps none.
func NewSelector(k int) *Selector {
	return &Selector{k: max(k, 0), kept: map[rank]bool{}}
}

// Add offers an id. An id that is neither an unsigned integer nor a UUID is
// an error, and changes nothing.
func (s *Selector) Add(id json.RawMessage) error {
	raw, c, err := canonicalRaw(id)
	if err != nil {
		return err
	}
	if s.k == 0 {
		return nil
	}
	r := rankOf(c)
	if s.kept[r] {
		return nil
	}
	if len(s.h) < s.k {
		heap.Push(&s.h, entry{r, raw})
		s.kept[r] = true
		return nil
	}
	// The heap's top is the largest rank kept.
	if r.less(s.h[0].rank) {
		delete(s.kept, s.h[0].rank)
		s.h[0] = entry{r, raw}
		heap.Fix(&s.h, 0)
		s.kept[r] = true
	}
	return nil
}

// IDs returns the ids kept, in canonical JSON, by increasing rank.
func (s *Selector) IDs() []json.RawMessage {
	es := append([]entry(nil), s.h...)
	sortEntries(es)
	out := make([]json.RawMessage, len(es))
	for i, e := range es {
		out[i] = e.id
	}
	return out
}

type entry struct {
	rank rank
	id   json.RawMessage
}

// idHeap is a max-heap on rank: its top is the first id to give up.
type idHeap []entry

func (h *idHeap) Len() int           { return len(*h) }
func (h *idHeap) Less(i, j int) bool { return (*h)[j].rank.less((*h)[i].rank) }
func (h *idHeap) Swap(i, j int)      { (*h)[i], (*h)[j] = (*h)[j], (*h)[i] }
func (h *idHeap) Push(x any)         { *h = append(*h, x.(entry)) } //nolint:forcetypeassert // Only entries are pushed.
func (h *idHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}

func sortEntries(es []entry) {
	sort.Slice(es, func(i, j int) bool { return es[i].rank.less(es[j].rank) })
}

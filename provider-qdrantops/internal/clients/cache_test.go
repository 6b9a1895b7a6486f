package clients

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestCache(t *testing.T) {
	c := NewCache[int](2)
	builds := 0
	get := func(id string) int {
		t.Helper()
		v, err := c.Get(id, func() (int, error) { builds++; return builds, nil })
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	// a and b are built once each; a is used again, so c evicts b, the
	// least recently used, and b is built anew.
	got := []int{get("a"), get("b"), get("a"), get("c"), get("a"), get("b")}
	if diff := cmp.Diff([]int{1, 2, 1, 3, 1, 4}, got); diff != "" {
		t.Errorf("values: -want, +got:\n%s", diff)
	}
	if c.Len() != 2 {
		t.Errorf("Len(): want the bound 2, got %d", c.Len())
	}
	if _, err := c.Get("d", func() (int, error) { return 0, errors.New("boom") }); err == nil {
		t.Error("a failed build must return its error")
	}
	if v := get("d"); v != 5 {
		t.Errorf("a failed build must not be kept: got %d, want a new build 5", v)
	}
}

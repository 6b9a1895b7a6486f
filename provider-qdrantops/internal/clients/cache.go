package clients

import (
	"container/list"
	"sync"
)

// A Cache keeps what was built for an identity (a ResolvedStorage's, say),
// so that reconciles of an unchanged config share one client and its
// credentials cache instead of building new ones every time. It holds at
// most a bound of entries; the least recently used goes first. Entries of a
// config's older generations are never asked for again and age out.
type Cache[T any] struct {
	mu      sync.Mutex
	max     int
	entries map[string]*list.Element
	order   *list.List // front: most recently used
}

type cacheEntry[T any] struct {
	id string
	v  T
}

// NewCache returns a Cache of at most limit entries.
func NewCache[T any](limit int) *Cache[T] {
	return &Cache[T]{max: limit, entries: map[string]*list.Element{}, order: list.New()}
}

// Get returns what was built for id, or builds it. A failed build is not
// kept.
func (c *Cache[T]) Get(id string, build func() (T, error)) (T, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.entries[id]; ok {
		// The list holds only *cacheEntry[T]; an element that is not one
		// is rebuilt below rather than taking the provider down.
		if ce, ok := e.Value.(*cacheEntry[T]); ok {
			c.order.MoveToFront(e)
			return ce.v, nil
		}
		c.order.Remove(e)
		delete(c.entries, id)
	}
	// Building under the lock keeps two reconciles of one config from
	// building two clients; a build makes no request.
	v, err := build()
	if err != nil {
		return v, err
	}
	c.entries[id] = c.order.PushFront(&cacheEntry[T]{id: id, v: v})
	for c.order.Len() > c.max {
		last := c.order.Back()
		c.order.Remove(last)
		if ce, ok := last.Value.(*cacheEntry[T]); ok {
			delete(c.entries, ce.id)
		}
	}
	return v, nil
}

// Len is the number of entries.
func (c *Cache[T]) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len()
}

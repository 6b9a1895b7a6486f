package qdrantcluster

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/qdrantops/qdrantops/provider-qdrantops/internal/qdrant"
	"github.com/qdrantops/qdrantops/provider-qdrantops/internal/sample"
)

// scrollPage is how many ids one scroll page asks for: ids only, so a page
// is a few tens of kilobytes.
const scrollPage = 1000

// maxScrollPages bounds the pages of a scroll over a collection of count
// points: enough for the collection to grow by half while it is read, plus
// ten pages, and never unbounded, so that a server whose next_page_offset
// never ends cannot hold a backup for ever.
func maxScrollPages(count uint64) uint64 {
	return (count+count/2)/scrollPage + 10
}

// ScrollIDs reads the id of every point of a collection, page by page,
// without vectors or payloads, and hands each page to page.
func (c *Cluster) ScrollIDs(ctx context.Context, collection string, page func(ids []json.RawMessage) error) error {
	count, err := c.Count(ctx, collection)
	if err != nil {
		return err
	}
	limit := uint32(scrollPage)
	var offset *qdrant.PointID
	for pages, most := uint64(0), maxScrollPages(count); ; pages++ {
		if pages == most {
			return fmt.Errorf("cannot scroll the ids of collection %q: still more after %d pages of %d for %d points", collection, most, scrollPage, count)
		}
		var res qdrant.ScrollResult
		if err := c.any(ctx, func(cl *qdrant.Client) error {
			var err error
			res, err = cl.Scroll(ctx, collection, qdrant.ScrollRequest{Limit: &limit, Offset: offset})
			return err
		}); err != nil {
			return err
		}
		if len(res.Points) > scrollPage {
			return fmt.Errorf("cannot scroll the ids of collection %q: a page of %d points for a limit of %d", collection, len(res.Points), scrollPage)
		}
		ids := make([]json.RawMessage, 0, len(res.Points))
		for _, p := range res.Points {
			b, err := p.ID.MarshalJSON()
			if err != nil {
				return fmt.Errorf("cannot scroll the ids of collection %q: %w", collection, err)
			}
			ids = append(ids, b)
		}
		if err := page(ids); err != nil {
			return err
		}
		if res.NextPageOffset == nil {
			return nil
		}
		// A page's next offset is the first id of the next page: the same
		// one again is a server standing still. Longer circles end at the
		// bound on pages.
		if offset != nil && *offset == *res.NextPageOffset {
			return fmt.Errorf("cannot scroll the ids of collection %q: the next page offset %s does not move", collection, res.NextPageOffset)
		}
		offset = res.NextPageOffset
	}
}

// Retrieve reads points by id with their vectors and payloads; ids that do
// not exist are left out.
//
// The qdrant client decodes a payload into Go values, so the payload here is
// re-encoded from them: numbers pass through float64, and an integer beyond
// 2^53 is rounded. Vectors are kept as Qdrant sent them.
func (c *Cluster) Retrieve(ctx context.Context, collection string, ids []json.RawMessage) ([]sample.Record, error) {
	pids := make([]qdrant.PointID, len(ids))
	for i, id := range ids {
		if err := pids[i].UnmarshalJSON(id); err != nil {
			return nil, fmt.Errorf("cannot retrieve points of collection %q: %w", collection, err)
		}
	}
	var recs []qdrant.Record
	if err := c.any(ctx, func(cl *qdrant.Client) error {
		var err error
		recs, err = cl.Retrieve(ctx, collection, pids, true, true)
		return err
	}); err != nil {
		return nil, err
	}
	out := make([]sample.Record, 0, len(recs))
	for _, r := range recs {
		id, err := r.ID.MarshalJSON()
		if err != nil {
			return nil, fmt.Errorf("cannot retrieve points of collection %q: %w", collection, err)
		}
		var payload json.RawMessage
		if r.Payload != nil {
			if payload, err = json.Marshal(r.Payload); err != nil {
				return nil, fmt.Errorf("cannot re-encode the payload of point %s of collection %q: %w", r.ID, collection, err)
			}
		}
		out = append(out, sample.Record{ID: id, Vector: r.Vector, Payload: payload})
	}
	return out, nil
}

package qdrant

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
)

// Upsert writes points. Qdrant's default for wait is false here, so pass
// true before counting. Not retried: Qdrant may have applied the batch.
func (c *Client) Upsert(ctx context.Context, collection string, points []Point, wait bool) error {
	for _, pt := range points {
		if len(pt.Vector) == 0 {
			return fmt.Errorf("cannot upsert into collection %q: point %s has no vector", collection, pt.ID)
		}
	}
	body := struct {
		Points []Point `json:"points"`
	}{points}
	p, err := collectionPath(collection)
	if err == nil {
		err = c.doWrite(ctx, http.MethodPut, p+"/points", waitQuery(wait), body)
	}
	if err != nil {
		return fmt.Errorf("cannot upsert %d points into collection %q: %w", len(points), collection, err)
	}
	return nil
}

// Count counts all points; exact=false gives a faster estimate.
func (c *Client) Count(ctx context.Context, collection string, exact bool) (uint64, error) {
	var res struct {
		Count uint64 `json:"count"`
	}
	body := struct {
		Exact bool `json:"exact"`
	}{exact}
	if err := c.read(ctx, collection, "/points/count", body, &res); err != nil {
		return 0, fmt.Errorf("cannot count points of collection %q: %w", collection, err)
	}
	return res.Count, nil
}

// Retrieve reads points by id; missing ids are left out of the result.
func (c *Client) Retrieve(ctx context.Context, collection string, ids []PointID, withPayload, withVector bool) ([]Record, error) {
	body := struct {
		IDs         []PointID `json:"ids"`
		WithPayload bool      `json:"with_payload"`
		WithVector  bool      `json:"with_vector"`
	}{ids, withPayload, withVector}
	if body.IDs == nil {
		body.IDs = []PointID{} // "ids" is required; null is not a list
	}
	var recs []Record
	if err := c.read(ctx, collection, "/points", body, &recs); err != nil {
		return nil, fmt.Errorf("cannot retrieve %d points of collection %q: %w", len(ids), collection, err)
	}
	return recs, nil
}

// Point reads one point with its payload and vector; a missing point is a
// *NotFoundError.
func (c *Client) Point(ctx context.Context, collection string, id PointID) (Record, error) {
	var rec Record
	p, err := collectionPath(collection)
	if err == nil {
		r := &request{method: http.MethodGet, path: p + "/points/" + url.PathEscape(id.String()), idempotent: true}
		_, err = c.doJSON(ctx, r, &rec)
	}
	if err != nil {
		return Record{}, fmt.Errorf("cannot get point %s of collection %q: %w", id, collection, err)
	}
	return rec, nil
}

// Scroll reads one page of points in id order.
func (c *Client) Scroll(ctx context.Context, collection string, req ScrollRequest) (ScrollResult, error) {
	var res ScrollResult
	if err := c.read(ctx, collection, "/points/scroll", req, &res); err != nil {
		return ScrollResult{}, fmt.Errorf("cannot scroll points of collection %q: %w", collection, err)
	}
	return res, nil
}

// read performs a read-only POST under a collection; those are retried like
// GETs because they change nothing.
func (c *Client) read(ctx context.Context, collection, sub string, body, out any) error {
	p, err := collectionPath(collection)
	if err != nil {
		return err
	}
	b, err := json.Marshal(body)
	if err != nil {
		return fmt.Errorf("cannot encode request body: %w", err)
	}
	_, err = c.doJSON(ctx, &request{method: http.MethodPost, path: p + sub, body: b, idempotent: true}, out)
	return err
}

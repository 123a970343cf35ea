package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
)

// GetJSON reads the document kind/id into into. found is false (and into
// untouched) when there is none.
func GetJSON[T any](ctx context.Context, tx ReadTx, kind, id string, into *T) (found bool, err error) {
	data, err := tx.Get(ctx, kind, id)
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return true, json.Unmarshal(data, into)
}

// PutJSON writes v as the document kind/id.
func PutJSON(ctx context.Context, tx Tx, kind, id string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return tx.Put(ctx, kind, id, data)
}

// EachIndexedJSON reads, in the index's order, each document kind/id whose
// id the index holds under key, and calls fn with it. Ids with no document
// are skipped. A fresh T is decoded for each.
func EachIndexedJSON[T any](ctx context.Context, tx ReadTx, index, key, kind string, fn func(id string, doc *T) error) error {
	ids, err := tx.Lookup(ctx, index, key)
	if err != nil {
		return err
	}
	for _, id := range ids {
		var d T
		found, err := GetJSON(ctx, tx, kind, id, &d)
		if err != nil {
			return fmt.Errorf("%s %s: %w", kind, id, err)
		}
		if !found {
			continue
		}
		if err := fn(id, &d); err != nil {
			return err
		}
	}
	return nil
}

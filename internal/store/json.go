package store

import (
	"context"
	"encoding/json"
	"errors"
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

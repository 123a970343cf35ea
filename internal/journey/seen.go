package journey

import (
	"context"
	"encoding/json"
	"fmt"

	"caravana/internal/store"
)

// set is a set of person ids.
type set map[string]struct{}

func (s set) has(id string) bool { _, ok := s[id]; return ok }

// seenAt reads who was seen at one stage (check-in or found). With times,
// it also returns when (unix ms); without, it does not decode the docs.
func seenAt(ctx context.Context, tx store.ReadTx, stage string, times bool) (set, map[string]int64, error) {
	out := set{}
	var at map[string]int64
	if times {
		at = map[string]int64{}
	}
	err := tx.Scan(ctx, checkinKind(stage), func(id string, data []byte) error {
		out[id] = struct{}{}
		if times {
			d, err := decodeCheckinDoc(data)
			if err != nil {
				return fmt.Errorf("check-in %s at %s: %w", id, stage, err)
			}
			at[id] = d.At
		}
		return nil
	})
	return out, at, err
}

// leftPeople reads everyone currently marked as having left the caravan.
func leftPeople(ctx context.Context, tx store.ReadTx) (map[string]statusDoc, error) {
	out := map[string]statusDoc{}
	err := tx.Scan(ctx, docStatus, func(id string, data []byte) error {
		var d statusDoc
		if err := json.Unmarshal(data, &d); err != nil {
			return err
		}
		if d.Left {
			out[id] = d
		}
		return nil
	})
	return out, err
}

// lastSeen maps each person seen anywhere on the route to the route
// position of the furthest stage they were seen at.
func lastSeen(ctx context.Context, tx store.ReadTx, r Route, seen map[string]int) (map[string]int, error) {
	out := map[string]int{}
	for i, st := range r.Stages {
		if seen[st.ID] == 0 {
			continue
		}
		ids, _, err := seenAt(ctx, tx, st.ID, false)
		if err != nil {
			return nil, err
		}
		for id := range ids {
			out[id] = i // stages are visited in route order: the last wins
		}
	}
	return out, nil
}

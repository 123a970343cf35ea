package journey

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"caravana/internal/event"
	"caravana/internal/store"
)

// Check-in documents are the most numerous the node keeps (one per person
// and stage), read on every scan, by every headcount and missing list, and
// for every check-in a sync brings. They are stored as one short line,
// "c1|at|via|hlc|node|by", not JSON: decoding JSON was a third of the cost
// of applying a synced check-in. by comes last, so it may hold anything.
const checkinDocTag = "c1"

// appendCheckinDoc encodes d.
func appendCheckinDoc(b []byte, d checkinDoc) []byte {
	b = append(b, checkinDocTag...)
	b = append(b, '|')
	b = strconv.AppendInt(b, d.At, 10)
	b = append(b, '|')
	b = append(b, d.Via...)
	b = append(b, '|')
	b = strconv.AppendUint(b, uint64(d.T), 10)
	b = append(b, '|')
	b = append(b, d.N...)
	b = append(b, '|')
	return append(b, d.By...)
}

var errCheckinDoc = errors.New("malformed check-in document")

// decodeCheckinDoc decodes what appendCheckinDoc wrote.
func decodeCheckinDoc(data []byte) (checkinDoc, error) {
	var d checkinDoc
	s := string(data)
	field := func() (string, bool) {
		f, rest, ok := strings.Cut(s, "|")
		s = rest
		return f, ok
	}
	tag, ok1 := field()
	at, ok2 := field()
	via, ok3 := field()
	hlc, ok4 := field()
	node, ok5 := field()
	if tag != checkinDocTag || !(ok1 && ok2 && ok3 && ok4 && ok5) {
		return d, errCheckinDoc
	}
	var err error
	if d.At, err = strconv.ParseInt(at, 10, 64); err != nil {
		return d, fmt.Errorf("%w: at: %v", errCheckinDoc, err)
	}
	t, err := strconv.ParseUint(hlc, 10, 64)
	if err != nil {
		return d, fmt.Errorf("%w: hlc: %v", errCheckinDoc, err)
	}
	d.Via, d.T, d.N, d.By = via, event.HLC(t), node, s
	return d, nil
}

// getCheckin reads the check-in of person at stage, if there is one.
func getCheckin(ctx context.Context, tx store.ReadTx, stage, person string) (checkinDoc, bool, error) {
	data, err := tx.Get(ctx, checkinKind(stage), person)
	if errors.Is(err, store.ErrNotFound) {
		return checkinDoc{}, false, nil
	}
	if err != nil {
		return checkinDoc{}, false, err
	}
	d, err := decodeCheckinDoc(data)
	if err != nil {
		return d, false, fmt.Errorf("check-in %s at %s: %w", person, stage, err)
	}
	return d, true, nil
}

// putCheckin writes the check-in of person at stage.
func putCheckin(ctx context.Context, tx store.Tx, stage, person string, d checkinDoc) error {
	return tx.Put(ctx, checkinKind(stage), person, appendCheckinDoc(make([]byte, 0, 96), d))
}

package store

import (
	"context"
	"errors"
	"fmt"
)

// A database belongs to one node. Claim records which, when the node is
// created; a node opening a database checks the record (S5: a --db that
// names the wrong database must stop the node, not run it on someone
// else's data or on nothing).
var (
	// ErrHoldsNode means a database that should be new already holds a
	// node's data (events, users, another node's claim).
	ErrHoldsNode = errors.New("the database already holds a node's data; a new node needs an empty database")
	// ErrNoNode means a database that should hold this node holds no node
	// at all (no schema, or nothing of this node).
	ErrNoNode = errors.New("the database holds no data of this node (wrong --db?); refusing to start an empty node in it")
	// ErrOtherNode means the database was created by another node.
	ErrOtherNode = errors.New("the database belongs to another node (wrong --db or --data?)")
)

// The local document that names the node a database belongs to.
const ownerKind, ownerID = "meta", "node"

// Claim marks the database as node's, in one write transaction that first
// checks it holds nothing else: no other node's claim and no events. Two
// nodes created at once on one empty database cannot both succeed.
// Claiming again for the same node changes nothing.
func Claim(ctx context.Context, st Store, node string) error {
	return st.Update(ctx, func(tx Tx) error {
		owner, err := Owner(ctx, tx)
		switch {
		case err != nil:
			return err
		case owner == node:
			return nil
		case owner != "":
			return fmt.Errorf("%w (it belongs to node %s)", ErrHoldsNode, owner)
		}
		events, err := tx.CountEvents(ctx)
		if err != nil {
			return fmt.Errorf("claim database: %w", err)
		}
		if events > 0 {
			return fmt.Errorf("%w (%d events)", ErrHoldsNode, events)
		}
		return tx.LocalPut(ctx, ownerKind, ownerID, []byte(node))
	})
}

// Owner returns the node that claimed the database, or "" when none did
// (a database made before claims were recorded).
func Owner(ctx context.Context, tx ReadTx) (string, error) {
	data, err := tx.LocalGet(ctx, ownerKind, ownerID)
	if errors.Is(err, ErrNotFound) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("database owner: %w", err)
	}
	return string(data), nil
}

// tables are every table the migrations make.
var tables = []string{"events", "docs", "idx", "local_docs", "audit", "schema_version"}

// Erase drops every table, in one transaction, when the database belongs to
// owner or holds no claim and no events: it undoes a node creation that
// failed part-way, where there is no file to remove (PostgreSQL). Any other
// database is left as it is, with ErrOtherNode. The store must be closed
// afterwards.
func (s *SQL) Erase(ctx context.Context, owner string) error {
	return s.Update(ctx, func(tx Tx) error {
		have, err := Owner(ctx, tx)
		if err != nil {
			return err
		}
		if have != "" && have != owner {
			return fmt.Errorf("erase: %w (node %s)", ErrOtherNode, have)
		}
		if have == "" {
			events, err := tx.CountEvents(ctx)
			if err != nil {
				return fmt.Errorf("erase: %w", err)
			}
			if events > 0 {
				return fmt.Errorf("erase: %w (%d events, no claim)", ErrOtherNode, events)
			}
		}
		st := tx.(*sqlTx)
		for _, t := range tables {
			if _, err := st.tx.ExecContext(ctx, `DROP TABLE IF EXISTS `+t); err != nil {
				return fmt.Errorf("erase: drop %s: %w", t, err)
			}
		}
		return nil
	})
}

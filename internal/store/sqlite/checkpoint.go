package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/ncruces/go-sqlite3/driver"

	"caravana/internal/store"
)

// checkpointEvery is how often the checkpointer copies committed WAL frames
// into the database file.
const checkpointEvery = 100 * time.Millisecond

// startCheckpointer moves WAL checkpoints off the writer. By default SQLite
// checkpoints inside the commit that takes the WAL past 1,000 pages: that
// commit, and every write queued behind it, waits while a thousand pages
// are decrypted, re-encrypted and synced, and check-ins at a crossing see
// it as a pause of tens of milliseconds. Here the writer never checkpoints
// (wal_autocheckpoint(0)); a connection of its own runs a PASSIVE
// checkpoint every checkpointEvery, which waits for nobody and nobody waits
// for, on the other core. The last connection to close still checkpoints
// the whole WAL into the file and removes it.
func startCheckpointer(ctx context.Context, s *store.SQL, dsn, hexKey string) error {
	db, err := driver.Open(dsn)
	if err != nil {
		return fmt.Errorf("open checkpointer: %w", scrub(err, hexKey))
	}
	db.SetMaxOpenConns(1)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return fmt.Errorf("open checkpointer: %w", scrub(err, hexKey))
	}
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(checkpointEvery)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				checkpoint(db)
			}
		}
	}()
	s.OnClose(func() {
		close(stop)
		<-done
		db.Close()
	})
	return nil
}

// checkpoint runs one passive checkpoint. A failure is left for the next
// tick: the frames stay in the WAL, which is as durable as the file.
func checkpoint(db *sql.DB) {
	var busy, logFrames, done int
	db.QueryRow(`PRAGMA wal_checkpoint(PASSIVE)`).Scan(&busy, &logFrames, &done)
}

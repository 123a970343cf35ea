package auth

import (
	"sync"
	"sync/atomic"
	"time"
)

// sessionTTL bounds how long a session read stays in memory. Every request
// would otherwise open a read transaction just to find its session and user
// (about a tenth of the CPU of a check-in). Within this process a logout or
// a change to any user (made here or received by sync) drops every entry
// at once; a change made by another process sharing the database, such as
// `caravana user disable` while the server runs, is seen within sessionTTL.
const sessionTTL = 2 * time.Second

// userGen counts changes to users and sessions in this process: applyUser
// and Logout move it, and a cached entry from an older generation is not
// used.
var userGen atomic.Uint64

type cachedSession struct {
	sess   Session
	user   User
	gen    uint64
	loaded time.Time
}

// sessionCache holds recently read sessions by token hash.
type sessionCache struct {
	mu sync.Mutex
	m  map[string]cachedSession
}

func (c *sessionCache) get(key string, now time.Time) (Session, User, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[key]
	if !ok || e.gen != userGen.Load() || now.Sub(e.loaded) > sessionTTL || now.Before(e.loaded) {
		return Session{}, User{}, false
	}
	return e.sess, e.user, true
}

// put keeps what was read while the generation was gen, unless it has
// moved since (the read may predate the change).
func (c *sessionCache) put(key string, sess Session, u User, gen uint64, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != userGen.Load() {
		return
	}
	if c.m == nil || len(c.m) >= 10000 {
		c.m = map[string]cachedSession{} // bounded: start again rather than grow
	}
	c.m[key] = cachedSession{sess: sess, user: u, gen: gen, loaded: now}
}

// touch records that the session's last-seen time was written.
func (c *sessionCache) touch(key string, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.m[key]; ok {
		e.sess.Seen = now
		c.m[key] = e
	}
}

// drop forgets a session and invalidates every other entry.
func (c *sessionCache) drop(key string) {
	userGen.Add(1)
	c.mu.Lock()
	delete(c.m, key)
	c.mu.Unlock()
}

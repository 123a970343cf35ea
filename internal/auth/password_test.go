package auth_test

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"caravana/internal/auth"
	"caravana/internal/crypto"
)

func TestHashPasswordRoundTrip(t *testing.T) {
	params := []crypto.KDFParams{testKDF, {MemoryKiB: 2048, Time: 2, Threads: 2}}
	for _, p := range params {
		t.Run(p.String(), func(t *testing.T) {
			const pw = "caballo correcto batería"
			h, err := auth.HashPassword(pw, p)
			if err != nil {
				t.Fatal(err)
			}
			// PHC string: algorithm, version, the parameters, 16-byte salt, 32-byte digest.
			re := regexp.MustCompile(fmt.Sprintf(`^\$argon2id\$v=19\$m=%d,t=%d,p=%d\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$`,
				p.MemoryKiB, p.Time, p.Threads))
			if !re.MatchString(h) {
				t.Fatalf("hash %q is not a PHC argon2id string with %v", h, p)
			}
			if strings.Contains(h, pw) {
				t.Fatal("hash contains the password")
			}
			for _, tc := range []struct {
				pw   string
				want bool
			}{
				{pw, true}, {"caballo correcto bateria", false}, {"Caballo correcto batería", false},
				{pw + " ", false}, {"", false}, {pw[:len(pw)-1], false},
			} {
				ok, err := auth.CheckPassword(h, tc.pw)
				if err != nil || ok != tc.want {
					t.Errorf("CheckPassword(%q) = %v, %v; want %v", tc.pw, ok, err, tc.want)
				}
			}
			// A fresh salt each time: equal passwords do not give equal hashes.
			h2, _ := auth.HashPassword(pw, p)
			if h2 == h {
				t.Error("two hashes of one password are equal")
			}
			if ok, err := auth.CheckPassword(h2, pw); !ok || err != nil {
				t.Errorf("second hash: %v %v", ok, err)
			}
		})
	}
}

func TestHashPasswordLength(t *testing.T) {
	for _, tc := range []struct {
		pw string
		ok bool
	}{
		{"", false}, {"123456789", false}, {"1234567890", true},
		{"ñññññññññ", false},    // 9 characters though 18 bytes
		{"ññññññññññ", true},    // 10 characters
		{"abcdefghi\x00", true}, // length is characters; content is free
	} {
		_, err := auth.HashPassword(tc.pw, testKDF)
		if tc.ok && err != nil {
			t.Errorf("HashPassword(%q) = %v", tc.pw, err)
		}
		if !tc.ok && !errors.Is(err, auth.ErrWeakPassword) {
			t.Errorf("HashPassword(%q) = %v, want ErrWeakPassword", tc.pw, err)
		}
	}
}

func TestCheckPasswordMalformed(t *testing.T) {
	good, err := auth.HashPassword("long enough pw", testKDF)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(good, "$") // "", argon2id, v=19, m=..., salt, digest
	with := func(i int, v string) string {
		p := append([]string(nil), parts...)
		p[i] = v
		return strings.Join(p, "$")
	}
	max := auth.MaxHashCost()
	tests := map[string]string{
		"empty":              "",
		"dollar":             "$",
		"bcrypt":             "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy",
		"argon2i":            with(1, "argon2i"),
		"too few parts":      strings.Join(parts[:5], "$"),
		"too many parts":     good + "$x",
		"no params":          with(3, ""),
		"params garbled":     with(3, "m=1024;t=1;p=1"),
		"negative memory":    with(3, "m=-1,t=1,p=1"),
		"zero time":          with(3, "m=1024,t=0,p=1"),
		"zero threads":       with(3, "m=1024,t=1,p=0"),
		"threads overflow":   with(3, "m=1024,t=1,p=256"),
		"memory overflow":    with(3, "m=4294967296,t=1,p=1"),
		"memory over bound":  with(3, fmt.Sprintf("m=%d,t=1,p=1", max.MemoryKiB+1)),
		"time over bound":    with(3, fmt.Sprintf("m=1024,t=%d,p=1", max.Time+1)),
		"threads over bound": with(3, fmt.Sprintf("m=1024,t=1,p=%d", max.Threads+1)),
		"huge memory":        with(3, "m=4294967295,t=1,p=1"),
		"huge time":          with(3, "m=1024,t=4294967295,p=1"),
		"salt not base64":    with(4, "!!!!"),
		"salt too short":     with(4, "AAAA"),
		"salt too long":      with(4, strings.Repeat("A", 200)),
		"digest not base64":  with(5, "***"),
		"digest empty":       with(5, ""),
		"digest too short":   with(5, "AAAAAAAAAAA"),
		"digest too long":    with(5, strings.Repeat("A", 400)),
		"padded base64":      with(5, parts[5]+"="),
	}
	for name, h := range tests {
		t.Run(name, func(t *testing.T) {
			start := time.Now()
			ok, err := auth.CheckPassword(h, "long enough pw")
			if err == nil || ok {
				t.Errorf("CheckPassword(%q) = %v, %v; want false and an error", h, ok, err)
			}
			// Refused before any hashing: a hostile hash costs nothing.
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("refusing %q took %v", h, d)
			}
		})
	}
	if ok, err := auth.CheckPassword(good, "long enough pw"); !ok || err != nil {
		t.Fatalf("the unaltered hash does not verify: %v %v", ok, err)
	}
}

// FuzzCheckPassword: arbitrary stored hashes and passwords never panic, an
// error never comes with a match, and the answer is the same twice.
func FuzzCheckPassword(f *testing.F) {
	good, err := auth.HashPassword("long enough pw", testKDF)
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{good, "", "$argon2id$v=19$m=1024,t=1,p=1$$", "$argon2id$v=19$m=0,t=1,p=255$AAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA",
		"$argon2id$v=19$m=99999999999,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA", "$argon2id$v=19$m=1,t=1,p=1,x=2$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA"} {
		f.Add(s, "long enough pw")
	}
	// Keep each execution cheap; the production bound is tested above.
	auth.LimitHashCost(f, crypto.KDFParams{MemoryKiB: 4096, Time: 2, Threads: 8})
	f.Fuzz(func(t *testing.T, hash, pw string) {
		ok, err := auth.CheckPassword(hash, pw)
		if err != nil && ok {
			t.Fatalf("CheckPassword(%q) matched with error %v", hash, err)
		}
		ok2, err2 := auth.CheckPassword(hash, pw)
		if ok2 != ok || (err2 == nil) != (err == nil) {
			t.Fatalf("CheckPassword(%q) not deterministic: %v/%v then %v/%v", hash, ok, err, ok2, err2)
		}
		if hash == good && ok != (pw == "long enough pw") {
			t.Fatalf("the real hash matched %q: %v", pw, ok)
		}
	})
}

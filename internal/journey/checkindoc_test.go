package journey

import (
	"testing"

	"caravana/internal/event"
)

func TestCheckinDocRoundTrip(t *testing.T) {
	for _, d := range []checkinDoc{
		{At: 1540000000000, Via: viaCheckin, By: "user/3f9a", stamp: stamp{T: event.MakeHLC(1540000000000, 3), N: "n-abc"}},
		{At: 0, Via: viaFound, By: "", stamp: stamp{}},
		{At: -5, Via: viaCheckin, By: "operator:a|b|c", stamp: stamp{T: 1, N: "x"}},
	} {
		got, err := decodeCheckinDoc(appendCheckinDoc(nil, d))
		if err != nil || got != d {
			t.Errorf("round trip of %+v = %+v, %v", d, got, err)
		}
	}
	for _, bad := range []string{"", "{}", `{"at":1}`, "c1|1|checkin|2|n", "c2|1|checkin|2|n|by", "c1|x|checkin|2|n|by", "c1|1|checkin|-2|n|by"} {
		if _, err := decodeCheckinDoc([]byte(bad)); err == nil {
			t.Errorf("decodeCheckinDoc(%q) took a malformed document", bad)
		}
	}
}

// FuzzCheckinDoc: whatever the bytes, decoding fails cleanly or gives a
// document that encodes back to the same bytes.
func FuzzCheckinDoc(f *testing.F) {
	f.Add([]byte("c1|1540000000000|checkin|123|n-abc|user/1"))
	f.Add([]byte("c1|||||"))
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := decodeCheckinDoc(data)
		if err != nil {
			return
		}
		again, err := decodeCheckinDoc(appendCheckinDoc(nil, d))
		if err != nil || again != d {
			t.Fatalf("%q: decoded %+v, re-encoded and decoded %+v, %v", data, d, again, err)
		}
	})
}

package cardcode

import "testing"

func TestLooksLike(t *testing.T) {
	good, err := New(fixedReader{})
	if err != nil {
		t.Fatal(err)
	}
	typo := []byte(good)
	typo[3] = Alphabet[(indexOf(typo[3])+1)%len(Alphabet)]
	tests := []struct {
		in   string
		want bool
	}{
		{good, true},
		{Format(good), true},
		{Format(string(typo)), true}, // a mistyped code is still a code: report the check error
		{"marialopez", false},        // ten letters: a name
		{"maria lopez", false},
		{"José", false},
		{"12345", false},
	}
	for _, tt := range tests {
		if got := LooksLike(tt.in); got != tt.want {
			t.Errorf("LooksLike(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

type fixedReader struct{}

// Read yields bytes that map to digits and letters alike.
func (fixedReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(i*7 + 3)
	}
	return len(p), nil
}

func indexOf(c byte) int {
	for i := 0; i < len(Alphabet); i++ {
		if Alphabet[i] == c {
			return i
		}
	}
	return -1
}

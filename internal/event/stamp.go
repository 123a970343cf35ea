package event

// Stamp is the (HLC, node) of the write that set a value: the order of
// last-writer-wins, and of first-writer-wins where the earliest is kept.
// Projections embed it in their documents (as "t" and "n").
type Stamp struct {
	T HLC    `json:"t"`
	N string `json:"n"`
}

// StampOf is e's stamp.
func StampOf(e *Event) Stamp { return Stamp{e.HLC, e.Node} }

// Before reports whether a was written before b; the zero stamp is before
// everything.
func (a Stamp) Before(b Stamp) bool { return a.T < b.T || (a.T == b.T && a.N < b.N) }

// Zero reports whether a is the zero stamp (nothing written yet).
func (a Stamp) Zero() bool { return a.T == 0 && a.N == "" }

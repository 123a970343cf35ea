package demo_test

import (
	"context"
	"testing"
	"time"

	"caravana/internal/auth"
	"caravana/internal/crypto"
	"caravana/internal/demo"
	"caravana/internal/node"
)

var testKDF = crypto.KDFParams{MemoryKiB: 1024, Time: 1, Threads: 1}

func newNode(t testing.TB) *node.Node {
	t.Helper()
	cfg := node.Config{Dir: t.TempDir(), Passphrase: "demo passphrase 1", KDF: testKDF, PasswordKDF: testKDF}
	n, err := node.Init(context.Background(), cfg, node.InitOptions{Name: "demo", AdminUser: "coordinator", AdminPassword: "long enough pw"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	return n
}

func TestLoadCaravan(t *testing.T) {
	ctx := context.Background()
	n := newNode(t)
	asOf := time.Now().UTC()
	c := demo.Generate(1, 7200, asOf)
	start := time.Now()
	got, err := demo.Load(ctx, n.Registry, n.Ledger, auth.Operator("test"), c)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("loaded %d people, %d households (%d events) in %v", got.People, got.Households, got.Events, time.Since(start))
	if got.People != 7200 || got.Events != 7200+len(c.Households) {
		t.Fatalf("loaded %+v", got)
	}
	st, err := n.Registry.Stats(ctx, auth.Operator("test"))
	if err != nil {
		t.Fatal(err)
	}
	if st.People != 7200 || st.Households != len(c.Households) {
		t.Fatalf("stats people=%d households=%d, want 7200 and %d", st.People, st.Households, len(c.Households))
	}
	if st.Children < 2000 || st.Children > 2600 {
		t.Errorf("children = %d, want about 2,300", st.Children)
	}
	rep, err := n.Ledger.Verify(ctx, false)
	if err != nil || !rep.OK() {
		t.Fatalf("verify: %v %v", rep.Problems, err)
	}
}

func BenchmarkLoad7200(b *testing.B) {
	ctx := context.Background()
	c := demo.Generate(1, 7200, time.Now())
	for b.Loop() {
		b.StopTimer()
		n := newNode(b)
		b.StartTimer()
		if _, err := demo.Load(ctx, n.Registry, n.Ledger, auth.Operator("bench"), c); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkStats7200 measures the dashboard's figures over the demo caravan:
// every sealed age, sex, nationality and flag is opened in memory.
func BenchmarkStats7200(b *testing.B) {
	ctx := context.Background()
	n := newNode(b)
	if _, err := demo.Load(ctx, n.Registry, n.Ledger, auth.Operator("bench"), demo.Generate(1, 7200, time.Now())); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := n.Registry.Stats(ctx, auth.Operator("bench")); err != nil {
			b.Fatal(err)
		}
	}
}

func services(n *node.Node) demo.Services {
	return demo.Services{Registry: n.Registry, Journey: n.Journey, Supply: n.Supply, Ledger: n.Ledger}
}

package prefetch

import (
	"testing"
)

type node struct{ v int64 }

// Lines takes nil, empty and nil-holding slices, and leaves what it is
// given as it was.
func TestLines(t *testing.T) {
	Lines[node](nil)
	Lines([]*node{})
	Lines([]*node{nil})
	Lines(make([]*node, 100)) // all nil

	nodes := make([]node, 1000)
	ps := make([]*node, 0, len(nodes)+10)
	for i := range nodes {
		nodes[i].v = int64(i)
		ps = append(ps, &nodes[i])
		if i%100 == 0 {
			ps = append(ps, nil)
		}
	}
	for n := 0; n <= len(ps); n += 37 {
		Lines(ps[:n])
	}
	Lines(ps)
	Lines(ps[len(ps)-1:]) // one pointer, at the end of the slice
	k := 0
	for i, p := range ps {
		if p == nil {
			continue
		}
		if p != &nodes[k] || p.v != int64(k) {
			t.Fatalf("ps[%d] changed", i)
		}
		k++
	}
}

func BenchmarkLines(b *testing.B) {
	nodes := make([]node, 32)
	ps := make([]*node, len(nodes))
	for i := range nodes {
		ps[i] = &nodes[i]
	}
	for b.Loop() {
		Lines(ps)
	}
}

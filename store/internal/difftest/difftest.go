// Package difftest applies the same random batches to a reference Store
// (store/memory) and to a Store under test and fails on the first
// difference in what Apply reports or what the stores then hold. It
// explores the corners of the Batch rules (the same event several times in
// one batch, deletes and re-creations, equal timestamps, generations and
// sweeps) that hand-written cases miss.
package difftest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/calsync/calsync"
	"github.com/calsync/calsync/store/memory"
)

var base = time.Date(2031, 5, 6, 7, 8, 9, 0, time.UTC)

// Run applies rounds random batches to a fresh memory Store and to s, in a
// calendar named cal that Run creates in both.
func Run(t *testing.T, s calsync.Store, cal string, seed uint64, rounds int) {
	t.Helper()
	ctx := context.Background()
	ref := memory.New()
	for _, st := range []calsync.Store{ref, s} {
		if err := st.PutCalendar(ctx, calsync.Calendar{ID: cal, Provider: "google"}); err != nil {
			t.Fatal(err)
		}
	}
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	var gen int64
	for round := range rounds {
		b := &calsync.Batch{State: calsync.SyncState{PageToken: fmt.Sprint(round)}}
		if r.IntN(3) == 0 {
			gen++
			b.Generation = gen
			b.Sweep = r.IntN(2) == 0
		}
		for range 1 + r.IntN(8) {
			id := fmt.Sprintf("e%d", r.IntN(6))
			updated := base.Add(time.Duration(r.IntN(5)) * time.Second)
			switch r.IntN(4) {
			case 0:
				var ev *calsync.Event
				switch r.IntN(3) {
				case 0: // no event
				case 1:
					ev = &calsync.Event{ID: id, Status: "cancelled"}
				case 2:
					ev = &calsync.Event{ID: id, Status: "cancelled", Updated: updated}
				}
				b.Changes = append(b.Changes, calsync.Change{Op: calsync.Delete, EventID: id, Event: ev})
			default:
				etag := fmt.Sprint(r.IntN(2))
				b.Changes = append(b.Changes, calsync.Change{Op: calsync.Upsert, EventID: id, Event: &calsync.Event{
					ID: id, Status: "confirmed", Summary: id + "@" + etag, ETag: etag, Updated: updated,
					Raw: []byte(fmt.Sprintf(`{"id":%q,"etag":%q}`, id, etag)),
				}})
			}
		}
		want, werr := ref.Apply(ctx, cal, b)
		got, gerr := s.Apply(ctx, cal, b)
		if (werr != nil) != (gerr != nil) {
			t.Fatalf("round %d (seed %d): Apply error %v, reference %v\nbatch: %s", round, seed, gerr, werr, describe(b))
		}
		if werr != nil {
			continue
		}
		if d := diffResult(got, want); d != "" {
			t.Fatalf("round %d (seed %d): %s\nbatch: %s", round, seed, d, describe(b))
		}
		if d := diffContents(ctx, s, ref, cal); d != "" {
			t.Fatalf("round %d (seed %d): after Apply %s\nbatch: %s", round, seed, d, describe(b))
		}
	}
}

func describe(b *calsync.Batch) string {
	out := fmt.Sprintf("gen=%d sweep=%v", b.Generation, b.Sweep)
	for _, c := range b.Changes {
		out += " " + c.Op.String() + ":" + c.EventID
		if c.Event != nil {
			out += fmt.Sprintf("(%s,%s)", c.Event.ETag, c.Event.Updated.Format("05"))
		}
	}
	return out
}

func change(c calsync.Change) string {
	s := c.Op.String() + ":" + c.EventID
	if c.Op == calsync.Upsert && c.Event != nil {
		s += fmt.Sprintf("(v%d,%s,%s)", c.Event.Version, c.Event.ETag, c.Event.Updated.UTC().Format(time.RFC3339))
	}
	return s
}

func diffResult(got, want *calsync.ApplyResult) string {
	var g, w []string
	for _, c := range got.Applied {
		g = append(g, change(c))
	}
	for _, c := range want.Applied {
		w = append(w, change(c))
	}
	if !slices.Equal(g, w) || got.Stale != want.Stale {
		return fmt.Sprintf("Apply reported %v stale %d, reference %v stale %d", g, got.Stale, w, want.Stale)
	}
	return ""
}

func contents(ctx context.Context, s calsync.Store, cal string) ([]string, error) {
	evs, err := s.ListEvents(ctx, cal, "", 1000)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range evs {
		out = append(out, fmt.Sprintf("%s(v%d,%s,%s,%s)", e.ID, e.Version, e.ETag, e.Summary, e.Updated.UTC().Format(time.RFC3339)))
	}
	return out, nil
}

func diffContents(ctx context.Context, s, ref calsync.Store, cal string) string {
	g, err := contents(ctx, s, cal)
	if err != nil {
		return err.Error()
	}
	w, err := contents(ctx, ref, cal)
	if err != nil {
		return err.Error()
	}
	if !slices.Equal(g, w) {
		return fmt.Sprintf("store holds %v, reference %v", g, w)
	}
	gs, _ := s.SyncState(ctx, cal)
	ws, _ := ref.SyncState(ctx, cal)
	if gs.PageToken != ws.PageToken {
		return fmt.Sprintf("SyncState %+v, reference %+v", gs, ws)
	}
	return ""
}

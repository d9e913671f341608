package main

import (
	"context"
	"log/slog"
	"slices"
	"testing"

	"github.com/tandem-cc/tandem/internal/redistest"
)

type flag bool

func (f flag) Connected() bool { return bool(f) }
func (f flag) Ready() bool     { return bool(f) }

// TestReadinessNamesTheSeat: /readyz's check names "seat" while the home
// seat is not held or the replica drains, apart from the PBX socket.
func TestReadinessNamesTheSeat(t *testing.T) {
	rdb := redistest.Client(t)
	log := slog.New(slog.DiscardHandler)
	for _, tc := range []struct {
		pbx, seat flag
		want      []string
	}{
		{true, true, nil},
		{true, false, []string{"seat"}},
		{false, true, []string{"pbx"}},
		{false, false, []string{"seat", "pbx"}},
	} {
		got := readiness(tc.pbx, tc.seat, rdb, log)(context.Background())
		if !slices.Equal(got, tc.want) {
			t.Errorf("pbx %v seat %v: missing %v, want %v", tc.pbx, tc.seat, got, tc.want)
		}
	}
}

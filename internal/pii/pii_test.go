package pii

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

func TestMaskKeepsTheLastFourDigits(t *testing.T) {
	for in, want := range map[string]string{
		"+15550001234": "********1234",
		"5557777":      "***7777",
		"1001":         "****",
		"12":           "**",
		"":             "",
	} {
		if got := Mask(in); got != want {
			t.Errorf("Mask(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestAttrByMode(t *testing.T) {
	const ani = "+15550001234"
	for _, tc := range []struct {
		mode      NumberMode
		level     slog.Level
		attr      string
		fullLines int // lines that carry the number in full
	}{
		{NumberMasked, slog.LevelDebug, "********1234", 0},
		{NumberDebug, slog.LevelInfo, "********1234", 0},
		{NumberDebug, slog.LevelDebug, "********1234", 1},
		{NumberFull, slog.LevelInfo, ani, 1},
		{"", slog.LevelDebug, "********1234", 0}, // unset = masked
	} {
		var b bytes.Buffer
		log := slog.New(slog.NewTextHandler(&b, &slog.HandlerOptions{Level: tc.level}))
		a := tc.mode.Attr(log, "ani", ani)
		if a.Value.String() != tc.attr {
			t.Errorf("%q at %v: attr %q, want %q", tc.mode, tc.level, a.Value, tc.attr)
		}
		log.Info("call arrived", a)
		if n := strings.Count(b.String(), ani); n != tc.fullLines {
			t.Errorf("%q at %v: %d lines with the full number, want %d:\n%s", tc.mode, tc.level, n, tc.fullLines, b.String())
		}
	}
}

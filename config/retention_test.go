package config

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// TestRetentionDefaultsAndBadValues: the defaults keep a logged-out
// agent a week and drop secure values at the end of the call; bad values
// are refused naming their key.
func TestRetentionDefaultsAndBadValues(t *testing.T) {
	c := Default()
	if c.Retention.LoggedOutAgents != 7*24*time.Hour || c.Retention.SecureValues != 0 {
		t.Fatalf("defaults %+v", c.Retention)
	}
	for _, tc := range []struct {
		key string
		r   Retention
	}{
		{"retention.logged_out_agents", Retention{LoggedOutAgents: 0}},
		{"retention.logged_out_agents", Retention{LoggedOutAgents: time.Second}},
		{"retention.secure_values", Retention{LoggedOutAgents: time.Hour, SecureValues: -time.Second}},
		{"retention.secure_values", Retention{LoggedOutAgents: time.Hour, SecureValues: time.Microsecond}},
		{"retention.secure_values", Retention{LoggedOutAgents: time.Hour, SecureValues: 8 * 24 * time.Hour}},
	} {
		c := valid()
		c.Retention = tc.r
		var ke *KeyError
		if err := c.Validate(); !errors.As(err, &ke) || ke.Key != tc.key || !strings.Contains(err.Error(), tc.key) {
			t.Errorf("%+v: %v, want a refusal of %s", tc.r, err, tc.key)
		}
	}
	c = valid()
	c.Retention = Retention{LoggedOutAgents: time.Minute, SecureValues: 7 * 24 * time.Hour}
	if err := c.Validate(); err != nil {
		t.Errorf("bounds refused: %v", err)
	}
}

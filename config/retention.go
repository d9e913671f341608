package config

import "time"

// Retention says how long Tandem keeps what it no longer needs in Redis
// (the configuration's retention section).
type Retention struct {
	// LoggedOutAgents is how long a logged-out agent's record is kept
	// (agent:<id>): it expires that long after the logout, and a login
	// before then keeps it for good again. Without it every id that ever
	// logged in would stay in Redis.
	LoggedOutAgents time.Duration `mapstructure:"logged_out_agents"`
	// SecureValues is how long the values of secure variables (a secure
	// IVR entry, a channel variable a queue declares secure) are kept in
	// clear after their interaction ends: 0 drops them as the interaction
	// ends, in the same script. The variable's name stays, its value
	// becomes "[dropped]". At most a week: the interaction's record itself
	// is kept a week.
	SecureValues time.Duration `mapstructure:"secure_values"`
}

// The defaults of the retention section (load.go's defaults map).
const (
	DefaultLoggedOutAgentsRetention = 7 * 24 * time.Hour
	// MaxSecureValuesRetention is the retention of a finished
	// interaction's record: a secure value cannot outlive it.
	MaxSecureValuesRetention = 7 * 24 * time.Hour
)

// validate checks the retention section; bad names the key.
func (r Retention) validate(bad func(key, format string, args ...any)) {
	if r.LoggedOutAgents < time.Minute {
		bad("retention.logged_out_agents", "must be at least 1m (a logged-out agent's record expires that long after the logout)")
	}
	switch {
	case r.SecureValues < 0:
		bad("retention.secure_values", "must not be negative (0 drops secure values when the interaction ends)")
	case r.SecureValues > 0 && r.SecureValues < time.Millisecond:
		bad("retention.secure_values", "must be 0 or at least 1ms")
	case r.SecureValues > MaxSecureValuesRetention:
		bad("retention.secure_values", "must be at most %s (the interaction's record is kept that long)", MaxSecureValuesRetention)
	}
}

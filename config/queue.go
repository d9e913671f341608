package config

import "log/slog"

// NewQueue returns a queue with the settings Load gives a queue the file
// declares without them. A Config built in code starts its queues from it:
// Validate refuses the zero strategy, weight and service level.
func NewQueue() Queue {
	return Queue{
		Strategy:     DefaultStrategy,
		Weight:       DefaultWeight,
		ServiceLevel: DefaultServiceLevel,
		Hours:        Hours{TimeZone: DefaultTimeZone},
	}
}

// QueueSettings returns the effective settings of a configured queue, with
// zero values replaced by the routing defaults; false when no queue of
// that name is configured. Names are lower case (viper lower-cases map
// keys on load).
func (c Config) QueueSettings(name string) (Queue, bool) {
	q, ok := c.Queues[name]
	if !ok {
		return Queue{}, false
	}
	if q.RingTimeout <= 0 {
		q.RingTimeout = c.Routing.RingTimeout
	}
	return q, true
}

// LogValue lets a replica log its configuration at start without leaking
// secrets: passwords and tokens are replaced by whether they are set.
func (c Config) LogValue() slog.Value {
	set := func(s string) string {
		if s == "" {
			return ""
		}
		return "[set]"
	}
	return slog.GroupValue(
		slog.String("node_id", c.NodeID),
		slog.Group("redis",
			slog.String("addr", c.Redis.Addr),
			slog.Any("addrs", c.Redis.Addrs),
			slog.String("master_name", c.Redis.MasterName),
			slog.String("sentinel_password", set(c.Redis.SentinelPassword)),
			slog.String("password", set(c.Redis.Password)),
			slog.Int("db", c.Redis.DB),
			slog.String("prefix", c.Redis.Prefix)),
		slog.Group("ari",
			slog.String("url", c.ARI.URL),
			slog.String("ws_url", c.ARI.WSURL),
			slog.String("username", c.ARI.Username),
			slog.String("password", set(c.ARI.Password)),
			slog.String("app", c.ARI.App),
			slog.Duration("request_timeout", c.ARI.RequestTimeout),
			slog.String("formats", c.ARI.Formats),
			slog.Duration("ping_interval", c.ARI.PingInterval),
			slog.Duration("pong_timeout", c.ARI.PongTimeout),
			slog.Duration("reconnect_backoff", c.ARI.ReconnectBackoff),
			slog.Duration("reconnect_backoff_max", c.ARI.ReconnectBackoffMax),
			slog.Any("attached_vars", c.ARI.AttachedVars)),
		slog.Group("http", slog.String("listen", c.HTTP.Listen)),
		slog.Group("auth",
			slog.Int("agents", len(c.Auth.Agents)),
			slog.Int("supervisors", len(c.Auth.Supervisors))),
		slog.Group("routing",
			slog.String("default_queue", c.Routing.DefaultQueue),
			slog.Int("dnis", len(c.Routing.DNIS)),
			slog.Duration("ring_timeout", c.Routing.RingTimeout),
			slog.Duration("sweep_interval", c.Routing.SweepInterval),
			slog.Int("max_concurrent_calls", c.Routing.MaxConcurrentCalls),
			slog.String("busy_message", c.Routing.BusyMessage.String()),
			slog.String("blind_transfer_no_answer", c.Routing.BlindTransferNoAnswer)),
		slog.Int("queues", len(c.Queues)),
		slog.Group("ivr",
			slog.Int("entry_points", len(c.IVR.EntryPoints)),
			slog.Int("nodes", len(c.IVR.Nodes))),
		slog.Group("agents",
			slog.Any("idle_reasons", c.Agents.IdleReasons),
			slog.Group("wrapup",
				slog.Duration("timeout", c.Agents.WrapUp.Timeout),
				slog.Any("codes", c.Agents.WrapUp.Codes),
				slog.String("default_code", c.Agents.WrapUp.DefaultCode))),
		slog.Group("dial",
			slog.String("endpoint", c.Dial.Endpoint),
			slog.String("default_region", c.Dial.DefaultRegion),
			slog.String("caller_id", c.Dial.CallerID),
			slog.Duration("ring_timeout", c.Dial.RingTimeout)),
		slog.Group("recording",
			slog.Duration("privacy_shield", c.Recording.PrivacyShield),
			slog.String("format", c.Recording.Format)),
		slog.Group("log",
			slog.String("level", c.Log.Level),
			slog.String("format", c.Log.Format)),
	)
}

package config

import (
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/tandem-cc/tandem/web"
)

// Web is the agent desktop and the supervisor wallboard the replica
// serves (package web) beside the API.
type Web struct {
	// Enabled serves the pages at /, /desktop/, /wallboard/ and /assets/.
	Enabled bool `mapstructure:"enabled"`
	// Replicas are the base URLs (http or https, a host and an optional
	// port, no path, e.g. "http://10.0.0.1:8080") of the replicas the
	// pages may use, in the
	// order they try them; empty: the replica that served the page only.
	// The pages reach them cross-origin: list each page's origin in every
	// replica's http.allowed_origins.
	Replicas []string `mapstructure:"replicas"`
}

// Wallboard is the queue history the wallboard charts.
type Wallboard struct {
	// SampleInterval is how often each queue's depth and service level
	// are sampled (one sample per interval across the replicas, the last
	// hour kept in Redis).
	SampleInterval time.Duration `mapstructure:"sample_interval"`
}

// Bounds of wallboard.sample_interval: below a second the samples cost
// more than they show; above half an hour the hour's chart has one point.
const (
	MinSampleInterval = time.Second
	MaxSampleInterval = 30 * time.Minute
)

// ReplicaBases are web.replicas without trailing slashes: the base a page
// puts "/v1/..." after.
func (w Web) ReplicaBases() []string {
	out := make([]string, len(w.Replicas))
	for i, r := range w.Replicas {
		out[i] = strings.TrimRight(r, "/")
	}
	return out
}

// checkWeb checks web.*, wallboard.* and http.allowed_origins.
func checkWeb(bad func(string, string, ...any), c Config) {
	for i, o := range c.HTTP.AllowedOrigins {
		if msg := checkOrigin(o); msg != "" {
			bad(fmt.Sprintf("http.allowed_origins[%d]", i), "%s", msg)
		}
	}
	for i, r := range c.Web.Replicas {
		if msg := checkBaseURL(r); msg != "" {
			bad(fmt.Sprintf("web.replicas[%d]", i), "%s", msg)
		}
	}
	if d := c.Wallboard.SampleInterval; d < MinSampleInterval || d > MaxSampleInterval {
		bad("wallboard.sample_interval", "must be %s..%s", MinSampleInterval, MaxSampleInterval)
	}
}

// checkOrigin returns what is wrong with a web origin, or "": exactly
// scheme://host[:port] as a browser sends it in Origin (lower case, no
// default port, no path), since the API compares origins as strings.
func checkOrigin(o string) string {
	const form = "must be an origin, scheme://host[:port], e.g. http://10.0.0.1:8080"
	u, err := url.Parse(o)
	switch {
	case err != nil || u.Host == "" || u.Opaque != "":
		return form
	case u.Scheme != "http" && u.Scheme != "https":
		return "scheme must be http or https"
	case u.User != nil || u.Path != "" || u.RawQuery != "" || u.Fragment != "" || strings.HasSuffix(o, "?") || strings.HasSuffix(o, "#"):
		return form + " (no user, path, trailing /, query or fragment)"
	case o != strings.ToLower(o):
		return "must be lower case, as browsers send it"
	case (u.Scheme == "http" && u.Port() == "80") || (u.Scheme == "https" && u.Port() == "443"):
		return "leave the default port out, as browsers do"
	case u.Port() == "" && strings.HasSuffix(u.Host, ":"):
		return form
	}
	return ""
}

// checkBaseURL returns what is wrong with a replica's base URL, or "". The
// rule is the pages' (web.CheckReplica): the Content-Security-Policy can
// only allow a replica as an origin, so a base with a path, which the
// policy would leave out and the browser then refuse to reach, is refused
// here rather than found out in a browser.
func checkBaseURL(r string) string {
	if err := web.CheckReplica(r); err != nil {
		return err.Error() + ", e.g. http://10.0.0.1:8080"
	}
	return ""
}

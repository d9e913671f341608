package cad

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/tandem-cc/tandem/errs"
	"github.com/tandem-cc/tandem/internal/luascript"
)

// Store keeps each interaction's variables in Redis, versioned: an edit
// names the version it was based on and loses to any edit made since.
type Store struct {
	rdb  redis.UniversalClient
	keys keys
	log  *slog.Logger
}

// NewStore returns a store under prefix (the same prefix as the ACD's
// store). log may be nil.
func NewStore(rdb redis.UniversalClient, prefix string, log *slog.Logger) *Store {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Store{rdb: rdb, keys: newKeys(prefix), log: log}
}

// AuditStream is the key of the stream reveals are recorded in.
func (s *Store) AuditStream() string { return s.keys.audit() }

// Init stores an interaction's first values at version 1 and returns its
// view. Only names defs defines are kept; values are kept as given, not
// type-checked, because they come from the PBX or IVR, not from a person,
// and dropping them would lose data the agent may need. If the interaction
// already has variables (a retry, a takeover), they are left as they are
// and returned.
func (s *Store) Init(ctx context.Context, conn string, defs []Variable, values map[string]string) (View, error) {
	names := make([]string, 0, len(values))
	for name := range values {
		if _, ok := lookup(defs, name); ok {
			names = append(names, name)
		}
	}
	sort.Strings(names) // deterministic ARGV, easier to read in MONITOR
	secure, err := secureNames(defs)
	if err != nil {
		return View{}, fmt.Errorf("init variables of %s: %w", conn, err)
	}
	args := make([]any, 0, 1+2*len(names))
	args = append(args, secure)
	for _, name := range names {
		args = append(args, valueField(name), values[name])
	}
	v, err := scriptInit.Run(ctx, s.rdb, []string{s.keys.cad(conn)}, args...).Result()
	if err != nil {
		return View{}, fmt.Errorf("init variables of %s: %w", conn, err)
	}
	view, err := buildView("init", conn, defs, v)
	if err != nil {
		return View{}, fmt.Errorf("init variables of %s: %w", conn, err)
	}
	return view, nil
}

// View returns an interaction's variables: every variable defs defines, in
// display order, secure values masked.
func (s *Store) View(ctx context.Context, conn string, defs []Variable) (View, error) {
	h, err := s.rdb.HGetAll(ctx, s.keys.cad(conn)).Result()
	if err != nil {
		return View{}, fmt.Errorf("read variables of %s: %w", conn, err)
	}
	if len(h) == 0 {
		return View{}, fmt.Errorf("variables of %s: %w", conn, ErrNotFound)
	}
	return viewFromHash(conn, defs, h)
}

// Edit sets variable name to value if the variables are still at
// baseVersion, and returns the new view. It refuses an unknown name
// (ErrUnknownVariable), a name Tandem sets itself (Reserved), a variable
// that is not editable or a value of the wrong type (*ValueError), and an edit that lost a race (*ConflictError,
// carrying the current view, which also matches ErrConflict).
func (s *Store) Edit(ctx context.Context, conn string, defs []Variable, name, value string, baseVersion int64) (View, error) {
	// A queue may show a name Tandem sets (callback_id in the pop), but
	// no agent may change it, whatever its definition says.
	if err := CheckName(name); err != nil {
		return View{}, err
	}
	def, ok := lookup(defs, name)
	if !ok {
		return View{}, fmt.Errorf("edit %s of %s: %w", name, conn, ErrUnknownVariable)
	}
	if !def.Editable {
		return View{}, &ValueError{Name: name, Rule: RuleReadOnly, Msg: "is read-only"}
	}
	if err := CheckValue(def, value); err != nil {
		return View{}, err
	}
	secureName := ""
	if def.Secure {
		secureName = name
	}
	v, err := scriptEdit.Run(ctx, s.rdb, []string{s.keys.cad(conn)}, valueField(name), value, baseVersion, secureName).Result()
	if err != nil {
		if isNotFound(err) {
			return View{}, fmt.Errorf("edit %s of %s: %w", name, conn, ErrNotFound)
		}
		return View{}, fmt.Errorf("edit %s of %s: %w", name, conn, err)
	}
	reply, err := luascript.List("edit", v)
	if err == nil && len(reply) != 2 {
		err = fmt.Errorf("script edit: reply of %d items, want 2: %w", len(reply), errs.ErrBadReply)
	}
	if err != nil {
		return View{}, fmt.Errorf("edit %s of %s: %w", name, conn, err)
	}
	applied, err := luascript.Int("edit", reply[0])
	if err != nil {
		return View{}, fmt.Errorf("edit %s of %s: %w", name, conn, err)
	}
	view, err := buildView("edit", conn, defs, reply[1])
	if err != nil {
		return View{}, fmt.Errorf("edit %s of %s: %w", name, conn, err)
	}
	if applied != 1 {
		return View{}, &ConflictError{Name: name, Current: view}
	}
	s.log.LogAttrs(ctx, slog.LevelDebug, "variable edited",
		slog.String("connection_id", conn), slog.String("name", name),
		slog.Any("value", logged(def, value)), slog.Int64("version", view.Version))
	return view, nil
}

// Reveal returns variable name of conn in clear and records who asked in
// the audit stream, in one script: actor is who asked ("agent:1002",
// "supervisor:alice"), agent the agent on whose call, and on whose
// behalf, it was shown ("" when none). It is meant for secure variables;
// a non-secure one is returned (and audited) too, so a desktop need not
// know which is which. The value is never logged.
func (s *Store) Reveal(ctx context.Context, conn string, defs []Variable, name, actor, agent string) (string, error) {
	if _, ok := lookup(defs, name); !ok {
		return "", fmt.Errorf("reveal %s of %s: %w", name, conn, ErrUnknownVariable)
	}
	if strings.TrimSpace(actor) == "" {
		return "", fmt.Errorf("reveal %s of %s: no user to audit", name, conn)
	}
	reply, err := scriptReveal.Run(ctx, s.rdb, []string{s.keys.cad(conn), s.keys.audit()},
		valueField(name), conn, name, actor, agent).Result()
	if err != nil {
		if isNotFound(err) {
			return "", fmt.Errorf("reveal %s of %s: %w", name, conn, ErrNotFound)
		}
		return "", fmt.Errorf("reveal %s of %s: %w", name, conn, err)
	}
	v, err := luascript.String("reveal", reply)
	if err != nil {
		return "", fmt.Errorf("reveal %s of %s: %w", name, conn, err)
	}
	secret := Secret(v)
	s.log.LogAttrs(ctx, slog.LevelInfo, "variable revealed",
		slog.String("connection_id", conn), slog.String("name", name), slog.String("actor", actor), slog.String("agent_id", agent))
	return secret.Plain(), nil
}

// secureNames are the names of the secure variables of defs as the JSON
// array init.lua keeps ("_secure"), "" for none.
func secureNames(defs []Variable) (string, error) {
	var names []string
	for _, d := range defs {
		if d.Secure {
			names = append(names, d.Name)
		}
	}
	if len(names) == 0 {
		return "", nil
	}
	sort.Strings(names)
	data, err := json.Marshal(names)
	if err != nil {
		return "", fmt.Errorf("secure names: %w", err)
	}
	return string(data), nil
}

// logged is what a log line may carry of a value.
func logged(def Variable, v string) any {
	if def.Secure {
		return Secret(v)
	}
	return v
}

// isNotFound tells a script's "NOTFOUND cad" error reply. (Redis would put
// "ERR " in front of a one-word error reply; the trim keeps this robust.)
func isNotFound(err error) bool {
	var re redis.Error
	return errors.As(err, &re) && strings.HasPrefix(strings.TrimPrefix(re.Error(), "ERR "), "NOTFOUND")
}

// buildView decodes a hash as script returns it (field, value, ...).
func buildView(script, conn string, defs []Variable, reply any) (View, error) {
	flat, err := luascript.Strings(script, reply)
	if err != nil {
		return View{}, err
	}
	if len(flat)%2 != 0 {
		return View{}, fmt.Errorf("script %s: hash of %d items: %w", script, len(flat), errs.ErrBadReply)
	}
	h := make(map[string]string, len(flat)/2)
	for i := 0; i+1 < len(flat); i += 2 {
		h[flat[i]] = flat[i+1]
	}
	return viewFromHash(conn, defs, h)
}

func viewFromHash(conn string, defs []Variable, h map[string]string) (View, error) {
	version, err := strconv.ParseInt(h[versionField], 10, 64)
	if err != nil {
		return View{}, fmt.Errorf("variables of %s: bad version %q", conn, h[versionField])
	}
	view := View{ConnectionID: conn, Version: version, Values: make([]Value, 0, len(defs))}
	for _, d := range displayOrder(defs) {
		view.Values = append(view.Values, value(d, h[valueField(d.Name)]))
	}
	return view, nil
}

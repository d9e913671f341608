package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/tandem-cc/tandem/acd"
	"github.com/tandem-cc/tandem/ari"
	"github.com/tandem-cc/tandem/config"
	"github.com/tandem-cc/tandem/esl"
	"github.com/tandem-cc/tandem/pbxmux"
	"github.com/tandem-cc/tandem/pbxnode"
)

// seatPBX is what a seat's engine drives and /readyz asks: the PBX port,
// and whether every PBX behind it is connected.
type seatPBX interface {
	acd.PBX
	Connected() bool
}

// pbxFactory builds the PBX of a seat from the configured nodes: the
// node's driver itself when there is one node (a config without a pbx
// section is today's one Asterisk from the ari section, unchanged), a
// pbxmux over one driver per node when there are several. The process's
// own seat and every hosted seat get one each, for their application.
type pbxFactory struct {
	cfg   config.Config
	nodes []config.PBXNode
	// ariHTTP is one HTTP client per Asterisk node, shared by every
	// seat's driver for that node (its keep-alive pool is per node).
	ariHTTP map[string]*http.Client
}

// newPBXFactory checks what the configuration asks for can be built.
// Validate has checked the rest.
func newPBXFactory(cfg config.Config) (*pbxFactory, error) {
	f := &pbxFactory{cfg: cfg, nodes: cfg.PBXNodes(), ariHTTP: map[string]*http.Client{}}
	for i, n := range f.nodes {
		switch n.Kind {
		case pbxnode.Asterisk:
			f.ariHTTP[n.Name] = ari.NewHTTPClient(n.IdleConns)
		case pbxnode.FreeSWITCH:
		default:
			return nil, fmt.Errorf("pbx.nodes[%d].kind: unknown PBX kind %q", i, n.Kind)
		}
	}
	return f, nil
}

// outboundNode is a FreeSWITCH node in outbound mode and the home seat's
// driver for it: serve listens on listen and hands the socket
// application's connections to d (esl.Driver.ServeOutbound).
type outboundNode struct {
	name, listen string
	d            *esl.Driver
}

// build returns the PBX of the seat whose application is app, logging
// to log (a hosted seat's logger names the seat), and its drivers of
// outbound-mode nodes: only the home seat listens for those (a hosted
// seat's calls were taken by their own replica; a socket action that
// reaches this one for them is held by the home seat's listener).
func (f *pbxFactory) build(app string, log *slog.Logger) (seatPBX, []outboundNode, error) {
	var outs []outboundNode
	drv := func(n config.PBXNode, log *slog.Logger) seatPBX {
		p, d := f.driver(n, app, log)
		if d != nil && n.Mode == config.ModeOutbound {
			outs = append(outs, outboundNode{name: n.Name, listen: n.Listen, d: d})
		}
		return p
	}
	if len(f.nodes) == 1 {
		return drv(f.nodes[0], log), outs, nil
	}
	nodes := make([]pbxmux.Node, len(f.nodes))
	for i, n := range f.nodes {
		nodes[i] = pbxmux.Node{Name: n.Name, PBX: drv(n, log.With("pbx_node", n.Name))}
	}
	mux, err := pbxmux.New(pbxmux.Options{Nodes: nodes, Trunks: f.cfg.PBXTrunks(), Logger: log})
	if err != nil {
		return nil, nil, fmt.Errorf("pbx: %w", err)
	}
	return mux, outs, nil
}

// driver is the driver of one node for app, and the esl driver itself
// for a FreeSWITCH node (nil for an Asterisk one).
func (f *pbxFactory) driver(n config.PBXNode, app string, log *slog.Logger) (seatPBX, *esl.Driver) {
	if n.Kind == pbxnode.Asterisk {
		return ari.New(ari.Options{
			HTTPClient: f.ariHTTP[n.Name],
			URL:        n.URL, WSURL: n.WSURL, Username: n.Username, Password: n.Password,
			App: app, RequestTimeout: n.RequestTimeout, AttachedVars: f.cfg.PBXAttachedVars(),
			Formats: n.Formats, PingInterval: n.PingInterval, PongTimeout: n.PongTimeout,
			ReconnectBackoff: n.ReconnectBackoff, ReconnectBackoffMax: n.ReconnectBackoffMax,
			RecordingFormat: f.cfg.Recording.Format, Logger: log,
		}), nil
	}
	format := n.RecordingFormat
	if format == "" {
		format = f.cfg.Recording.Format // Validate checked FreeSWITCH records it
	}
	d := esl.New(esl.Options{
		Addr: n.ESLAddr(), Password: n.Password, App: app,
		RequestTimeout: n.RequestTimeout, AttachedVars: f.cfg.PBXAttachedVars(),
		RecordingsDir: n.RecordingsDir, RecordingFormat: format, SoundsDir: n.SoundsDir,
		ReconnectBackoff: n.ReconnectBackoff, ReconnectBackoffMax: n.ReconnectBackoffMax,
		Logger: log,
	})
	if n.MOHClass == "" {
		return d, d
	}
	return defaultMOH{seatPBX: d, class: n.MOHClass}, d
}

// defaultMOH plays the node's moh_class where the engine asks for the
// default music (a queue that names no class): the driver's own default
// is local_stream://default, and a FreeSWITCH's classes are its own.
type defaultMOH struct {
	seatPBX
	class string
}

func (d defaultMOH) StartMusic(ctx context.Context, leg, class string) error {
	if class == "" {
		class = d.class
	}
	return d.seatPBX.StartMusic(ctx, leg, class)
}

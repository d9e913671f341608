package eslsim

import "context"

// protocol is a placeholder for the protocol half (branch eslproto) so the
// switch half compiles and is tested on its own. The integrator deletes
// this file at merge. It records what the switch publishes for tests.
type protocol struct {
	observe func(Event)
	apps    []string
	ended   func(uuid string)
	dial    func(ctx context.Context, addrs []string, uuid string) error
}

func newProtocol(sw switchboard, opts Options) *protocol {
	return &protocol{observe: opts.observe}
}

func (p *protocol) publish(ev Event) {
	if p.observe != nil {
		p.observe(ev)
	}
}

func (p *protocol) owners() []string { return p.apps }

func (p *protocol) sessionEnded(uuid string) {
	if p.ended != nil {
		p.ended(uuid)
	}
}

func (p *protocol) dialOutbound(ctx context.Context, addrs []string, uuid string) error {
	if p.dial != nil {
		return p.dial(ctx, addrs, uuid)
	}
	return nil
}

func (p *protocol) close() {}

package eslsim

import (
	"context"
	"net"
)

// Serve accepts inbound event-socket connections (FreeSWITCH's port 8021)
// on ln until ctx ends or the simulator closes.
func (s *Sim) Serve(ctx context.Context, ln net.Listener) error {
	return s.proto.serve(ctx, ln)
}

// DropConnections cuts the TCP connections that carry a
// `filter variable_tandem_app <owner>` (a replica losing its socket).
func (s *Sim) DropConnections(owner string) { s.proto.dropConnections(owner) }

// FreezeConnections makes those connections half-open: they stay open but
// nothing is read or written on them any more.
func (s *Sim) FreezeConnections(owner string) { s.proto.freezeConnections(owner) }

package acd

import "context"

// destroyOrphanBridge destroys the bridge named after conn, a call that was
// just ended without its actor (an offer for a call this node no longer
// runs, a callback interaction a dead holder left): Asterisk keeps an ARI
// bridge until it is destroyed, and the actor that would have destroyed it
// is gone (the chaos test found such bridges, empty, left by callbacks
// whose seat moved). A bridge that is not there is fine.
func (e *Engine) destroyOrphanBridge(ctx context.Context, conn string) {
	if e.pbx == nil {
		return // an engine without a PBX (store tests) has no bridge
	}
	if err := e.pbx.DestroyBridge(ctx, conn); err != nil {
		e.log.Warn("destroy the bridge of a call ended without its actor", "connection_id", conn, "err", err)
	}
}

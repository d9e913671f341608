package acd

// Draining a seat in place: when a replica is asked to stop and no other
// replica is alive to take its seat over, it keeps its socket (the calls'
// events still reach it), sends every new call back to the dialplan (whose
// fallback tries the next replica), claims no callback, and serves the
// calls it has until none is left (SeatHost waits for that, bounded by the
// drain timeout).

// StartDraining puts the engine in drain mode; it stays there until Run
// returns and is not undone (the seat is being given up).
func (e *Engine) StartDraining() { e.draining.Store(true) }

// Draining reports whether StartDraining was called.
func (e *Engine) Draining() bool { return e.draining.Load() }

// LiveCalls is the number of calls (inbound or callbacks) the engine runs
// now.
func (e *Engine) LiveCalls() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	seen := make(map[*call]bool, len(e.calls))
	for _, c := range e.calls {
		seen[c] = true
	}
	for _, c := range e.legs {
		seen[c] = true
	}
	return len(seen)
}

// CallEnded is signalled each time a call ends (a drain rechecks
// LiveCalls then); one signal may stand for several ends.
func (e *Engine) CallEnded() <-chan struct{} { return e.callEnded }

func (e *Engine) signalCallEnded() {
	select {
	case e.callEnded <- struct{}{}:
	default:
	}
}

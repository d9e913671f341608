package acd

// Callback orchestration: where each part lives.
//
// The durable callback — its record, state machine, lease, dial fencing
// and retries — is the callbacks package's Store (callbacks/), moved by one
// Lua script per change. What a replica does with a callback on the PBX and
// in the interaction it becomes is here, in the acd files named
// callback_*.go, because every step runs in a call's actor (methods of
// call) next to routing, the PBX port and the interaction's store:
//
//	Part         File                     What it does                                  callbacks.Store (and acd Store) operations
//	dialog       callback_dialog.go       a caller on the line asks for a callback:     Check, Create, DueNow
//	                                      start (leave the queue, keep the place),      (Store.CallbackStart, Store.CallbackCancel)
//	                                      number, message, register or cancel; the
//	                                      queue's callback offer and treatments
//	scheduler    callback_scheduler.go    the replica's loop: claim due callbacks,      Stopped, Heartbeat, Reclaim, Claim, Get,
//	                                      one actor each; the callback waits in its     Attach, Release, Extend, Complete
//	                                      queue; lease ticks; withdrawal on cancel;     (Store.ArriveCallback, Store.EnqueueAt)
//	                                      the attempt's outcome
//	dial         callback_dial.go         the offered agent answered: their message,    Attach, StartDial (Complete through the
//	                                      accept, then the customer is dialled once     scheduler's completeAttempt)
//	                                      per attempt; answered, failed, agent gone
//	takeover     callback_takeover.go     a dead replica's dial in progress: its legs   (Store.Adopt; Reclaim and the cleanup of a
//	                                      are taken over, never dialled again           dead holder are in the scheduler)
//	attempt      callback_attempt_fsm.go  the claimed attempt's machine (held,          —
//	                                      accepting, pending, settled)
//	API          callback_api.go          request, read, cancel a callback; the         Create, Get, Cancel
//	                                      dialog and accept commands from the API
//	interaction  store_callback.go        the interaction side in Redis: callback       —
//	                                      start/cancel, arrive, enqueue at a score,
//	                                      adopt
//
// The route machine (route_fsm.go) has the callback's detours
// (callback_dialog, callback_agent, callback_dialing); docs/MACHINES.md
// draws them.

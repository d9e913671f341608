package acd

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/tandem-cc/tandem/cad"
	"github.com/tandem-cc/tandem/callbacks"
	"github.com/tandem-cc/tandem/errs"
	"github.com/tandem-cc/tandem/media"
)

// The callback dialog of a caller on the line, in the three steps contact
// centers know from their flow designers:
//
//   - start: the caller leaves the queue (or never joins it), keeping the
//     score that is their place in line (Store.CallbackStart);
//   - register: the callback is created with that score, a number, the
//     outbound caller id and optionally a message for the agent; the call
//     ends as served (ended, not abandoned);
//   - cancel: between the two, the caller goes back to the queue in the
//     place they had (Store.CallbackCancel). A caller who hangs up instead
//     is abandoned.
//
// The caller drives it with DTMF (digits then #, only # for the number they
// call from, * to cancel); the API drives the same steps (Engine.CallbackFlow).

// maxCallbackTries is how many refused numbers a caller may key before the
// dialog gives up and puts them back in queue.
const maxCallbackTries = 3

// callbackDigitTimeout ends the keying of a number when the caller stops.
const callbackDigitTimeout = 10 * time.Second

// cbDialog is the state of a caller's callback dialog.
type cbDialog struct {
	queue     string
	priority  int
	score     float64
	digits    string
	tries     int
	gen       int    // bumps per prompt, so a stale timeout is ignored
	recording string // the message being recorded ("" when not)
	number    string // the number checked, while the message is recorded
	// prompt is the playback asking for the number while it plays: the
	// first digit stops it. beep is the beep before the message: digits
	// during it do not count.
	prompt string
	beep   string
}

type (
	cbDigitTimeout struct{ gen int }
	cbMessageDone  struct{ gen int }
)

// startCallbackDialog is start callback, for the caller's queue q (the
// queue the call waits in, or will wait in).
func (c *call) startCallbackDialog(ctx context.Context, q, why string) error {
	settings, ok := c.e.opts.Queues[q]
	if !ok {
		return &errs.FieldError{Field: "queue", Msg: fmt.Sprintf("unknown queue %q", q)}
	}
	if c.route != routeQueued && c.route != routeIVR && c.route != routeArriving {
		return illegal("start callback: the caller is not waiting")
	}
	prio := settings.Priority
	score, err := c.e.store.CallbackStart(ctx, c.conn, q, prio)
	if err != nil {
		return err
	}
	c.stopQueueTimers()
	c.stopQueueMedia(ctx)
	if c.ivr != nil {
		c.stopMedia(ctx, c.ivr.prompt) // an API start during a prompt
	}
	c.queueName, c.settings = q, settings
	c.ivr = nil
	c.routeTo(rtCallbackStart)
	c.dialog = &cbDialog{queue: q, priority: prio, score: score}
	c.e.store.Record(ctx, c.conn, "callback_start", "queue", q, "why", why)
	c.log.Info("callback started", "queue", q, "why", why)
	if err := c.e.pbx.StopMusic(ctx, c.callerLeg); err != nil {
		c.log.Debug("stop music for the callback dialog", "err", err)
	}
	c.promptNumber(ctx)
	return nil
}

// promptNumber asks for the number (after before, if any) and waits for
// digits: the timeout runs from the prompt's end, or from the first digit,
// which stops the prompt.
func (c *call) promptNumber(ctx context.Context, before ...media.Media) {
	d := c.dialog
	d.digits = ""
	d.gen++
	gen := d.gen
	items := append(before, c.settings.Callback.Prompt)
	d.prompt = ""
	id := c.startMedia(ctx, c.callerLeg, func(context.Context, PlaybackOutcome) {
		if c.dialog != d || d.gen != gen {
			return
		}
		d.prompt = ""
		c.after(callbackDigitTimeout, cbDigitTimeout{gen: gen})
	}, items...)
	if id != "" && c.dialog == d {
		d.prompt = id
	}
}

// onCallbackDigit takes a digit of the dialog.
func (c *call) onCallbackDigit(ctx context.Context, digit string) {
	d := c.dialog
	if d.beep != "" {
		return // the message is not recorded yet
	}
	if d.prompt != "" {
		c.stopMedia(ctx, d.prompt)
		d.prompt = ""
	}
	switch {
	case d.recording != "":
		if digit == "#" {
			c.post(cbMessageDone{gen: d.gen})
		}
	case digit == "*":
		c.cancelCallbackDialog(ctx, "caller")
	case digit == "#":
		d.gen++
		c.submitNumber(ctx, d.digits)
	case len(d.digits) < 18:
		d.digits += digit
		// The timeout runs from the last digit (an inter-digit timeout).
		d.gen++
		gen := d.gen
		c.after(callbackDigitTimeout, cbDigitTimeout{gen: gen})
	}
}

func (c *call) onCallbackDigitTimeout(ctx context.Context, m cbDigitTimeout) {
	d := c.dialog
	if c.route != routeCallbackDialog || d == nil || d.gen != m.gen || d.recording != "" {
		return
	}
	if d.digits == "" {
		// Nothing keyed: the caller did not want it after all.
		c.cancelCallbackDialog(ctx, "timeout")
		return
	}
	d.gen++
	c.submitNumber(ctx, d.digits)
}

// submitNumber checks a keyed number ("" = the caller's own), records the
// message if the queue wants one, then registers.
func (c *call) submitNumber(ctx context.Context, keyed string) {
	number := keyed
	if number == "" {
		number = c.arrived.ANI
	}
	if _, err := callbacks.Check(c.callbackRequest(number)); err != nil {
		c.refusedNumber(ctx, err)
		return
	}
	if c.settings.Callback.RecordMessage > 0 {
		c.recordMessage(ctx, number)
		return
	}
	c.registerOrRefuse(ctx, number, "")
}

// refusedNumber tells the caller and lets them try again, or gives up and
// puts them back in queue.
func (c *call) refusedNumber(ctx context.Context, err error) {
	d := c.dialog
	d.tries++
	c.e.store.Record(ctx, c.conn, "callback_number_refused", "why", err.Error())
	c.log.Info("callback number refused", "err", err, "tries", d.tries)
	if d.tries >= maxCallbackTries {
		c.cancelCallbackDialog(ctx, "refused")
		return
	}
	c.promptNumber(ctx, c.settings.Callback.Invalid)
}

// recordMessage records the caller alone in a bridge of their own, until
// # or the queue's limit.
func (c *call) recordMessage(ctx context.Context, number string) {
	d := c.dialog
	d.beep = ""
	id := c.startMedia(ctx, c.callerLeg, func(ctx context.Context, _ PlaybackOutcome) {
		if c.dialog != d || c.route != routeCallbackDialog {
			return
		}
		d.beep = ""
		c.startMessage(ctx, number)
	}, c.settings.Callback.Beep)
	if id != "" && c.dialog == d {
		d.beep = id
	}
}

// startMessage starts recording the caller's message, after the beep.
func (c *call) startMessage(ctx context.Context, number string) {
	d := c.dialog
	name := "callback-" + c.conn
	bridge := c.conn + "-msg"
	if err := c.e.pbx.Bridge(ctx, bridge, c.callerLeg); err != nil {
		c.log.Warn("message bridge; registering without a message", "err", err)
		c.registerOrRefuse(ctx, number, "")
		return
	}
	if err := c.e.pbx.StartRecording(ctx, bridge, name); err != nil {
		c.log.Warn("record message; registering without one", "err", err)
		c.destroyMessageBridge(ctx)
		c.registerOrRefuse(ctx, number, "")
		return
	}
	d.recording, d.number = name, number
	d.gen++
	gen := d.gen
	c.after(c.settings.Callback.RecordMessage, cbMessageDone{gen: gen})
}

func (c *call) onCallbackMessageDone(ctx context.Context, m cbMessageDone) {
	d := c.dialog
	if c.route != routeCallbackDialog || d == nil || d.recording == "" || d.gen != m.gen {
		return
	}
	name := d.recording
	d.recording = ""
	if err := c.e.pbx.StopRecording(ctx, name); err != nil {
		c.log.Warn("stop message recording", "err", err)
	}
	c.destroyMessageBridge(ctx)
	c.e.store.Record(ctx, c.conn, "callback_message", "recording", name)
	c.registerOrRefuse(ctx, d.number, media.RecordingOf(name).String())
}

func (c *call) destroyMessageBridge(ctx context.Context) {
	if err := c.e.pbx.DestroyBridge(ctx, c.conn+"-msg"); err != nil {
		c.log.Warn("destroy message bridge", "err", err)
	}
}

// registerOrRefuse registers, or tells the caller their number was
// refused (an error after the registration was confirmed is only logged:
// the call is over).
func (c *call) registerOrRefuse(ctx context.Context, number, media string) {
	if _, err := c.registerCallback(ctx, number, media); err != nil && c.outcome != outcomeRegistered && c.outcome != outcomeFinished {
		c.refusedNumber(ctx, err)
	}
}

// callbackRequest is the courtesy callback this call asks for.
func (c *call) callbackRequest(number string) callbacks.Request {
	cb := c.settings.Callback
	vars := make(map[string]string, len(c.arrived.Vars))
	for k, v := range c.arrived.Vars {
		// Secure data is not kept beyond the call; the names Tandem sets
		// (TANDEM_QUEUE from the dialplan, callback_id of a call that was
		// itself a callback) are set again for the callback's own call.
		if !c.secureVars[k] && !cad.Reserved(k) {
			vars[k] = v
		}
	}
	return callbacks.Request{
		Queue: c.dialog.queue, Number: number, Region: c.e.opts.Dial.DefaultRegion, Policy: c.e.opts.Dial.Policy,
		AllowedCountryCodes: cb.AllowedCountryCodes, Vars: vars, Kind: callbacks.KindCourtesy,
		Score: c.dialog.score, MaxAttempts: cb.MaxAttempts, RetryDelay: cb.RetryDelay,
		CallerID: cb.CallerID, DNIS: c.arrived.DNIS, MaxAhead: cb.MaxAhead,
	}
}

// registerCallback is register callback: the callback takes the caller's
// place, the call ends as served.
func (c *call) registerCallback(ctx context.Context, number, media string) (callbacks.Callback, error) {
	if c.route != routeCallbackDialog || c.dialog == nil {
		return callbacks.Callback{}, illegal("register callback: no callback was started")
	}
	if c.dialog.recording != "" {
		return callbacks.Callback{}, illegal("register callback: the caller is recording a message")
	}
	req := c.callbackRequest(number)
	req.Media = media
	req.Secure = c.e.opts.Policy.secureList(req.Vars) // dropped once the callback is over
	// Created first, so it exists (and survives a crash of this replica)
	// before the caller is told, but held a little in the future: it must
	// not ring the line its caller is still on. Once the confirmation is
	// played and the call has ended, it is made due.
	req.EarliestAt = time.Now().Add(registerHold)
	cb, merged, err := c.e.callbacks.Create(ctx, req)
	if err != nil {
		return callbacks.Callback{}, err
	}
	c.e.store.Record(ctx, c.conn, "callback_registered", "callback_id", cb.ID, "merged", fmt.Sprint(merged))
	c.log.Info("callback registered", "callback_id", cb.ID, "merged", merged)
	c.stopMedia(ctx, c.dialog.prompt) // registered through the API meanwhile
	c.dialog = nil
	c.outcomeTo(ocRegister) // a hang-up during the confirmation counts as served
	c.endWithMessage(ctx, c.settings.Callback.Confirm, "caller", func(ctx context.Context) {
		if merged {
			return
		}
		if _, err := c.e.callbacks.DueNow(ctx, cb.ID); err != nil {
			c.log.Warn("make the callback due; it will be at the end of its hold", "err", err)
		}
		c.e.wakeCallbacks()
	})
	return cb, nil
}

// registerHold is how long a just-registered courtesy callback waits at
// most for its caller's call to end (it is made due as soon as it has).
const registerHold = 30 * time.Second

// cancelCallbackDialog is cancel callback: back to the queue, in place.
func (c *call) cancelCallbackDialog(ctx context.Context, why string) {
	d := c.dialog
	c.stopMedia(ctx, d.prompt)
	c.stopMedia(ctx, d.beep)
	if d.recording != "" {
		if err := c.e.pbx.StopRecording(ctx, d.recording); err != nil {
			c.log.Warn("stop message recording", "err", err)
		}
		c.destroyMessageBridge(ctx)
	}
	c.dialog = nil
	if err := c.e.store.CallbackCancel(ctx, c.conn, d.queue); err != nil {
		c.log.Error("cancel callback", "err", err)
		c.fail(ctx, "cancel callback")
		return
	}
	c.e.store.Record(ctx, c.conn, "callback_cancel", "why", why)
	c.log.Info("callback cancelled; back in queue in place", "queue", d.queue, "why", why)
	c.routeTo(rtCallbackCancel)
	if c.queuedAt.IsZero() {
		c.queuedAt = time.Now()
	}
	if err := c.e.pbx.StartMusic(ctx, c.callerLeg, c.settings.MOHClass); err != nil {
		c.log.Warn("music after cancelled callback", "err", err)
	}
	c.startQueueTimers()
}

// Callback flow operations of the API (Engine.CallbackFlow).
const (
	FlowStart    = "start"
	FlowRegister = "register"
	FlowCancel   = "cancel"
)

// flowCommand runs start, register or cancel asked through the API.
func (c *call) flowCommand(ctx context.Context, cmd command) (CallView, error) {
	switch cmd.Op {
	case opCallbackStart:
		if c.cb != nil {
			return CallView{}, illegal("start callback: this is a callback itself")
		}
		q := cmd.Target.Value
		if q == "" {
			q = c.queueName
		}
		if q == "" {
			var ok bool
			if q, ok = c.e.queueFor(c.arrived); !ok {
				return CallView{}, &errs.FieldError{Field: "queue", Msg: "the call has no queue; name one"}
			}
		}
		if c.route == routeQueued && q != c.queueName {
			// The place kept is in the queue the caller waits in.
			return CallView{}, &errs.FieldError{Field: "queue", Msg: fmt.Sprintf("the call waits in %s: its callback waits there", c.queueName)}
		}
		if err := c.startCallbackDialog(ctx, q, "api"); err != nil {
			return CallView{}, err
		}
		return c.flowView(StateCallback), nil
	case opCallbackRegister:
		if c.route != routeCallbackDialog || c.dialog == nil {
			return CallView{}, illegal("register callback: no callback was started")
		}
		number := strings.TrimSpace(cmd.Target.Value)
		if number == "" {
			number = c.arrived.ANI
		}
		gen := c.dialog.gen
		c.dialog.gen++ // the caller's keying no longer applies...
		cb, err := c.registerCallback(ctx, number, cmd.Media)
		if err != nil {
			if c.dialog != nil {
				c.dialog.gen = gen // ...unless register was refused
			}
			return CallView{}, err
		}
		v := c.flowView(StateEnded)
		v.CallbackID = cb.ID
		return v, nil
	case opCallbackCancel:
		if c.route != routeCallbackDialog || c.dialog == nil {
			return CallView{}, illegal("cancel callback: no callback was started")
		}
		c.cancelCallbackDialog(ctx, "api")
		return c.flowView(StateQueued), nil
	}
	return CallView{}, &errs.FieldError{Field: "op", Msg: "unknown operation " + cmd.Op}
}

// callbackOfferRecheck is how often a waiting caller's estimated wait is
// checked again against the queue's callback offer threshold.
const callbackOfferRecheck = 15 * time.Second

type cbOfferDue struct{ gen int }

// scheduleCallbackOffer arms the queue's callback offer for a waiting
// caller (queues that announce one).
func (c *call) scheduleCallbackOffer(after time.Duration) {
	if c.settings.Callback.Offer.IsZero() || c.settings.Callback.Digit == "" {
		return
	}
	gen := c.queueGen
	c.after(after, cbOfferDue{gen: gen})
}

// onCallbackOffer plays the offer if the caller's estimated wait is long
// enough, or checks again later.
func (c *call) onCallbackOffer(ctx context.Context, m cbOfferDue) {
	if m.gen != c.queueGen || c.route != routeQueued || c.cb != nil {
		return
	}
	cb := c.settings.Callback
	if cb.OfferEWT > 0 {
		pos, err := c.e.store.Position(ctx, c.queueName, c.conn)
		if err != nil {
			return
		}
		// Nobody to serve the queue: no estimate, and a long wait.
		if agents := c.e.servingAgents(ctx, c.queueName); agents > 0 {
			if wait := c.e.ewt.of(c.queueName).Estimate(pos, agents); wait < cb.OfferEWT {
				c.scheduleCallbackOffer(callbackOfferRecheck)
				return
			}
		}
	}
	if c.queueMedia != "" {
		// An announcement plays: the offer comes a little later.
		c.scheduleCallbackOffer(callbackOfferBusy)
		return
	}
	c.playInQueue(ctx, "callback_offered", []string{"queue", c.queueName}, nil, cb.Offer)
}

// callbackOfferBusy is how long the callback offer waits for an
// announcement that plays when it is due.
const callbackOfferBusy = 5 * time.Second

// flowView is the caller's call as a callback step left it (state is the
// interaction's: callback, queued or ended).
func (c *call) flowView(state string) CallView {
	return CallView{ConnectionID: c.conn, State: state, ANI: c.arrived.ANI, DNIS: c.arrived.DNIS, Queue: c.queueName}
}

// callbackTreatment starts the dialog for a treatment or an IVR branch
// (the callback waits in q). If it cannot start, the call ends as treated
// rather than being sent back to the treatment that chose a callback.
func (c *call) callbackTreatment(ctx context.Context, q, why string) {
	if err := c.startCallbackDialog(ctx, q, why); err != nil {
		c.log.Warn("callback treatment", "err", err)
		c.endWithMessage(ctx, media.Media{}, why, nil)
	}
}

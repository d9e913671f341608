package pbxsim

import (
	"strings"
	"time"
)

// MediaEntry is one line of the media log: what a caller would have heard.
type MediaEntry struct {
	Time time.Time
	// Kind is one of "moh_start", "moh_stop", "playback_start",
	// "playback_end", "bridge_moh_start", "bridge_moh_stop". A playback of
	// several media logs a playback_start per item (the same PlaybackID)
	// and one playback_end, for the item it ended on.
	Kind       string
	Class      string // MOH class
	MediaURI   string
	PlaybackID string
	State      string // final playback state: done, failed, stopped
}

// logMedia appends to the media log of a channel or "bridge:<id>".
func (s *Sim) logMedia(key string, e MediaEntry) {
	e.Time = time.Now()
	s.media[key] = append(s.media[key], e)
}

// MediaLog returns the media log of a channel id, or of a bridge with key
// "bridge:<id>". Entries of a bridge's music on hold also appear on each
// channel that was in the bridge at the time.
func (s *Sim) MediaLog(key string) []MediaEntry {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]MediaEntry(nil), s.media[key]...)
}

func (s *Sim) startMOH(c *channel, class string) {
	if class == "" {
		class = "default"
	}
	if c.mohOn && c.mohClass == class {
		return
	}
	if c.mohOn {
		s.logMedia(c.id, MediaEntry{Kind: "moh_stop", Class: c.mohClass})
	}
	c.mohOn, c.mohClass = true, class
	s.logMedia(c.id, MediaEntry{Kind: "moh_start", Class: class})
}

func (s *Sim) stopMOH(c *channel) {
	if !c.mohOn {
		return
	}
	s.logMedia(c.id, MediaEntry{Kind: "moh_stop", Class: c.mohClass})
	c.mohOn, c.mohClass = false, ""
}

// stopChannelMedia ends music and playbacks of a channel that hangs up; a
// playback cut by a hangup finishes "failed" (trace 08).
func (s *Sim) stopChannelMedia(c *channel) {
	s.stopMOH(c)
	q := c.playQueue
	c.playQueue = nil
	for _, p := range q {
		s.cancel(p.timer)
		if p.state == "playing" || p.state == "paused" {
			p.state = "failed"
			s.evPlayback("PlaybackFinished", p)
			s.logMedia(c.id, MediaEntry{Kind: "playback_end", MediaURI: p.media[p.idx], PlaybackID: p.id, State: "failed"})
		}
		s.forgetPlayback(p)
	}
}

func (s *Sim) forgetPlayback(p *playback) {
	if s.playbacks[p.id] == p {
		delete(s.playbacks, p.id)
	}
}

func (s *Sim) mediaKey(p *playback) string {
	if p.ch != nil {
		return p.ch.id
	}
	return "bridge:" + p.br.id
}

func (p *playback) queue() *[]*playback {
	if p.ch != nil {
		return &p.ch.playQueue
	}
	return &p.br.playQueue
}

// queuePlayback adds p to its target's queue and starts it if nothing plays.
func (s *Sim) queuePlayback(p *playback) {
	q := p.queue()
	*q = append(*q, p)
	s.playbacks[p.id] = p
	if len(*q) == 1 {
		s.startPlayback(p)
	}
}

// mediaOutcome classifies a media URI: "ok", "missing" (a sound that does not
// exist: fails at once) or "stuck" (a scheme Asterisk cannot play: started,
// never finished, trace 12).
func mediaOutcome(uri string) string {
	scheme, rest, _ := strings.Cut(uri, ":")
	switch scheme {
	case "sound":
		// A comma or colon in a name is a list Asterisk did not split (a
		// JSON string): no such file.
		if strings.HasPrefix(rest, "no-such") || strings.HasPrefix(rest, "missing") || strings.ContainsAny(rest, ",:") {
			return "missing"
		}
		return "ok"
	case "tone", "digits", "number", "characters":
		return "ok"
	}
	// An unknown recording (trace 12's recording:no-such-recording) and
	// unknown schemes are started and never finish in Asterisk 22; a
	// stored recording plays (playCurrent checks the store first).
	return "stuck"
}

func (s *Sim) startPlayback(p *playback) {
	if b := p.br; b != nil {
		// An Announcer channel joins the bridge to play (trace 08).
		p.helper = "Announcer/ARI-" + s.newLocalSuffix() + ";2"
		s.addHidden(b, p.helper)
	}
	p.state = "playing"
	s.evPlayback("PlaybackStarted", p)
	s.logMedia(s.mediaKey(p), MediaEntry{Kind: "playback_start", MediaURI: p.media[p.idx], PlaybackID: p.id})
	s.playCurrent(p)
}

func (s *Sim) playCurrent(p *playback) {
	uri := p.media[p.idx]
	outcome := mediaOutcome(uri)
	if name, ok := strings.CutPrefix(uri, "recording:"); ok {
		if _, stored := s.stored[name]; stored {
			outcome = "ok"
		}
	}
	switch outcome {
	case "stuck":
		// Asterisk logs an error, never sends PlaybackFinished, and moves
		// on to the next queued playback.
		p.stuck = true
		s.advanceQueue(p)
		return
	case "missing":
		if len(p.media) == 1 {
			s.finishPlayback(p, "failed")
			return
		}
		// A missing file inside a list is skipped silently.
		s.nextMedia(p)
		return
	}
	d, ends := s.mediaLength(uri)
	if !ends {
		return // tones play until stopped
	}
	p.timer = s.after(d, p.ch, func() { s.nextMedia(p) })
}

// mediaLength is how long a media item plays, relative to Timing.Playback
// (the length of an ordinary prompt such as hello-world). The lengths keep
// the proportions of the lab's sound files; the *-talk speech loops are long.
func (s *Sim) mediaLength(uri string) (time.Duration, bool) {
	unit := s.timing.Playback
	scheme, rest, _ := strings.Cut(uri, ":")
	switch {
	case scheme == "tone":
		return 0, false
	case scheme == "digits" || scheme == "number" || scheme == "characters":
		return unit * time.Duration(max(len(rest), 1)) * 6 / 10, true
	case rest == "beep":
		return unit / 5, true
	case strings.HasSuffix(rest, "-talk"):
		return unit * 60, true
	case strings.HasPrefix(rest, "queue-"):
		return unit * 3 / 2, true
	}
	return unit, true
}

func (s *Sim) nextMedia(p *playback) {
	if p.idx+1 >= len(p.media) {
		s.finishPlayback(p, "done")
		return
	}
	p.state = "continuing"
	s.evPlayback("PlaybackContinuing", p)
	p.idx++
	p.state = "playing"
	s.evPlayback("PlaybackStarted", p)
	s.logMedia(s.mediaKey(p), MediaEntry{Kind: "playback_start", MediaURI: p.media[p.idx], PlaybackID: p.id})
	s.playCurrent(p)
}

func (s *Sim) finishPlayback(p *playback, state string) {
	s.cancel(p.timer)
	p.state = state
	s.evPlayback("PlaybackFinished", p)
	s.logMedia(s.mediaKey(p), MediaEntry{Kind: "playback_end", MediaURI: p.media[p.idx], PlaybackID: p.id, State: state})
	s.forgetPlayback(p)
	if p.br != nil && p.helper != "" {
		s.removeHidden(p.br, p.helper)
	}
	s.advanceQueue(p)
}

// advanceQueue removes p from its queue and starts the next playback.
func (s *Sim) advanceQueue(p *playback) {
	q := p.queue()
	for i, x := range *q {
		if x == p {
			*q = append((*q)[:i:i], (*q)[i+1:]...)
			break
		}
	}
	if len(*q) > 0 && (*q)[0].state == "queued" {
		s.startPlayback((*q)[0])
	}
}

// startBridgeMOH plays music into a bridge through an announcer channel.
func (s *Sim) startBridgeMOH(b *bridge, class string) {
	if class == "" {
		class = "default"
	}
	if b.mohOn {
		return
	}
	b.mohOn, b.mohClass = true, class
	s.logMedia("bridge:"+b.id, MediaEntry{Kind: "bridge_moh_start", Class: class})
	for _, c := range b.channels {
		s.logMedia(c.id, MediaEntry{Kind: "bridge_moh_start", Class: class})
	}
	// Asterisk bridges an Announcer/ARI_MOH channel in (trace 06).
	b.mohHelper = "Announcer/ARI_MOH-" + s.newLocalSuffix() + ";2"
	s.addHidden(b, b.mohHelper)
}

func (s *Sim) stopBridgeMOH(b *bridge) {
	if !b.mohOn {
		return
	}
	s.logMedia("bridge:"+b.id, MediaEntry{Kind: "bridge_moh_stop", Class: b.mohClass})
	for _, c := range b.channels {
		s.logMedia(c.id, MediaEntry{Kind: "bridge_moh_stop", Class: b.mohClass})
	}
	b.mohOn, b.mohClass = false, ""
	s.removeHidden(b, b.mohHelper)
	b.mohHelper = ""
}

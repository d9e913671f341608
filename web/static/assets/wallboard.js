// The supervisor wallboard: every queue's figures, every logged-in agent,
// the pending callbacks, and the supervisor's overrides (force a state,
// end a call, cancel a callback, change an agent's queues).
//
// Where the figures come from:
//   - GET /v1/queues, /v1/agents and /v1/callbacks, read together;
//   - the supervisor event stream (GET /v1/events), which announces every
//     agent's changes: each event triggers a re-read (coalesced), and an
//     agent's new state is shown at once;
//   - a periodic re-read, because not everything is an agent event (a call
//     joining a queue, a caller hanging up while waiting);
//   - GET /v1/queues/{name}/history for the chart, as often as the
//     replicas take a sample.
// Every (re)connection of the stream re-reads everything: events missed
// while it was down are never replayed, so the page resynchronises from
// the state the API serves. The client (tandem.js) moves to another
// replica when one stops answering, so the wallboard carries on through a
// failover without a reload.

import { Client, ApiError, fmtDuration, el, svgEl, pageBases } from './tandem.js';

// REFRESH_MS is how often the figures are re-read even when no event
// comes: waiting calls are not agent events.
const REFRESH_MS = 2000;
// TICK_MS is how often the timers on screen move.
const TICK_MS = 1000;
// EVENT_DEBOUNCE_MS gathers a burst of events (a call answered moves
// several agents) into one re-read.
const EVENT_DEBOUNCE_MS = 150;
// HOUR_MS is the span of the chart (the history route keeps an hour).
const HOUR_MS = 3600 * 1000;
// The token stays in this tab's session storage so that a reload does not
// ask for it again; closing the tab or signing out forgets it.
const TOKEN_KEY = 'tandem.wallboard.token';

// The states an agent of a queue can be in, in the order a supervisor
// reads them (logged-out agents are not members of a queue).
const AGENT_STATES = [
  ['available', 'Available'],
  ['idle', 'Idle'],
  ['reserved', 'Reserved'],
  ['ringing', 'Ringing'],
  ['connected', 'On a call'],
  ['wrapup', 'Wrap-up'],
  ['rona', 'RONA'],
];

// The states a supervisor may force (POST /v1/supervisor/agents/{id}/state).
const FORCEABLE = [
  ['available', 'Available'],
  ['idle', 'Idle'],
  ['logged_out', 'Log out'],
];

const $ = (id) => document.getElementById(id);

// ---------------------------------------------------------------- messages

// showError puts an API error in the alert: its message and the field it
// names, so the supervisor sees what to change.
function showError(err, context) {
  $('wb-error').textContent = (context ? context + ': ' : '') + describe(err);
  $('wb-error').dataset.kind = context === refreshContext ? 'refresh' : 'action';
  $('wb-error-box').hidden = false;
}

function clearError(kind) {
  const p = $('wb-error');
  if (kind && p.dataset.kind !== kind) {
    return;
  }
  p.textContent = '';
  delete p.dataset.kind;
  $('wb-error-box').hidden = true;
}

const refreshContext = 'cannot refresh the wallboard';

// describe words an error for a person: "field: message" for the API's
// errors, and a plain sentence when no replica could be reached.
function describe(err) {
  if (err instanceof ApiError && err.unknownOutcome) {
    // A write whose answer was lost: tandem.js says so, and the board is
    // read again after every action.
    return err.message;
  }
  if (err instanceof ApiError && err.status === 0) {
    return `no Tandem replica answered (${err.error})`;
  }
  if (err instanceof ApiError) {
    // tandem.js words it "field: error" when the API names a field.
    let text = err.message;
    if (err.field === 'force_end') {
      text += ' (tick “End the agent\'s call first” to do that)';
    }
    return text;
  }
  return String(err && err.message ? err.message : err);
}

function notice(text) {
  $('wb-notice').textContent = text;
}

// ---------------------------------------------------------------- helpers

function secondsSince(ms) {
  return Math.max(0, Math.floor((Date.now() - ms) / 1000));
}

function percent(fraction) {
  return `${Math.round(fraction * 100)}%`;
}

// vh is text for screen readers only (a row's labels name its agent).
function vh(text) {
  return el('span', { class: 'wb-vh' }, text);
}

// ---------------------------------------------------------------- queue cards

// QueueCard is one queue's card. It is built once and updated in place,
// so that a refresh never moves the focus or the reader's place.
class QueueCard {
  constructor(name) {
    this.name = name;
    this.f = {};
    const fig = (testid, label, title) => {
      const dd = el('dd', { 'data-testid': testid }, '—');
      this.f[testid] = dd;
      const dt = el('dt', {}, label);
      if (title) {
        dt.title = title;
      }
      return el('div', {}, dt, dd);
    };
    const states = AGENT_STATES.map(([state, label]) => {
      const dd = el('dd', { 'data-testid': `q-agents-${state}` }, '0');
      this.f[`q-agents-${state}`] = dd;
      return el('div', { class: `state-${state}` }, el('dt', {}, label), dd);
    });
    this.chart = svgEl('svg', {
      'data-testid': 'q-chart', role: 'img', class: 'wb-chart', viewBox: `0 0 ${CHART.w} ${CHART.h}`,
      'data-points': '0', 'aria-label': `${name}: no history yet`,
    });
    const headingID = `wb-queue-${name.replace(/[^A-Za-z0-9_-]/g, '_')}`;
    this.root = el('article', { class: 'card stack wb-card', 'data-testid': 'queue-card', 'data-queue': name, 'aria-labelledby': headingID },
      el('h3', { id: headingID }, name),
      el('dl', { class: 'wb-figures' },
        fig('q-waiting', 'Waiting'),
        fig('q-longest', 'Longest wait', 'How long the call waiting longest has waited'),
        fig('q-sl', 'Service level'),
        fig('q-asa', 'Avg. speed of answer', 'Average wait of the calls answered today'),
        fig('q-abandoned', 'Abandoned', 'Share of today\'s calls whose caller hung up waiting'),
        fig('q-callbacks', 'Callbacks pending')),
      el('h4', {}, 'Agents by state'),
      el('dl', { class: 'wb-states' }, ...states),
      el('figure', { class: 'wb-chart-box' },
        this.chart,
        el('figcaption', {},
          el('span', { class: 'wb-key wb-key-depth' }, 'waiting calls'), ' ',
          el('span', { class: 'wb-key wb-key-sl' }, 'service level'), ' — last hour')));
    this.longest = 0;
    this.longestAt = 0;
    this.waiting = 0;
    this.slThreshold = 0;
  }

  update(q) {
    const st = q.stats || {};
    const offered = (st.answered || 0) + (st.abandoned || 0);
    this.waiting = (q.waiting || []).length;
    this.longest = st.longest_wait_s || 0;
    this.longestAt = performance.now();
    this.set('q-waiting', String(this.waiting), this.waiting);
    // No call offered today: there is no rate to show, not a rate of 0.
    this.set('q-sl', offered ? percent(st.service_level || 0) : '—', offered ? st.service_level : '');
    this.set('q-abandoned', offered ? percent(st.abandon_rate || 0) : '—', offered ? st.abandon_rate : '');
    this.set('q-asa', st.answered ? fmtDuration(Math.round(st.asa_s || 0)) : '—', st.answered ? st.asa_s : '');
    this.set('q-callbacks', String(q.pending_callbacks || 0), q.pending_callbacks || 0);
    if (st.service_level_threshold_s && st.service_level_threshold_s !== this.slThreshold) {
      this.slThreshold = st.service_level_threshold_s;
      this.f['q-sl'].previousElementSibling.title = `Calls answered within ${this.slThreshold} s, of all calls answered or abandoned today`;
    }
    const byState = q.agents || {};
    for (const [state] of AGENT_STATES) {
      const n = (byState[state] || []).length;
      this.set(`q-agents-${state}`, String(n), n);
      this.f[`q-agents-${state}`].title = (byState[state] || []).join(', ');
    }
    this.tick();
  }

  set(testid, text, value) {
    const dd = this.f[testid];
    if (dd.textContent !== text) {
      dd.textContent = text;
    }
    dd.dataset.value = String(value);
  }

  // tick moves the longest wait on between reads: it is the longest wait
  // when read plus the time since, on this browser's own clock.
  tick() {
    const s = this.waiting ? Math.floor(this.longest + (performance.now() - this.longestAt) / 1000) : 0;
    const text = fmtDuration(s);
    if (this.f['q-longest'].textContent !== text) {
      this.f['q-longest'].textContent = text;
    }
  }
}

// ---------------------------------------------------------------- chart

// CHART is the chart's drawing box (the SVG scales to its container).
const CHART = { w: 300, h: 90, top: 10, bottom: 78 };
// MIN_SPAN_MS is the shortest time axis a chart draws.
const MIN_SPAN_MS = 10 * 1000;

// spanText words a chart's time span: "1 h", "12 min", "40 s".
function spanText(ms) {
  if (ms >= HOUR_MS) {
    return '1 h';
  }
  return ms >= 60 * 1000 ? `${Math.round(ms / 60000)} min` : `${Math.round(ms / 1000)} s`;
}

// drawChart draws a queue's history (the history route keeps the last
// hour): waiting calls on a scale of the maximum shown, service level on
// 0-100%. The time axis spans the history there is, up to the hour, so
// that a replica started a minute ago shows a minute rather than a sliver
// at the right edge. A hand-made SVG: two lines and a few labels need no
// chart library.
function drawChart(card, hist) {
  const samples = (hist.samples || [])
    .map((s) => ({ at: Date.parse(s.at), waiting: s.waiting || 0, sl: s.service_level || 0 }))
    .filter((s) => !Number.isNaN(s.at));
  const first = samples[0];
  const last = samples[samples.length - 1];
  const end = Math.max(Date.now(), last ? last.at : 0);
  const intervalMS = (hist.interval_s > 0 ? hist.interval_s : 30) * 1000;
  const spanMS = Math.min(HOUR_MS, Math.max(first ? end - first.at : HOUR_MS, 2 * intervalMS, MIN_SPAN_MS));
  const start = end - spanMS;
  const maxWaiting = Math.max(1, ...samples.map((s) => s.waiting));
  const span = CHART.bottom - CHART.top;
  const x = (t) => ((Math.max(t, start) - start) / spanMS * CHART.w).toFixed(1);
  const yDepth = (v) => (CHART.bottom - v / maxWaiting * span).toFixed(1);
  const ySL = (v) => (CHART.bottom - Math.min(1, Math.max(0, v)) * span).toFixed(1);

  const parts = [
    svgEl('line', { class: 'wb-grid', x1: 0, x2: CHART.w, y1: CHART.top, y2: CHART.top }),
    svgEl('line', { class: 'wb-grid', x1: 0, x2: CHART.w, y1: CHART.top + span / 2, y2: CHART.top + span / 2 }),
    svgEl('line', { class: 'wb-axis', x1: 0, x2: CHART.w, y1: CHART.bottom, y2: CHART.bottom }),
    svgEl('text', { class: 'wb-label', x: 2, y: CHART.top - 2 }, `${maxWaiting} waiting / 100%`),
    svgEl('text', { class: 'wb-label', x: 2, y: CHART.h - 1 }, `${spanText(spanMS)} ago`),
    svgEl('text', { class: 'wb-label', x: CHART.w - 2, y: CHART.h - 1, 'text-anchor': 'end' }, 'now'),
  ];
  if (samples.length) {
    const depth = samples.map((s) => `${x(s.at)},${yDepth(s.waiting)}`).join(' ');
    const sl = samples.map((s) => `${x(s.at)},${ySL(s.sl)}`).join(' ');
    parts.push(
      svgEl('polyline', { class: 'wb-line-depth', points: depth }),
      svgEl('polyline', { class: 'wb-line-sl', points: sl }),
      svgEl('circle', { class: 'wb-dot-depth', cx: x(last.at), cy: yDepth(last.waiting), r: 2.5 }),
      svgEl('circle', { class: 'wb-dot-sl', cx: x(last.at), cy: ySL(last.sl), r: 2.5 }));
  }
  card.chart.replaceChildren(...parts);
  card.chart.setAttribute('data-points', String(samples.length));
  card.chart.setAttribute('aria-label', last
    ? `${card.name}, last ${spanText(spanMS)}: ${samples.length} samples; latest ${last.waiting} waiting, service level ${percent(last.sl)}`
    : `${card.name}: no history yet`);
}

// ---------------------------------------------------------------- agent rows

// AgentRow is one agent's row, built once and updated in place: a refresh
// must not wipe what the supervisor is typing in its queue field.
class AgentRow {
  constructor(id, actions) {
    this.id = id;
    this.since = 0;
    this.call = null;
    this.badge = el('span', { class: 'badge' });
    this.state = el('td', { 'data-testid': 'a-state' }, this.badge);
    this.time = el('td', { 'data-testid': 'a-time', class: 'num timer' });
    this.callCell = el('td', { 'data-testid': 'a-call' }, '—');

    this.queues = el('input', { 'data-testid': 'a-queues', type: 'text', size: '14', spellcheck: 'false' });
    this.queues.placeholder = 'sales, support';
    this.serverQueues = '';
    const queuesForm = el('form', { class: 'wb-inline' },
      el('label', {}, 'Queues', vh(` of agent ${id}`), ' ', this.queues),
      el('button', { type: 'submit', 'data-testid': 'a-queues-save' }, 'Save queues'));
    queuesForm.addEventListener('submit', (e) => {
      e.preventDefault();
      actions.changeQueues(this, e.submitter || queuesForm.querySelector('button'));
    });

    this.force = el('select', { 'data-testid': 'a-force' },
      ...FORCEABLE.map(([v, label]) => el('option', { value: v }, label)));
    const forceForm = el('form', { class: 'wb-inline' },
      el('label', {}, 'Set state', vh(` of agent ${id}`), ' ', this.force),
      el('button', { type: 'submit', 'data-testid': 'a-force-go' }, 'Apply'));
    forceForm.addEventListener('submit', (e) => {
      e.preventDefault();
      actions.forceState(this, this.force.value, e.submitter || forceForm.querySelector('button'));
    });

    this.endCall = el('button', { type: 'button', 'data-testid': 'a-end-call', class: 'danger' }, 'End call', vh(` of agent ${id}`));
    this.endCall.hidden = true;
    this.endCall.addEventListener('click', () => actions.endCall(this, this.endCall));

    this.tr = el('tr', { 'data-testid': 'agent-row', 'data-agent': id },
      el('th', { scope: 'row' }, id),
      this.state, this.time, this.callCell,
      el('td', {}, queuesForm),
      el('td', {}, forceForm, this.endCall));
  }

  update(a) {
    this.setState(a.state, Date.parse(a.since), a.reason);
    this.call = a.call || null;
    this.endCall.hidden = !this.call;
    this.tr.dataset.connectionId = this.call ? this.call.connection_id : '';
    // The queue field follows the server unless the supervisor is editing it.
    const q = (a.queues || []).join(', ');
    if (this.queues.value === this.serverQueues && document.activeElement !== this.queues) {
      this.queues.value = q;
    }
    this.serverQueues = q;
    this.tick();
  }

  // setState shows a state at once (from an event, before the re-read).
  setState(state, sinceMS, reason) {
    this.tr.dataset.state = state;
    this.state.dataset.state = state;
    this.badge.className = `badge state-${state}`;
    const text = reason ? `${state} (${reason})` : state;
    if (this.badge.textContent !== text) {
      this.badge.textContent = text;
    }
    if (!Number.isNaN(sinceMS)) {
      this.since = sinceMS;
    }
  }

  tick() {
    this.time.textContent = this.since ? fmtDuration(secondsSince(this.since)) : '—';
    const c = this.call;
    const text = c ? `${c.queue || '—'} · ${c.state} · ${fmtDuration(secondsSince(Date.parse(c.since)))}` : '—';
    if (this.callCell.textContent !== text) {
      this.callCell.textContent = text;
    }
    this.callCell.dataset.connectionId = c ? c.connection_id : '';
  }
}

// ---------------------------------------------------------------- callback rows

class CallbackRow {
  constructor(id, actions) {
    this.id = id;
    this.requested = 0;
    this.cells = {
      queue: el('td', {}), number: el('td', {}), state: el('td', {}),
      requested: el('td', { class: 'num timer' }), due: el('td', {}), attempts: el('td', { class: 'num' }),
    };
    this.cancel = el('button', { type: 'button', 'data-testid': 'cb-cancel', class: 'danger' }, 'Cancel', vh(` callback ${id}`));
    this.cancel.addEventListener('click', () => actions.cancelCallback(this, this.cancel));
    const c = this.cells;
    this.tr = el('tr', { 'data-testid': 'callback-row', 'data-callback': id },
      c.queue, c.number, c.state, c.requested, c.due, c.attempts, el('td', {}, this.cancel));
  }

  update(cb) {
    const c = this.cells;
    this.number = cb.number || '';
    c.queue.textContent = cb.queue || '';
    c.number.textContent = this.number;
    c.state.textContent = cb.state || '';
    c.due.textContent = cb.due_at ? new Date(cb.due_at).toLocaleTimeString() : 'now';
    c.attempts.textContent = String(Array.isArray(cb.attempts) ? cb.attempts.length : (cb.attempts || 0));
    this.requested = Date.parse(cb.requested_at);
    this.tick();
  }

  tick() {
    this.cells.requested.textContent = Number.isNaN(this.requested) ? '—' : `${fmtDuration(secondsSince(this.requested))} ago`;
  }
}

// syncRows makes parent hold exactly the rows of items, in their order,
// creating rows that are new and dropping the ones that are gone. A row
// that is already in place is not moved (moving it would take the focus
// from a control inside it).
function syncRows(parent, rows, items, key, make) {
  const seen = new Set();
  let at = 0;
  for (const item of items) {
    const k = key(item);
    seen.add(k);
    let row = rows.get(k);
    if (!row) {
      row = make(k);
      rows.set(k, row);
    }
    row.update(item);
    const node = row.root || row.tr;
    if (parent.children[at] !== node) {
      parent.insertBefore(node, parent.children[at] || null);
    }
    at++;
  }
  for (const [k, row] of rows) {
    if (!seen.has(k)) {
      (row.root || row.tr).remove();
      rows.delete(k);
    }
  }
}

// ---------------------------------------------------------------- action dialog

// ActionDialog asks before a supervisor action: it says what will happen
// and asks for the reason the audit records (Esc or Cancel backs out).
class ActionDialog {
  constructor() {
    this.d = $('wb-action');
    this.form = $('wb-action-form');
    this.reason = $('wb-action-reason');
    this.confirm = $('wb-action-confirm');
    this.form.addEventListener('submit', (e) => {
      e.preventDefault();
      this.submit();
    });
    $('wb-action-cancel').addEventListener('click', () => this.d.close());
    this.reason.addEventListener('input', () => this.reason.setCustomValidity(''));
    this.d.addEventListener('close', () => {
      // Back to the control that opened it; if its row is gone (the agent
      // was logged out), to the section's heading.
      if (this.trigger && this.trigger.isConnected) {
        this.trigger.focus();
      } else if (this.fallbackFocus) {
        this.fallbackFocus.focus();
      }
      this.current = null;
    });
  }

  setIdleReasons(reasons) {
    const sel = $('wb-action-idle-reason');
    sel.replaceChildren(el('option', { value: '' }, 'supervisor (default)'),
      ...(reasons || []).map((r) => el('option', { value: r }, r)));
  }

  // open shows the dialog for an action: spec.run({reason, idleReason,
  // forceEnd}) performs it and returns the notice to show.
  open(spec, trigger) {
    if (this.d.open) {
      return;
    }
    this.current = spec;
    this.trigger = trigger;
    this.fallbackFocus = spec.fallbackFocus || $('wb-agents-title');
    $('wb-action-title').textContent = spec.title;
    $('wb-action-text').textContent = spec.text;
    this.confirm.textContent = spec.confirm;
    this.confirm.classList.toggle('danger', !!spec.destructive);
    this.confirm.classList.toggle('primary', !spec.destructive);
    this.confirm.disabled = false;
    $('wb-action-idle').hidden = !spec.idleReason;
    $('wb-action-idle-reason').value = '';
    $('wb-action-forceend').hidden = !spec.forceEnd;
    $('wb-action-forceend-box').checked = false;
    const askReason = spec.reason !== false;
    $('wb-action-reason-field').hidden = !askReason;
    this.reason.required = askReason;
    this.reason.value = '';
    this.reason.setCustomValidity('');
    this.d.showModal();
    (askReason ? this.reason : this.confirm).focus();
  }

  async submit() {
    const spec = this.current;
    if (!spec || this.confirm.disabled) {
      return;
    }
    const reason = this.reason.value.trim();
    if (spec.reason !== false && !reason) {
      this.reason.setCustomValidity('Say why: the audit records it.');
      this.reason.reportValidity();
      return;
    }
    this.confirm.disabled = true;
    try {
      const text = await spec.run({
        reason,
        idleReason: $('wb-action-idle-reason').value,
        forceEnd: $('wb-action-forceend-box').checked,
      });
      clearError('action');
      notice(text);
    } catch (err) {
      notice('');
      showError(err, spec.failed);
    } finally {
      this.d.close();
      if (spec.after) {
        spec.after();
      }
    }
  }
}

// ---------------------------------------------------------------- the board

// Board is a signed-in wallboard: one client, one event stream, two
// timers. stop ends all three.
class Board {
  constructor(client, settings, dialog) {
    this.client = client;
    this.settings = settings;
    this.dialog = dialog;
    this.cards = new Map();
    this.agents = new Map();
    this.callbacks = new Map();
    this.history = { at: 0, intervalMS: 30000 };
    this.stopped = false;
    this.refreshing = false;
    this.again = false;
    this.againHistory = false;
    this.debounce = 0;
    this.agentCount = 0;
  }

  start() {
    $('wb-connection').textContent = 'connecting…';
    this.stream = this.client.stream('/v1/events', {
      onEvent: (ev) => this.onEvent(ev),
      onOpen: () => {
        $('wb-connection').textContent = `connected to ${this.client.base}`;
        // Events missed while disconnected are not replayed: read it all.
        this.refresh(true);
      },
      onClose: () => {
        $('wb-connection').textContent = 'reconnecting…';
      },
    });
    this.refreshTimer = setInterval(() => this.refresh(false), REFRESH_MS);
    this.tickTimer = setInterval(() => this.tick(), TICK_MS);
    this.refresh(true);
  }

  stop() {
    this.stopped = true;
    clearInterval(this.refreshTimer);
    clearInterval(this.tickTimer);
    clearTimeout(this.debounce);
    if (this.stream) {
      this.stream.close();
    }
    $('wb-queues').replaceChildren();
    $('wb-agents').replaceChildren();
    $('wb-callbacks').replaceChildren();
    $('wb-connection').textContent = 'not signed in';
  }

  onEvent(ev) {
    if (this.stopped || !ev) {
      return;
    }
    if (ev.type === 'state' && ev.agent) {
      const row = this.agents.get(ev.agent);
      if (row) {
        row.setState(ev.state, Date.parse(ev.at), '');
        row.tick();
      }
    }
    clearTimeout(this.debounce);
    this.debounce = setTimeout(() => this.refresh(false), EVENT_DEBOUNCE_MS);
  }

  // refresh re-reads the figures; one read runs at a time, and a refresh
  // asked for meanwhile runs once after it.
  async refresh(withHistory) {
    if (this.stopped) {
      return;
    }
    if (this.refreshing) {
      this.again = true;
      this.againHistory ||= withHistory;
      return;
    }
    this.refreshing = true;
    try {
      let history = withHistory;
      do {
        this.again = false;
        await this.load(history);
        history = this.againHistory;
        this.againHistory = false;
      } while (this.again && !this.stopped);
    } finally {
      this.refreshing = false;
    }
  }

  async load(forceHistory) {
    let queues, agents, callbacks;
    try {
      [queues, agents, callbacks] = await Promise.all([
        this.client.request('GET', '/v1/queues'),
        this.client.request('GET', '/v1/agents'),
        this.client.request('GET', '/v1/callbacks'),
      ]);
    } catch (err) {
      this.failed(err);
      return;
    }
    if (this.stopped) {
      return;
    }
    clearError('refresh');
    this.render(queues.queues || [], agents.agents || [], callbacks.callbacks || []);
    if (forceHistory || performance.now() - this.history.at >= this.history.intervalMS) {
      await this.loadHistory([...this.cards.values()]);
    }
  }

  async loadHistory(cards) {
    this.history.at = performance.now();
    try {
      const all = await Promise.all(cards.map((c) =>
        this.client.request('GET', `/v1/queues/${encodeURIComponent(c.name)}/history`)));
      if (this.stopped) {
        return;
      }
      all.forEach((hist, i) => {
        drawChart(cards[i], hist);
        if (hist.interval_s > 0) {
          this.history.intervalMS = Math.max(1000, hist.interval_s * 1000);
        }
      });
    } catch (err) {
      this.failed(err);
    }
  }

  failed(err) {
    if (this.stopped) {
      return;
    }
    if (err instanceof ApiError && (err.status === 401 || err.status === 403)) {
      signOut();
      showError(err, 'signed out: the token is no longer accepted');
      return;
    }
    showError(err, refreshContext);
  }

  render(queues, agents, callbacks) {
    syncRows($('wb-queues'), this.cards, queues, (q) => q.name, (name) => new QueueCard(name));
    syncRows($('wb-agents'), this.agents, agents, (a) => a.id, (id) => new AgentRow(id, this));
    syncRows($('wb-callbacks'), this.callbacks, callbacks, (c) => c.id, (id) => new CallbackRow(id, this));
    $('wb-agents-empty').hidden = agents.length > 0;
    $('wb-callbacks-empty').hidden = callbacks.length > 0;
    this.queueNames = queues.map((q) => q.name);
  }

  tick() {
    for (const c of this.cards.values()) {
      c.tick();
    }
    for (const r of this.agents.values()) {
      r.tick();
    }
    for (const r of this.callbacks.values()) {
      r.tick();
    }
  }

  // ---- supervisor actions (the dialog asks for the audited reason)

  forceState(row, state, trigger) {
    const id = row.id;
    const label = { available: 'available', idle: 'idle', logged_out: 'logged out' }[state] || state;
    const onCall = !!row.call;
    this.dialog.open({
      title: state === 'logged_out' ? `Log out agent ${id}?` : `Make agent ${id} ${label}?`,
      text: state === 'logged_out'
        ? `Agent ${id} is logged out at once and stops receiving calls.`
        : state === 'idle'
          ? `Agent ${id} stops receiving calls until they (or you) make them available.`
          : `Agent ${id} starts receiving calls.`,
      confirm: state === 'logged_out' ? 'Log out' : `Make ${label}`,
      destructive: state !== 'available',
      idleReason: state === 'idle',
      forceEnd: onCall,
      failed: `could not change agent ${id}`,
      run: async ({ reason, idleReason, forceEnd }) => {
        const body = { state, reason };
        if (state === 'idle' && idleReason) {
          body.idle_reason = idleReason;
        }
        if (forceEnd) {
          body.force_end = true;
        }
        const res = await this.client.request('POST', `/v1/supervisor/agents/${encodeURIComponent(id)}/state`, body);
        const now = res && res.agent ? res.agent.state : state;
        return `Agent ${id} is now ${now}.`;
      },
      after: () => this.refresh(false),
    }, trigger);
  }

  endCall(row, trigger) {
    const call = row.call;
    if (!call) {
      return;
    }
    const conn = call.connection_id;
    this.dialog.open({
      title: `End agent ${row.id}'s call?`,
      text: `The call ${conn} (${call.queue || 'no queue'}, ${call.state}) is hung up for everyone on it.`,
      confirm: 'End the call',
      destructive: true,
      failed: `could not end call ${conn}`,
      run: async ({ reason }) => {
        const res = await this.client.request('POST', `/v1/supervisor/interactions/${encodeURIComponent(conn)}/end`, { reason });
        return `Call ${conn} ended (it was ${res && res.before ? res.before : call.state}).`;
      },
      after: () => this.refresh(false),
    }, trigger);
  }

  cancelCallback(row, trigger) {
    const id = row.id;
    this.dialog.open({
      title: 'Cancel this callback?',
      text: `The callback to ${row.number || id} is cancelled: nobody will call the customer back.`,
      confirm: 'Cancel the callback',
      destructive: true,
      reason: false, // DELETE /v1/callbacks/{id} takes no reason
      fallbackFocus: $('wb-callbacks-title'),
      failed: `could not cancel callback ${id}`,
      run: async () => {
        await this.client.request('DELETE', `/v1/callbacks/${encodeURIComponent(id)}`);
        return `Callback to ${row.number || id} cancelled.`;
      },
      after: () => this.refresh(false),
    }, trigger);
  }

  changeQueues(row, trigger) {
    const id = row.id;
    const queues = row.queues.value.split(/[\s,]+/).filter(Boolean);
    this.dialog.open({
      title: `Change agent ${id}'s queues?`,
      text: queues.length
        ? `Agent ${id} takes calls from ${queues.join(', ')} from now on; their state does not change.`
        : `No queue given: the server will refuse it.`,
      confirm: 'Save queues',
      failed: `could not change agent ${id}'s queues`,
      run: async ({ reason }) => {
        const res = await this.client.request('POST', `/v1/supervisor/agents/${encodeURIComponent(id)}/queues`, { queues, reason });
        const now = res && res.queues ? res.queues : (res && res.agent && res.agent.queues) || queues;
        // The field shows the server's answer again.
        row.serverQueues = now.join(', ');
        row.queues.value = row.serverQueues;
        return `Agent ${id} now takes ${now.join(', ')}.`;
      },
      after: () => this.refresh(false),
    }, trigger);
  }
}

// ---------------------------------------------------------------- sign-in

let board = null;
let dialog = null;
// signInGen counts sign-ins and sign-outs: a sign-in still under way when
// it changes was overtaken (signed out meanwhile, or another token typed)
// and does not start its board.
let signInGen = 0;

// A reload signs in again from the token kept in the tab. When that fails
// for another reason than the token (no replica answered: a failover under
// way), the token is kept and the sign-in tried again after
// RESUME_MIN_MS, doubling up to RESUME_MAX_MS, the footer saying
// "reconnecting…". Only a refusal of the token (401, 403) forgets it.
const RESUME_MIN_MS = 1000;
const RESUME_MAX_MS = 10000;

function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

// signIn checks the token (GET /v1/settings, then GET /v1/callbacks, which
// only a supervisor token may read) and starts the board, unless gen is
// no longer the current sign-in when the answers come (false then).
async function signIn(token, gen) {
  // ?replicas=url1,url2 in the address overrides the server's web.replicas.
  const override = pageBases();
  const client = new Client({ bases: override, token });
  const settings = await client.request('GET', '/v1/settings');
  if (!override.length && Array.isArray(settings.replicas) && settings.replicas.length) {
    // The client stays on the replica that served the page while it lives.
    client.setBases(settings.replicas);
  }
  await client.request('GET', '/v1/callbacks');
  if (gen !== signInGen) {
    return false;
  }
  dialog.setIdleReasons(settings.idle_reasons);
  board = new Board(client, settings, dialog);
  $('wb-signin').hidden = true;
  $('wb-board').hidden = false;
  $('wb-signout').hidden = false;
  board.start();
  return true;
}

function signOut() {
  signInGen++;
  if (board) {
    board.stop();
    board = null;
  }
  sessionStorage.removeItem(TOKEN_KEY);
  if (dialog && dialog.d.open) {
    dialog.d.close();
  }
  $('wb-board').hidden = true;
  $('wb-signout').hidden = true;
  $('wb-signin').hidden = false;
  $('wb-token').value = '';
  $('wb-connection').textContent = 'not signed in';
  notice('');
}

// refused says whether err is the API refusing the token itself.
function refused(err) {
  return err instanceof ApiError && (err.status === 401 || err.status === 403);
}

// signInError words a refused sign-in.
function signInError(err) {
  if (err instanceof ApiError && err.status === 401) {
    return 'sign-in refused';
  }
  if (err instanceof ApiError && err.status === 403) {
    return 'sign-in refused: this is not a supervisor token (the wallboard needs one of auth.supervisors)';
  }
  return 'sign-in failed';
}

// trySignIn signs in with a token typed into the form.
async function trySignIn(token) {
  const gen = ++signInGen;
  const submit = $('wb-signin').querySelector('button[type=submit]');
  submit.disabled = true;
  try {
    if (await signIn(token, gen)) {
      sessionStorage.setItem(TOKEN_KEY, token);
      clearError();
      $('wb-queues-title').focus();
    }
  } catch (err) {
    if (gen === signInGen) {
      signOut();
      showError(err, signInError(err));
      $('wb-token').focus();
    }
  } finally {
    submit.disabled = false;
  }
}

// resumeSession signs in again with the token kept in the tab (the page
// was reloaded). Meanwhile the sign-in form stays hidden and Sign out
// shown: it forgets the token and stops the retries.
async function resumeSession(token) {
  const gen = ++signInGen;
  $('wb-signin').hidden = true;
  $('wb-signout').hidden = false;
  $('wb-connection').textContent = 'signing in…';
  for (let delay = RESUME_MIN_MS; gen === signInGen; delay = Math.min(delay * 2, RESUME_MAX_MS)) {
    try {
      if (await signIn(token, gen)) {
        notice('');
        clearError();
        $('wb-queues-title').focus();
      }
      return;
    } catch (err) {
      if (gen !== signInGen) {
        return;
      }
      if (refused(err)) {
        signOut();
        showError(err, signInError(err));
        $('wb-token').focus();
        return;
      }
      $('wb-connection').textContent = 'reconnecting…';
      notice(`Signing in again: ${describe(err)}; trying again in ${Math.round(delay / 1000)} s…`);
    }
    await sleep(delay);
  }
}

function main() {
  dialog = new ActionDialog();
  $('wb-signin').addEventListener('submit', (e) => {
    e.preventDefault();
    const token = $('wb-token').value.trim();
    if (token) {
      trySignIn(token);
    }
  });
  // The page ships with its sign-in button off (index.html says why).
  $('wb-signin').querySelector('button[type=submit]').disabled = false;
  $('wb-script-loading').hidden = true;
  $('wb-signout').addEventListener('click', () => {
    signOut();
    clearError();
    $('wb-token').focus();
  });
  $('wb-error-dismiss').addEventListener('click', () => clearError());
  const saved = sessionStorage.getItem(TOKEN_KEY);
  if (saved) {
    resumeSession(saved);
  } else {
    $('wb-token').focus();
  }
}

main();

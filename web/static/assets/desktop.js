// The agent desktop: sign in, state control, contact requests, call
// control, call variables and wrap-up. Everything it shows comes from the
// API (read again on every (re)connect of the event stream) and from the
// stream's events; nothing is kept between page loads, not even the token.
//
// Rendering updates elements in place rather than rebuilding them, so an
// agent typing in a variable or tabbing through a list keeps their focus
// when an event or a resync arrives.
import { Client, ApiError, fmtDuration } from './tandem.js';

const $ = (id) => document.getElementById(id);

// h builds an element: attrs are set as attributes (true = present,
// false/null/undefined = absent); functions under on* become listeners.
function h(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === false || v === null || v === undefined) continue;
    if (k.startsWith('on') && typeof v === 'function') {
      e.addEventListener(k.slice(2), v);
    } else {
      e.setAttribute(k, v === true ? '' : String(v));
    }
  }
  for (const c of children.flat()) {
    if (c !== null && c !== undefined && c !== false) e.append(c);
  }
  return e;
}

// parseTime reads an RFC 3339 time from the API (Go writes up to nine
// fraction digits; Date.parse is only specified for three).
function parseTime(s) {
  if (!s) return NaN;
  return Date.parse(String(s).replace(/(\.\d{3})\d+/, '$1'));
}

function secondsSince(ms) {
  if (!Number.isFinite(ms)) return 0;
  return Math.max(0, Math.floor((Date.now() - ms) / 1000));
}

// Human names of the agent's states (the raw state is in data-state).
const stateNames = {
  logged_out: 'Logged out',
  idle: 'Idle',
  available: 'Available',
  reserved: 'Reserved for a call',
  ringing: 'Ringing',
  connected: 'On a call',
  wrapup: 'Wrap-up',
  rona: 'RONA (missed a call)',
};

// The desk rules of package dialnum that a browser can check as the agent
// types; whether the number is valid in a country is the server's call.
function checkNumber(input) {
  const s = input.trim();
  if (s === '') return 'is required';
  let cleaned = '';
  for (const ch of s) {
    if (/[0-9+#*:]/.test(ch)) cleaned += ch;
    else if (/[\s\-.()\u2010-\u2015\u2212]/.test(ch)) continue;
    else return `"${ch}" is not allowed: use digits, + # * : and separators (space - . ( ))`;
  }
  if (cleaned.lastIndexOf('+') > 0) return "'+' may only be the first character";
  const keys = (cleaned.match(/[0-9#*]/g) || []).length;
  if (keys < 3 || keys > 18) return `must have 3 to 18 digits (# and * count), has ${keys}`;
  return '';
}

// describe turns an error into the line the agent reads: the API's
// message and the field it names.
function describe(err) {
  if (err instanceof ApiError) {
    // tandem.js writes the message as "field: error" already.
    let text = err.message;
    if (err.field && !text.startsWith(`${err.field}:`)) text = `${err.field}: ${text}`;
    const status = err.status > 0 ? ` (HTTP ${err.status})` : '';
    return `${text}${status}`;
  }
  if (err && err.message) return `cannot reach Tandem: ${err.message}`;
  return String(err);
}

// ---- session state --------------------------------------------------------

const S = {
  client: null,
  agentId: '',
  settings: null,
  settingsKey: '', // agent id + token the settings were loaded with
  agent: null,
  call: null,
  vars: null, // the call's variables (cad view) as last read
  varsConn: '', // the connection the variable rows are built for
  // drafts: variable name → the saved value the agent's unsaved edit
  // started from (the edit itself is in the input).
  drafts: new Map(),
  requests: new Map(), // connection id → contact request (pop-over)
  stream: null,
  ticker: 0,
  // gen counts local changes (an action's answer, an event): a resync
  // that started before one does not apply what it read.
  gen: 0,
  resyncRunning: false,
  resyncAgain: false,
  wrapupShownFor: '', // the wrap-up (agent.since) the dialog was opened for
  consultMode: 'consult',
  consultPoll: 0,
  targets: { agents: [], queues: [] },
  errorFrom: '', // what the error box is about
  lastError: null, // the error it shows, if it came from the API
};

// resyncWhat names a failed resync in the error box; a later resync that
// works clears it.
const resyncWhat = 'Reading the desk again';

function agentPath(suffix = '') {
  return `/v1/agents/${encodeURIComponent(S.agentId)}${suffix}`;
}

// ---- errors and notices ------------------------------------------------------

function showError(what, err) {
  showProblem(what, describe(err));
  S.lastError = err;
}

// showProblem shows a line in the error box: what failed and why.
function showProblem(what, why) {
  const box = $('error');
  box.textContent = `${what}: ${why}`;
  box.hidden = false;
  S.errorFrom = what;
}

function clearError() {
  const box = $('error');
  box.textContent = '';
  box.hidden = true;
  S.errorFrom = '';
  S.lastError = null;
}

function notice(text) {
  const p = $('notice');
  p.textContent = text;
  p.hidden = text === '';
}

// act runs one user action: the error box is cleared first and shows the
// API's answer if the action fails; the button is disabled meanwhile so a
// double click does not send the step twice.
async function act(what, button, fn) {
  clearError();
  const hadFocus = button && document.activeElement === button;
  if (button) button.disabled = true;
  try {
    return await fn();
  } catch (err) {
    showError(what, err);
    // A write whose answer was lost may have been carried out: the
    // error says the state is read again, and so it is.
    if (err instanceof ApiError && err.unknownOutcome) changed();
    return undefined;
  } finally {
    if (button) button.disabled = false;
    render();
    if (hadFocus) keepFocus(button);
  }
}

// keepFocus keeps the keyboard focus near an action's button. A disabled
// button loses the focus to the page's body (during the request, and for
// good when the new state disables it: Hold once on hold, Available once
// available), which leaves a keyboard or screen-reader user nowhere: the
// focus goes back to the button, else to its partner (data-focus-next:
// Hold and Resume), else to the next usable button of its row, else the
// row's first. Focus moved on purpose (a dialog that opened) is left
// where it is.
function keepFocus(button) {
  const now = document.activeElement;
  if (now && now !== document.body && now !== button) return;
  const usable = (b) => b && !b.disabled && b.offsetParent !== null;
  if (button.isConnected && usable(button)) {
    button.focus();
    return;
  }
  const partner = button.dataset.focusNext && $(button.dataset.focusNext);
  if (usable(partner)) {
    partner.focus();
    return;
  }
  const row = button.closest('.row');
  if (!row) return;
  const buttons = [...row.querySelectorAll('button')];
  const next = buttons.slice(buttons.indexOf(button) + 1).find(usable) || buttons.find(usable);
  if (next) next.focus();
}

// ---- the API ---------------------------------------------------------------

// replicasFromURL is ?replicas=url1,url2, which overrides web.replicas.
function replicasFromURL() {
  const v = new URLSearchParams(location.search).get('replicas');
  if (!v) return [];
  return v.split(',').map((s) => s.trim().replace(/\/+$/, '')).filter(Boolean);
}

// basesFor orders the replicas to try: the one that served this page
// first when it is listed (it answered a moment ago).
function basesFor(replicas) {
  const list = [...replicas];
  const i = list.indexOf(location.origin);
  if (i > 0) list.unshift(...list.splice(i, 1));
  return list;
}

function newClient(token, replicas) {
  return new Client({ bases: basesFor(replicas), token });
}

// getOrNull reads a call resource that may not exist: 404 and 409 ("no
// call") are null.
async function getOrNull(path) {
  try {
    return await S.client.request('GET', path);
  } catch (err) {
    if (err instanceof ApiError && (err.status === 404 || err.status === 409)) return null;
    throw err;
  }
}

// ---- sign in -------------------------------------------------------------------

// loadSettings reads GET /v1/settings with the token typed in, and moves
// the client to the configured replicas (unless ?replicas= names them).
async function loadSettings(agentId, token) {
  const key = `${agentId}\u0000${token}`;
  if (S.settings && S.settingsKey === key) return S.settings;
  const urlReplicas = replicasFromURL();
  let client = newClient(token, urlReplicas);
  const settings = await client.request('GET', '/v1/settings');
  if (urlReplicas.length === 0 && Array.isArray(settings.replicas) && settings.replicas.length > 0) {
    client = newClient(token, settings.replicas.map((s) => s.replace(/\/+$/, '')));
  }
  S.client = client;
  S.settings = settings;
  S.settingsKey = key;
  renderSettings();
  return settings;
}

function renderSettings() {
  const st = S.settings;
  const box = $('signin-queues');
  const checked = new Set([...box.querySelectorAll('input:checked')].map((i) => i.value));
  box.querySelectorAll('p.queue').forEach((p) => p.remove());
  $('signin-queues-hint').hidden = (st.queues || []).length > 0;
  for (const q of st.queues || []) {
    const id = `queue-${q.name}`;
    box.append(h('p', { class: 'queue' },
      h('input', { type: 'checkbox', id, 'data-testid': id, name: 'queues', value: q.name, checked: checked.has(q.name) }),
      ' ',
      h('label', { for: id }, q.name)));
  }
  const idle = $('idle-reason');
  const was = idle.value;
  idle.replaceChildren(...(st.idle_reasons || []).map((r) => h('option', { value: r }, r)));
  if (was) idle.value = was;
}

async function trySettings() {
  const agentId = $('signin-agent').value.trim();
  const token = $('signin-token').value;
  if (!agentId || !token) return;
  try {
    await loadSettings(agentId, token);
    clearError();
  } catch (err) {
    showError('Loading settings', err);
  }
}

async function signIn(ev) {
  ev.preventDefault();
  clearError();
  const agentId = $('signin-agent').value.trim();
  const token = $('signin-token').value;
  const endpoint = $('signin-endpoint').value.trim();
  if (!agentId) return fieldError('signin-agent', 'agent id', 'is required');
  if (!token) return fieldError('signin-token', 'token', 'is required');
  const button = $('signin-submit');
  button.disabled = true;
  try {
    await loadSettings(agentId, token);
    S.agentId = agentId;
    const queues = [...$('signin-queues').querySelectorAll('input:checked')].map((i) => i.value);
    let agent = await getOrNull(agentPath());
    if (agent && agent.state !== 'logged_out') {
      // Signed in already (another tab, or this page reloaded): take the
      // session over as it is; the queues are those of that login.
      notice(`Agent ${agentId} was signed in already (queues ${(agent.queues || []).join(', ')}): carrying on.`);
    } else {
      if (!endpoint) return fieldError('signin-endpoint', 'endpoint', 'is required');
      if (queues.length === 0) return fieldError(`queue-${(S.settings.queues[0] || {}).name}`, 'queues', 'choose at least one queue');
      agent = await S.client.request('POST', agentPath('/login'), { endpoint, queues });
      notice('');
    }
    startSession(agent);
  } catch (err) {
    showError('Sign in', err);
  } finally {
    button.disabled = false;
  }
}

function fieldError(inputId, field, msg) {
  showProblem('Sign in', `${field}: ${msg}`);
  const input = $(inputId);
  if (input) input.focus();
}

function startSession(agent) {
  S.agent = agent;
  S.gen++;
  $('signin').hidden = true;
  $('desk').hidden = false;
  $('who').hidden = false;
  $('state-box').hidden = false;
  $('who').textContent = `Agent ${S.agentId}`;
  $('signin-token').value = '';
  render();
  S.stream = S.client.stream(agentPath('/events'), {
    onEvent,
    onOpen() {
      $('connection').textContent = `connected to ${S.client.base}`;
      $('connection').dataset.state = 'open';
      requestResync();
    },
    onClose() {
      $('connection').textContent = 'reconnecting…';
      $('connection').dataset.state = 'closed';
    },
  });
  S.ticker = setInterval(tick, 1000);
  $('go-available').focus();
}

function stopSession(why) {
  if (S.stream) S.stream.close();
  clearInterval(S.ticker);
  closeDialog($('consult-dialog'));
  closeDialog($('wrapup-dialog'));
  Object.assign(S, {
    stream: null, ticker: 0, agent: null, call: null, vars: null, varsConn: '',
    client: null, settings: null, settingsKey: '', wrapupShownFor: '',
  });
  S.drafts.clear();
  S.requests.clear();
  S.gen++;
  $('vars').replaceChildren();
  $('popover').replaceChildren();
  $('desk').hidden = true;
  $('who').hidden = true;
  $('state-box').hidden = true;
  $('signin').hidden = false;
  $('connection').textContent = 'not connected';
  $('connection').dataset.state = '';
  notice(why);
  $('signin-token').focus();
}

// ---- resynchronisation -----------------------------------------------------------

// requestResync re-reads the agent, its call and the call's variables;
// calls made while one runs are folded into one more run after it.
function requestResync() {
  if (S.resyncRunning) {
    S.resyncAgain = true;
    return;
  }
  S.resyncRunning = true;
  (async () => {
    try {
      do {
        S.resyncAgain = false;
        await resyncOnce();
      } while (S.resyncAgain && S.client);
    } finally {
      S.resyncRunning = false;
    }
  })();
}

async function resyncOnce() {
  if (!S.client) return;
  const gen = S.gen;
  let agent;
  let call = null;
  let vars = null;
  try {
    ({ agent, call } = await readDesk());
    if (call) vars = await getOrNull(agentPath('/call/variables'));
  } catch (err) {
    // The stream reconnects and asks again; say what failed meanwhile.
    if (S.client) showError(resyncWhat, err);
    return;
  }
  if (!S.client) return;
  if (gen !== S.gen) {
    // Something newer arrived while reading: read again rather than
    // paint an older picture over it.
    S.resyncAgain = true;
    return;
  }
  if (!agent || agent.state === 'logged_out') {
    stopSession(`Agent ${S.agentId} is logged out.`);
    return;
  }
  if (S.errorFrom === resyncWhat) clearError();
  S.agent = agent;
  S.call = call;
  setVars(vars);
  reconcileRequests();
  render();
}

// readDesk reads the agent and, while it is on a call, the call: what a
// resync starts from, and what a step whose answer was lost is checked
// against.
async function readDesk() {
  const agent = await getOrNull(agentPath());
  let call = null;
  if (agent && agent.connection_id && agent.state !== 'wrapup' && agent.state !== 'logged_out') {
    call = await getOrNull(agentPath('/call'));
  }
  return { agent, call };
}

// changed marks local state as newer than any read in flight, and asks
// for a fresh read after it.
function changed() {
  S.gen++;
  requestResync();
}

// ---- events ------------------------------------------------------------------------

function onEvent(ev) {
  if (!ev || typeof ev !== 'object') return;
  const conn = ev.connection_id || '';
  switch (ev.type) {
    case 'state':
      if (S.agent) {
        S.agent = { ...S.agent, state: ev.state, since: ev.at || new Date().toISOString() };
        if (ev.state !== 'idle') S.agent.reason = '';
        if (conn) S.agent.connection_id = conn;
      }
      // The agent is bound to one call at a time: a request for another
      // call is over, even if its end has not arrived yet (the hand-off to
      // the next waiting call comes in the same step that frees the agent).
      if (conn) dropRequestsBut(conn);
      break;
    case 'offered':
      S.requests.set(conn, requestFromOffer(ev));
      break;
    case 'consult_request':
      S.requests.set(conn, {
        conn,
        kind: 'consult',
        ani: ev.ani || '',
        dnis: ev.dnis || '',
        queue: ev.queue || '',
        from: ev.from || null,
        variables: popupFromAttached(ev.queue, ev.attached),
        at: parseTime(ev.at) || Date.now(),
      });
      break;
    case 'connected':
      // Answered: the pop-over has done its job. A callback's pop-over
      // stays until the customer is on the line (kind "callback").
      for (const [k, r] of S.requests) {
        if (k === conn && (r.kind !== 'callback' || ev.kind === 'callback')) S.requests.delete(k);
      }
      break;
    case 'ended':
      S.requests.delete(conn);
      if (endedWhy[ev.disposition]) notice(endedWhy[ev.disposition]);
      break;
    case 'consult_failed':
      notice(`The consult did not connect (${(ev.disposition || 'failed').replace(/_/g, ' ')}).`);
      break;
    case 'consult_ended':
      notice('The consult ended.');
      break;
  }
  // consult_connected, recording_resumed, ...: the call as it is now.
  if (ev.call && ev.call.connection_id) S.call = ev.call;
  render();
  changed();
}

// requestFromOffer is the contact request of an "offered" event: the one
// the stream brings, or the same event kept by the server as the agent's
// pending offer (GET /v1/agents/{id} "offer"), read on every resync.
function requestFromOffer(ev) {
  return {
    conn: ev.connection_id || '',
    kind: ['callback', 'transfer'].includes(ev.kind) ? ev.kind : 'inbound',
    ani: ev.ani || '',
    dnis: ev.dnis || '',
    queue: ev.queue || '',
    number: ev.number || '',
    variables: ev.variables || [],
    at: parseTime(ev.at) || Date.now(),
    requestedAt: parseTime(ev.requested_at),
  };
}

// endedWhy says why a call left the desk when it is news to the agent.
const endedWhy = {
  transferred: 'Call transferred.',
  left_conference: 'You left the conference.',
  consult_ended: 'The consult ended.',
  rona: 'The call was not answered in time (RONA).',
};

// popupFromAttached shows a consult request's variables: the event has
// them as a map (secure ones masked); the queue's settings give labels and
// order.
function popupFromAttached(queue, attached) {
  if (!attached) return [];
  const q = ((S.settings && S.settings.queues) || []).find((x) => x.name === queue);
  if (!q) return [];
  return (q.variables || [])
    .filter((v) => v.popup && Object.hasOwn(attached, v.name))
    .map((v) => ({ ...v, value: attached[v.name] }));
}

// dropRequestsBut drops the requests for calls other than conn.
function dropRequestsBut(conn) {
  for (const k of [...S.requests.keys()]) {
    if (k !== conn) S.requests.delete(k);
  }
}

// reconcileRequests drops pop-overs the agent's state has left behind and
// rebuilds the one a reconnect or a reload may have missed (an offer made
// while the stream was down, or before the page was loaded). The server
// never offers an agent two calls at once, so a request for another call
// than the agent's is over: its end came while the stream was down.
//
// The agent as read carries the pending offer ("offer": the "offered"
// event itself, secure values masked) while the phone rings for it, and
// for a callback until it is accepted: the request is rebuilt from it
// exactly as it was shown live (label, caller, DNIS, queue, variables,
// time, callback number and Accept). Without one, a callback's request is
// over (accepted, or its call ended) and any other lasts while the phone
// rings.
function reconcileRequests() {
  const a = S.agent;
  const ringing = a && (a.state === 'reserved' || a.state === 'ringing');
  const offer = a && a.offer && a.offer.connection_id && a.offer.connection_id === a.connection_id ? a.offer : null;
  if (a && a.connection_id) dropRequestsBut(a.connection_id);
  for (const [k, r] of S.requests) {
    if (offer && k === offer.connection_id) continue;
    if (r.kind === 'callback' || !ringing) S.requests.delete(k);
  }
  if (offer) {
    S.requests.set(offer.connection_id, requestFromOffer(offer));
    return;
  }
  if (ringing && a.connection_id && !S.requests.has(a.connection_id)) {
    const c = S.call || {};
    const values = (S.vars && S.vars.values) || [];
    // Ringing with no offer kept by the server: a consult request (the
    // consulted agent's ring has no screen pop of its own), or a ring the
    // PBX did not confirm (no pop was shown live either). What it is comes
    // from the call as read: a consult names this agent as the consulted
    // one; a call that has a view but is not this agent's was answered by
    // another agent before (a blind transfer); otherwise its caller, DNIS
    // and queue stay unknown ("—").
    let kind = 'inbound';
    if (S.call && c.consult && c.consult.agent === S.agentId) kind = 'consult';
    else if (S.call && c.agent !== S.agentId) kind = 'transfer';
    S.requests.set(a.connection_id, {
      conn: a.connection_id,
      kind,
      from: kind === 'consult' && c.agent ? { id: c.agent } : null,
      ani: c.ani || '',
      dnis: c.dnis || '',
      queue: c.queue || '',
      variables: values.filter((v) => v.popup),
      at: parseTime(a.since) || Date.now(),
    });
  }
}

// ---- rendering ---------------------------------------------------------------------

function render() {
  renderAgent();
  renderRequests();
  renderCall();
  tick();
}

function renderAgent() {
  const a = S.agent;
  if (!a) return;
  const st = a.state;
  const name = stateNames[st] || st;
  $('state').textContent = st === 'idle' && a.reason ? `${name} — ${a.reason}` : name;
  $('state').dataset.state = st;
  $('state').className = `badge state-${st}`;
  $('go-available').disabled = !['idle', 'rona'].includes(st);
  $('go-idle').disabled = !['available', 'idle', 'rona'].includes(st);
  $('logout').disabled = !['available', 'idle', 'rona'].includes(st);
  $('rona-choice').hidden = st !== 'rona';
  $('wrapup-open').hidden = st !== 'wrapup' || $('wrapup-dialog').open;

  const wrap = $('wrapup-dialog');
  if (st === 'wrapup') {
    // Opened once per wrap-up; "Later" or Esc leaves it closed.
    // Keyed by the second it began: the event's time and the stored
    // one are the same instant written differently.
    const key = String(Math.floor(parseTime(a.since) / 1000));
    if (S.wrapupShownFor !== key) {
      S.wrapupShownFor = key;
      openWrapup();
    }
  } else if (wrap.open) {
    closeDialog(wrap);
  }
}

function requestLabel(r) {
  return r.kind === 'callback' ? 'callback' : r.kind === 'consult' ? 'consult' : r.kind === 'transfer' ? 'transfer' : 'inbound';
}

function sortedVars(vars) {
  return [...(vars || [])].sort((x, y) => (x.order ?? 0) - (y.order ?? 0));
}

function varText(v) {
  const label = v.label || v.name;
  // A secure value never reaches the page in clear (the API masks it);
  // the page does not show even the mask's length.
  return `${label}: ${v.secure ? '••••••' : v.value}`;
}

function buildRequest(r) {
  const callback = r.kind === 'callback';
  const li = h('li', {
    class: `notice request request-${requestLabel(r)}`,
    'data-testid': callback ? 'callback-request' : 'request',
    'data-connection-id': r.conn,
    'aria-label': `${requestLabel(r)} request`,
  });
  const facts = h('dl', { class: 'pairs' });
  const fact = (label, testid, value) => {
    facts.append(h('dt', {}, label), h('dd', { 'data-testid': testid }, value || '—'));
  };
  li.append(h('p', { class: 'request-head' },
    h('span', { class: 'label', 'data-testid': 'request-label' }, requestLabel(r)),
    ' ',
    h('span', { class: 'elapsed', 'data-testid': 'request-elapsed', 'aria-label': 'time since the request' }, '0:00')));
  if (r.kind === 'consult' && r.from) {
    li.append(h('p', { class: 'from' }, `from agent ${r.from.id}${r.from.dn ? ` (${r.from.dn})` : ''}${r.from.team ? `, ${r.from.team}` : ''}`));
  }
  if (callback) fact('Customer number', 'callback-number', r.number || r.ani);
  else fact('Caller (ANI)', 'request-ani', r.ani);
  fact('Dialled (DNIS)', 'request-dnis', r.dnis);
  fact('Queue', 'request-queue', r.queue);
  li.append(facts);
  const vars = sortedVars(r.variables);
  if (vars.length > 0) {
    li.append(h('ul', { class: 'request-vars' },
      vars.map((v) => h('li', { 'data-testid': 'request-var', 'data-name': v.name, 'data-secure': v.secure ? 'true' : 'false' }, varText(v)))));
  }
  if (callback) {
    li.append(h('p', {}, h('button', {
      type: 'button',
      'data-testid': 'callback-accept',
      onclick: (e) => acceptCallback(e.currentTarget),
    }, 'Accept callback')));
    li.append(h('p', { class: 'muted' }, 'Answer your phone, then accept: the customer is dialled.'));
  }
  return li;
}

// requestKey is what a request shows, but its elapsed time (which tick
// updates in place).
function requestKey(r) {
  return JSON.stringify([r.kind, r.ani, r.dnis, r.queue, r.number || '', r.from || null,
    sortedVars(r.variables).map((v) => [v.name, v.label, v.secure, v.value])]);
}

function renderRequests() {
  const list = $('popover');
  const reqs = [...S.requests.values()].sort((x, y) => x.at - y.at);
  const have = new Map([...list.children].map((li) => [li.dataset.connectionId, li]));
  for (const [k, li] of have) {
    if (!S.requests.has(k)) li.remove();
  }
  // Oldest first: append in order; an element already in place is kept
  // where it is (moving it would take the focus from its button).
  let prev = null;
  for (const r of reqs) {
    let li = have.get(r.conn);
    const key = requestKey(r);
    if (!li || li.dataset.key !== key) {
      // New, or known better now (a request rebuilt without the server's
      // offer, then read with it): built again. An unchanged one is left
      // alone, so its Accept button keeps the focus.
      if (li) li.remove();
      li = buildRequest(r);
      li.dataset.kind = r.kind;
      li.dataset.key = key;
    }
    const want = prev ? prev.nextSibling : list.firstChild;
    if (li !== want) list.insertBefore(li, want);
    prev = li;
  }
  $('no-requests').hidden = reqs.length > 0;
}

// callState names what the agent is doing on the call.
function callState(c) {
  switch (c.state) {
    case 'held':
      return ['held', 'on hold'];
    case 'conferenced':
      return ['conference', 'conference'];
    case 'consulting': {
      const cs = (c.consult && c.consult.state) || 'ringing';
      if (cs === 'held') return ['consult-held', 'consult on hold'];
      if (cs === 'ringing') return ['consulting', c.customer_held ? 'consulting (ringing)' : 'consulting (ringing, customer back)'];
      return ['consulting', 'consulting'];
    }
    case 'connected':
      if (c.customer_held) return ['waiting', 'connected (waiting for the customer)'];
      return ['connected', 'connected'];
    default:
      return [c.state, c.state];
  }
}

const liveCallStates = new Set(['connected', 'held', 'consulting', 'conferenced']);

function renderCall() {
  const c = S.call;
  const panel = $('call-panel');
  const live = c && liveCallStates.has(c.state) && S.agent && S.agent.state === 'connected';
  panel.hidden = !live;
  const buttons = ['hold', 'resume', 'consult-open', 'transfer', 'conference', 'consult-end', 'rec-pause', 'rec-resume', 'end-call'];
  if (!live) {
    buttons.forEach((b) => { $(b).disabled = true; });
    if ($('consult-dialog').open) closeDialog($('consult-dialog'));
    return;
  }
  const [slug, text] = callState(c);
  $('call-state').textContent = text;
  $('call-state').dataset.state = slug;
  const owner = c.role !== 'consulted';
  const consult = c.consult;
  const consultUp = consult && (consult.state === 'connected' || consult.state === 'held');
  $('hold').disabled = !owner || c.state !== 'connected' || c.customer_held;
  $('resume').disabled = !owner || !(c.state === 'held' || c.state === 'consulting');
  $('resume').textContent = c.state === 'consulting'
    ? (c.customer_held ? 'Back to customer' : 'Back to consulted party')
    : 'Resume';
  $('consult-open').disabled = !owner || !(c.state === 'connected' || c.state === 'held') || (c.state === 'connected' && c.customer_held);
  $('transfer').disabled = !owner || !((c.state === 'connected' && !c.customer_held) || c.state === 'held' || (c.state === 'consulting' && consultUp));
  $('transfer').textContent = c.state === 'consulting' ? 'Transfer to consulted party' : 'Transfer…';
  $('conference').disabled = !owner || !(c.state === 'consulting' && consultUp);
  $('consult-end').disabled = !owner || !(c.state === 'consulting' || c.state === 'conferenced');
  $('end-call').disabled = false;

  const rec = c.recording;
  const ind = $('rec-indicator');
  if (!rec || !rec.active) {
    ind.textContent = 'not recorded';
    ind.dataset.recording = 'off';
    ind.className = 'muted';
  } else if (rec.paused) {
    ind.textContent = rec.privacy ? 'recording paused (privacy)' : 'recording paused';
    ind.dataset.recording = 'paused';
    ind.className = 'rec paused';
  } else {
    ind.textContent = 'recording';
    ind.dataset.recording = 'on';
    ind.className = 'rec';
  }
  $('rec-pause').disabled = !rec || !rec.active || rec.paused;
  $('rec-resume').disabled = !rec || !rec.active || !rec.paused;

  const facts = [['Caller (ANI)', c.ani], ['Dialled (DNIS)', c.dnis], ['Queue', c.queue]];
  if (!owner) facts.push(['Role', `consulted by agent ${c.agent}`]);
  if (consult) {
    const t = consult.target || {};
    facts.push(['Consult', `${t.kind || ''} ${consult.agent || t.value || ''} (${consult.state})`.trim()]);
  }
  $('call-facts').replaceChildren(...facts.flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v || '—')]));
}

// ---- variables --------------------------------------------------------------------------

function inputFor(v) {
  const id = `var-${v.name}`;
  const common = { id, 'data-testid': id, name: v.name, 'aria-describedby': 'var-conflict' };
  if (v.secure) {
    // The value is masked by the API; an editable secure variable takes a
    // new value typed in blind.
    return h('input', { ...common, type: 'password', autocomplete: 'off', value: '', placeholder: '•••••• (hidden)', readonly: !v.editable });
  }
  if (v.type === 'boolean' && v.editable) {
    return h('select', common,
      h('option', { value: '' }, '—'), h('option', { value: 'true' }, 'true'), h('option', { value: 'false' }, 'false'));
  }
  if (v.type === 'text') {
    return h('textarea', { ...common, rows: 2, maxlength: 256, readonly: !v.editable });
  }
  return h('input', {
    ...common,
    type: 'text',
    autocomplete: 'off',
    maxlength: 256,
    readonly: !v.editable,
    inputmode: v.type === 'number' ? 'decimal' : null,
    placeholder: v.type === 'datetime' ? '2025-01-31T14:30:00Z' : null,
  });
}

// setVars takes a fresh read of the call's variables: rows are built once
// per call; a value the agent is editing is left as typed.
function setVars(view) {
  const box = $('vars');
  if (!view) {
    if (!S.call) {
      S.vars = null;
      S.varsConn = '';
      S.drafts.clear();
      box.replaceChildren();
      $('var-conflict').hidden = true;
    }
    return;
  }
  const names = sortedVars(view.values).map((v) => v.name).join(',');
  if (view.connection_id !== S.varsConn || box.dataset.names !== names) {
    if (view.connection_id !== S.varsConn) {
      S.drafts.clear();
      $('var-conflict').hidden = true;
    }
    S.varsConn = view.connection_id;
    box.dataset.names = names;
    box.replaceChildren(...sortedVars(view.values).map((v) => {
      const input = inputFor(v);
      input.addEventListener('input', () => {
        if (!S.drafts.has(v.name)) S.drafts.set(v.name, varDef(v.name).value);
        renderVarButtons();
      });
      const row = h('div', { class: 'var', 'data-name': v.name },
        h('label', { for: input.id }, v.label || v.name, v.secure ? ' (secure)' : ''),
        input);
      if (v.editable) {
        row.append(
          h('button', { type: 'button', 'data-testid': `var-save-${v.name}`, onclick: (e) => saveVar(v.name, e.currentTarget) }, 'Save'),
          h('button', { type: 'button', 'data-testid': `var-revert-${v.name}`, onclick: () => revertVar(v.name) }, 'Revert'));
      }
      return row;
    }));
  }
  S.vars = view;
  for (const v of view.values) {
    const input = $(`var-${v.name}`);
    if (!input || v.secure) continue;
    if (!S.drafts.has(v.name)) {
      input.value = v.value;
    } else if (S.drafts.get(v.name) !== v.value) {
      // Saved by someone else (the other agent of a consult or a
      // conference) while this agent edits it: say so before they save.
      S.drafts.set(v.name, v.value);
      conflictMessage(v.name, v, view.version, 'while you were editing',
        'Save to replace it with yours, or Revert to take it.');
    }
  }
  renderVarButtons();
}

function renderVarButtons() {
  if (!S.vars) return;
  for (const v of S.vars.values) {
    if (!v.editable) continue;
    const dirty = S.drafts.has(v.name);
    const save = document.querySelector(`[data-testid="var-save-${CSS.escape(v.name)}"]`);
    const revert = document.querySelector(`[data-testid="var-revert-${CSS.escape(v.name)}"]`);
    if (save) save.disabled = !dirty;
    if (revert) revert.disabled = !dirty;
    const input = $(`var-${v.name}`);
    if (input) input.classList.toggle('dirty', dirty);
  }
}

function varDef(name) {
  return ((S.vars && S.vars.values) || []).find((v) => v.name === name) || { name, label: name };
}

async function saveVar(name, button) {
  if (!S.vars) return;
  const input = $(`var-${name}`);
  const value = input.value;
  await act(`Saving ${varDef(name).label || name}`, button, async () => {
    try {
      const view = await S.client.request('PUT', agentPath(`/call/variables/${encodeURIComponent(name)}`), { value, version: S.vars.version });
      S.drafts.delete(name);
      $('var-conflict').hidden = true;
      input.removeAttribute('aria-invalid');
      S.gen++;
      setVars(view);
      if (varDef(name).secure) input.value = '';
      notice(`Saved ${varDef(name).label || name}.`);
    } catch (err) {
      if (err instanceof ApiError && err.status === 409 && err.field) {
        await showConflict(name, err);
        return;
      }
      if (err instanceof ApiError && err.status === 400) input.setAttribute('aria-invalid', 'true');
      throw err;
    }
  });
}

// showConflict: another agent saved first. Their values become the base;
// the agent's own value stays in the box, to save over theirs or revert.
async function showConflict(name, err) {
  let current = err.body && err.body.current;
  if (!current) current = await getOrNull(agentPath('/call/variables'));
  S.gen++;
  if (current) setVars(current);
  const theirs = (current && current.values.find((v) => v.name === name)) || varDef(name);
  if (S.drafts.has(name)) S.drafts.set(name, theirs.value);
  conflictMessage(name, theirs, current ? current.version : '?', 'first',
    'Your value was not saved: Save again to replace theirs with it, or Revert to take theirs.');
}

// conflictMessage shows, next to the variables, that another writer's
// value of name won; the agent's own edit stays in its box.
function conflictMessage(name, theirs, version, when, what) {
  const def = varDef(name);
  const shown = def.secure ? 'a new value' : `"${theirs.value}"`;
  const box = $('var-conflict');
  box.textContent = `${def.label || name}: someone else saved ${shown} ${when} (now version ${version}). ${what}`;
  box.dataset.name = name;
  box.hidden = false;
}

function revertVar(name) {
  S.drafts.delete(name);
  const input = $(`var-${name}`);
  const v = varDef(name);
  if (input) {
    input.value = v.secure ? '' : (v.value ?? '');
    input.removeAttribute('aria-invalid');
  }
  if ($('var-conflict').dataset.name === name) $('var-conflict').hidden = true;
  renderVarButtons();
}

// ---- call actions --------------------------------------------------------------------------

// A call-control step can fail in two ways during a failover:
//
//   - 503: the API did not run it (the replica that runs the call is gone,
//     or the call is moving to another one). Another replica takes the
//     call over within seconds, so the step is simply sent again;
//   - its answer was lost (tandem.js's unknownOutcome: the replica died or
//     froze mid-request, a proxy answered 502, or the API answered 504):
//     the step may have been carried out. Sending it again could run it
//     twice, so the page first reads the agent and the call again, as a
//     resync does, and asks the step's test (stepDone) whether the desk shows
//     it carried out (Hold: the call is held; End: the agent left the
//     call). If so it stops there with a plain notice; if not, it sends
//     the step again.
//
// Either way the agent is told, and after about 20 s (RETRY_DELAYS_MS)
// the error is shown.
const RETRY_DELAYS_MS = [1000, 2000, 3000, 4000, 5000, 6000];

function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

// callShape is what Resume toggles: hold, and which party of a consult
// the agent talks to.
function callShape(c) {
  return JSON.stringify([c.state, !!c.customer_held, (c.consult && c.consult.state) || '']);
}

// leftCall: the agent is off the call it was on when it clicked (ended,
// transferred: in wrap-up, available, or on another call).
function leftCall(agent, before) {
  return !agent || agent.state !== 'connected' || !agent.connection_id || agent.connection_id !== before.conn;
}

// stepDone: a test per step: (agent, call, before) as read again after a
// lost answer → whether the step shows as carried out. before is the desk
// when the agent clicked: {call, conn}.
const stepDone = {
  hold: (a, c) => !!c && c.state === 'held',
  resume: (a, c, before) => !!c && !!before.call && callShape(c) !== callShape(before.call),
  consult: (a, c) => !!c && c.state === 'consulting',
  transfer: (a, c, before) => leftCall(a, before),
  conference: (a, c) => !!c && c.state === 'conferenced',
  consultEnd: (a, c) => !!c && c.state !== 'consulting' && c.state !== 'conferenced',
  end: (a, c, before) => leftCall(a, before),
  recPause: (a, c) => !!(c && c.recording && c.recording.paused),
  recResume: (a, c) => !!(c && c.recording && c.recording.active && !c.recording.paused),
  callbackAccept: (a) => !!a && a.state === 'connected' && !(a.offer && a.offer.kind === 'callback'),
};

// callAction posts a call-control step and shows the call it answers;
// isDone is the step's test in stepDone. It returns the answer (or the call
// as read again when the step showed as carried out), undefined if the
// step failed (the error box says why).
async function callAction(what, button, path, body, isDone) {
  return act(what, button, async () => {
    const before = { call: S.call, conn: (S.agent && S.agent.connection_id) || '' };
    let told = false; // the notice speaks of a retry
    let unsure = null; // a lost answer, until the desk is read again
    for (let waits = 0; ; ) {
      if (!S.client) return undefined; // signed out meanwhile
      if (unsure) {
        let now = null;
        try {
          now = await readDesk();
        } catch {
          // Still nobody to ask: wait, and read again.
        }
        if (now) {
          unsure = null;
          if (isDone(now.agent, now.call, before)) {
            if (now.agent) {
              S.agent = now.agent;
              S.call = now.call;
            }
            changed();
            notice(`${what}: done. (Tandem's answer was lost on the way; the call, read again, shows the step carried out.)`);
            return now.call || {};
          }
        }
      }
      if (!unsure) {
        try {
          const view = await S.client.request('POST', agentPath(path), body);
          if (told) notice('');
          if (view && view.connection_id) S.call = view;
          changed();
          return view;
        } catch (err) {
          const again = err instanceof ApiError && (err.status === 503 || err.unknownOutcome);
          if (!again || waits >= RETRY_DELAYS_MS.length) {
            if (told) changed(); // show the call as it is now
            throw err;
          }
          told = true;
          if (err.unknownOutcome) {
            unsure = err;
            notice(`${what}: Tandem's answer was lost; reading the call again before trying again…`);
            continue; // read at once
          }
          notice(`${what}: the call is moving to another replica; trying again…`);
        }
      } else if (waits >= RETRY_DELAYS_MS.length) {
        changed();
        throw unsure;
      }
      await sleep(RETRY_DELAYS_MS[waits]);
      waits++;
    }
  });
}

async function acceptCallback(button) {
  const view = await callAction('Accepting the callback', button, '/call/callback-accept', undefined, stepDone.callbackAccept);
  if (view) {
    for (const [k, r] of S.requests) if (r.kind === 'callback') S.requests.delete(k);
    render();
  }
}

function onTransfer() {
  const c = S.call;
  if (c && c.state === 'consulting') {
    callAction('Transfer', $('transfer'), '/call/transfer/complete', undefined, stepDone.transfer);
  } else {
    openConsult('transfer');
  }
}

// ---- consult / transfer dialog --------------------------------------------------------------------

function openConsult(mode) {
  const d = $('consult-dialog');
  S.consultMode = mode;
  $('consult-title').textContent = mode === 'transfer' ? 'Transfer (blind)' : 'Consult';
  $('consult-hint').textContent = mode === 'transfer'
    ? 'The customer goes to the agent, queue or number you pick; you leave the call.'
    : 'The customer is put on hold while you talk to the agent, queue or number you pick.';
  $('consult-dial').textContent = mode === 'transfer' ? 'Transfer' : 'Dial';
  $('consult-number-error').textContent = '';
  $('consult-number').removeAttribute('aria-invalid');
  $('consult-search').value = '';
  renderTargets();
  if (!d.open) d.showModal();
  $('consult-search').focus();
  loadTargets();
  clearInterval(S.consultPoll);
  // Agent tokens have no event stream of other agents: the list's states
  // are read again every two seconds while the dialog is open.
  S.consultPoll = setInterval(loadTargets, 2000);
}

async function loadTargets() {
  if (!S.client) return;
  try {
    const [agents, queues] = await Promise.all([
      S.client.request('GET', '/v1/agents'),
      S.client.request('GET', '/v1/queues').catch((err) => {
        if (err instanceof ApiError && err.status === 404) return { queues: (S.settings.queues || []).map((q) => ({ name: q.name })) };
        throw err;
      }),
    ]);
    S.targets = { agents: agents.agents || [], queues: queues.queues || [] };
    renderTargets();
  } catch (err) {
    showError('Reading agents and queues', err);
  }
}

function agentPickable(a) {
  return S.consultMode === 'transfer' ? a.state === 'available' : a.state === 'available' || a.state === 'idle';
}

function renderTargets() {
  const verb = S.consultMode === 'transfer' ? 'Transfer to' : 'Consult';
  const q = $('consult-search').value.trim().toLowerCase();
  const list = $('consult-agent-list');
  const agents = S.targets.agents.filter((a) => a.id !== S.agentId);
  const key = agents.map((a) => a.id).join(',');
  if (list.dataset.key !== key) {
    list.dataset.key = key;
    list.replaceChildren(...agents.map((a) => {
      const btn = h('button', { type: 'button', onclick: () => pickTarget('agent', a.id, btn) });
      return h('li', { 'data-testid': 'consult-agent', 'data-agent': a.id },
        h('span', { class: 'who' }, a.id), ' ',
        h('span', { class: 'agent-state' }), ' ',
        h('span', { class: 'agent-time' }), ' ',
        btn);
    }));
  }
  for (const li of list.children) {
    const a = agents.find((x) => x.id === li.dataset.agent);
    if (!a) continue;
    const stateText = (stateNames[a.state] || a.state) + (a.reason ? ` — ${a.reason}` : '');
    li.dataset.state = a.state;
    li.dataset.since = a.since || '';
    li.querySelector('.agent-state').textContent = stateText;
    li.querySelector('.agent-state').className = `agent-state badge state-${a.state}`;
    const btn = li.querySelector('button');
    btn.textContent = verb;
    btn.setAttribute('aria-label', `${verb} agent ${a.id} (${stateText})`);
    btn.disabled = !agentPickable(a);
    li.hidden = q !== '' && !a.id.toLowerCase().includes(q) && !stateText.toLowerCase().includes(q)
      && !(a.queues || []).some((n) => n.toLowerCase().includes(q));
  }
  $('consult-agent-list').dataset.empty = agents.length === 0 ? 'true' : 'false';

  const ql = $('consult-queue-list');
  const qkey = S.targets.queues.map((qu) => qu.name).join(',');
  if (ql.dataset.key !== qkey) {
    ql.dataset.key = qkey;
    ql.replaceChildren(...S.targets.queues.map((qu) => {
      const btn = h('button', { type: 'button', onclick: () => pickTarget('queue', qu.name, btn) });
      return h('li', { 'data-testid': 'consult-queue', 'data-queue': qu.name },
        h('span', { class: 'who' }, qu.name), ' ', h('span', { class: 'muted' }), ' ', btn);
    }));
  }
  for (const li of ql.children) {
    const qu = S.targets.queues.find((x) => x.name === li.dataset.queue);
    if (!qu) continue;
    const waiting = Array.isArray(qu.waiting) ? qu.waiting.length : null;
    const avail = qu.agents && Array.isArray(qu.agents.available) ? qu.agents.available.length : null;
    li.querySelector('.muted').textContent = [waiting !== null ? `${waiting} waiting` : '', avail !== null ? `${avail} available` : '']
      .filter(Boolean).join(', ');
    const btn = li.querySelector('button');
    btn.textContent = verb;
    btn.setAttribute('aria-label', `${verb} queue ${qu.name}`);
  }
  tickTargets();
}

function tickTargets() {
  for (const li of $('consult-agent-list').children) {
    const t = li.querySelector('.agent-time');
    if (t) t.textContent = li.dataset.since ? fmtDuration(secondsSince(parseTime(li.dataset.since))) : '';
  }
}

async function pickTarget(kind, value, button) {
  const what = S.consultMode === 'transfer' ? 'Transfer' : 'Consult';
  const path = S.consultMode === 'transfer' ? '/call/transfer' : '/call/consult';
  const view = await callAction(`${what} (${kind} ${value})`, button, path, { kind, value },
    S.consultMode === 'transfer' ? stepDone.transfer : stepDone.consult);
  if (view) {
    closeDialog($('consult-dialog'));
    return true;
  }
  return false;
}

async function dialNumber(ev) {
  ev.preventDefault();
  const input = $('consult-number');
  const out = $('consult-number-error');
  const problem = checkNumber(input.value);
  if (problem) {
    out.textContent = `number: ${problem}`;
    input.setAttribute('aria-invalid', 'true');
    input.focus();
    return;
  }
  out.textContent = '';
  input.removeAttribute('aria-invalid');
  const ok = await pickTarget('number', input.value.trim(), $('consult-dial'));
  const err = S.lastError;
  if (!ok && err instanceof ApiError && err.status === 400) {
    // The server's word on the number (a country, the dialling policy).
    out.textContent = describe(err);
    input.setAttribute('aria-invalid', 'true');
    input.focus();
  }
}

function closeDialog(d) {
  if (d.open) d.close();
}

// ---- wrap-up ---------------------------------------------------------------------------------

function openWrapup() {
  const d = $('wrapup-dialog');
  const w = (S.settings && S.settings.wrapup) || { codes: [] };
  const sel = $('wrapup-codes');
  sel.replaceChildren(...(w.codes || []).map((c) => h('option', { value: c, 'data-testid': 'wrapup-code' }, c)));
  sel.value = w.default_code || (w.codes || [])[0] || '';
  $('wrapup-search').value = '';
  if (!d.open) d.showModal();
  $('wrapup-open').hidden = true;
  $('wrapup-search').focus();
  tick();
}

function filterWrapup() {
  const q = $('wrapup-search').value.trim().toLowerCase();
  const sel = $('wrapup-codes');
  let first = null;
  for (const o of sel.options) {
    o.hidden = q !== '' && !o.value.toLowerCase().includes(q);
    if (!o.hidden && !first) first = o;
  }
  const cur = sel.selectedOptions[0];
  if (!cur || cur.hidden) sel.value = first ? first.value : '';
}

async function submitWrapup(ev) {
  ev.preventDefault();
  const code = $('wrapup-codes').value;
  if (!code) {
    showProblem('Wrap-up', 'code: choose a reason (none matches the search)');
    $('wrapup-search').focus();
    return;
  }
  await act('Wrap-up', $('wrapup-submit'), async () => {
    const agent = await S.client.request('POST', agentPath('/wrapup'), { code });
    S.agent = agent;
    closeDialog($('wrapup-dialog'));
    notice(`Wrapped up: ${code}.`);
    changed();
  });
}

// ---- timers ------------------------------------------------------------------------------------

function tick() {
  const a = S.agent;
  if (!a) return;
  const since = parseTime(a.since);
  $('state-timer').textContent = fmtDuration(secondsSince(since));
  if (S.call && !$('call-panel').hidden) {
    $('call-timer').textContent = fmtDuration(secondsSince(since));
  }
  for (const li of $('popover').children) {
    const r = S.requests.get(li.dataset.connectionId);
    if (!r) continue;
    const from = r.kind === 'callback' && Number.isFinite(r.requestedAt) ? r.requestedAt : r.at;
    const e = li.querySelector('[data-testid="request-elapsed"]');
    if (e) e.textContent = fmtDuration(secondsSince(from));
  }
  if (a.state === 'wrapup') {
    const total = (S.settings && S.settings.wrapup && S.settings.wrapup.timeout_s) || 0;
    const left = Math.max(0, total - secondsSince(since));
    const out = $('acw-countdown');
    out.textContent = total > 0 ? fmtDuration(left) : 'no time limit';
    out.dataset.remaining = String(left);
  }
  if ($('consult-dialog').open) tickTargets();
}

// ---- wiring --------------------------------------------------------------------------------------

function wire() {
  $('signin-form').addEventListener('submit', signIn);
  // The page ships with its sign-in button off (index.html says why).
  $('signin-submit').disabled = false;
  $('script-loading').hidden = true;
  $('signin-token').addEventListener('change', trySettings);
  $('signin-agent').addEventListener('change', trySettings);

  const state = (what, path, body) => (e) => act(what, e.currentTarget, async () => {
    S.agent = await S.client.request('POST', agentPath(path), body);
    changed();
  });
  const idleBody = () => ({ reason: $('idle-reason').value });
  $('go-available').addEventListener('click', state('Available', '/available'));
  $('rona-available').addEventListener('click', state('Available', '/available'));
  $('go-idle').addEventListener('click', (e) => state('Idle', '/idle', idleBody())(e));
  $('rona-idle').addEventListener('click', (e) => state('Idle', '/idle', idleBody())(e));
  $('logout').addEventListener('click', (e) => act('Log out', e.currentTarget, async () => {
    await S.client.request('POST', agentPath('/logout'));
    stopSession(`Agent ${S.agentId} logged out.`);
  }));
  $('wrapup-open').addEventListener('click', openWrapup);

  $('hold').addEventListener('click', (e) => callAction('Hold', e.currentTarget, '/call/hold', undefined, stepDone.hold));
  $('resume').addEventListener('click', (e) => callAction('Resume', e.currentTarget, '/call/resume', undefined, stepDone.resume));
  $('consult-open').addEventListener('click', () => openConsult('consult'));
  $('transfer').addEventListener('click', onTransfer);
  $('conference').addEventListener('click', (e) => callAction('Conference', e.currentTarget, '/call/conference', undefined, stepDone.conference));
  $('consult-end').addEventListener('click', (e) => callAction('Exit consult', e.currentTarget, '/call/consult/end', undefined, stepDone.consultEnd));
  $('end-call').addEventListener('click', (e) => callAction('End call', e.currentTarget, '/call/end', undefined, stepDone.end));
  $('rec-pause').addEventListener('click', (e) => callAction('Pause recording', e.currentTarget, '/call/recording/pause', undefined, stepDone.recPause));
  $('rec-resume').addEventListener('click', (e) => callAction('Resume recording', e.currentTarget, '/call/recording/resume', undefined, stepDone.recResume));

  $('consult-search').addEventListener('input', renderTargets);
  $('consult-number-form').addEventListener('submit', dialNumber);
  $('consult-number').addEventListener('input', () => {
    // Feedback as the agent types, once they have typed enough to judge.
    const v = $('consult-number').value;
    const problem = v.trim().length >= 3 ? checkNumber(v) : '';
    $('consult-number-error').textContent = problem ? `number: ${problem}` : '';
    if (problem) $('consult-number').setAttribute('aria-invalid', 'true');
    else $('consult-number').removeAttribute('aria-invalid');
  });
  $('consult-dialog').addEventListener('close', () => {
    clearInterval(S.consultPoll);
    S.consultPoll = 0;
  });

  $('wrapup-form').addEventListener('submit', submitWrapup);
  $('wrapup-search').addEventListener('input', filterWrapup);
  $('wrapup-search').addEventListener('keydown', (e) => {
    if (e.key === 'ArrowDown') {
      e.preventDefault();
      $('wrapup-codes').focus();
    }
  });
  $('wrapup-later').addEventListener('click', () => closeDialog($('wrapup-dialog')));
  $('wrapup-dialog').addEventListener('close', () => {
    $('wrapup-open').hidden = !(S.agent && S.agent.state === 'wrapup');
  });
}

wire();

// tandem.js: what the agent desktop and the supervisor wallboard share.
//
//   ApiError       an error answer of the API ({"error", "field", ...})
//   Client         API requests and event streams against one or more
//                  replicas, moving to the next one when a replica is gone
//   pageBases      the replicas a page was pointed at with ?replicas=
//   fmtDuration    seconds as "m:ss" or "h:mm:ss"
//   el, svgEl      build DOM nodes (text is always text, never HTML)
//
// Plain ES2020, no dependency: the file is served as it is written.

// What a request does when its replica fails, by the HTTP method:
//
//   - a read (GET, HEAD) changes nothing: on a network error, a timeout,
//     502, 503 or 504 it is sent again to the next replica;
//   - a write (POST, PUT, DELETE) is sent again to the next replica only
//     on 503, the API's word that it did not run the step (the replica
//     that runs the call is gone or the call is moving: api/errors.go).
//     On a network error, a timeout or a proxy's 502 the request may have
//     reached a replica that ran it and died (or froze) before answering,
//     and on a 504 the replica that runs the call did not answer in time:
//     the outcome is unknown, and sending it again could run the step
//     twice (a second hang-up, a second consult). The client throws an
//     ApiError with unknownOutcome set (status 0, or the 504), moving on
//     to the next replica after a network error or a 502; the page reads
//     the state again and decides.
const RETRY_READS = new Set([502, 503, 504]);
const RETRY_WRITES = new Set([503]);
const UNKNOWN_WRITES = new Set([502, 504]);

// A request that hangs this long counts as a network error (a replica
// frozen mid-request never answers).
const REQUEST_TIMEOUT_MS = 10000;

// Event stream reconnects: the first after about BACKOFF_MIN_MS, doubling
// up to BACKOFF_MAX_MS, each with jitter so that many pages do not all
// come back at the same instant. The backoff starts over once a stream
// has stayed up STABLE_MS: a stream refused right after it opened (too
// many streams, a replica stopping) keeps backing off.
const BACKOFF_MIN_MS = 250;
const BACKOFF_MAX_MS = 5000;
const STABLE_MS = 10000;

/**
 * An error answer of the Tandem API. message is "field: error" when the
 * API named a field (what the pages show), status the HTTP status (0 when
 * no replica could be reached), body the whole JSON answer (a variable
 * conflict carries the winner's view in body.current). unknownOutcome is
 * true for a write whose answer was lost (see request): it may or may not
 * have been carried out, so read the state before trying it again.
 */
export class ApiError extends Error {
  constructor(status, body = {}, { unknownOutcome = false } = {}) {
    const text = typeof body?.error === 'string' && body.error !== '' ? body.error : `HTTP ${status}`;
    const field = typeof body?.field === 'string' ? body.field : '';
    super(field ? `${field}: ${text}` : text);
    this.name = 'ApiError';
    this.status = status;
    this.field = field;
    this.error = text;
    this.rule = typeof body?.rule === 'string' ? body.rule : '';
    this.body = body ?? {};
    this.unknownOutcome = unknownOutcome;
  }
}

// unknownOutcome is the error of a write whose answer never came from
// base (why: "unreachable", "no answer in time", a proxy's status).
function unknownOutcome(base, why) {
  return new ApiError(0, {
    error: `${base} ${why}: whether the request was carried out is unknown; the state is read again before anything is retried`,
  }, { unknownOutcome: true });
}

// apiError reads an error answer: the API's JSON, or whatever a proxy sent.
async function apiError(resp) {
  let body = {};
  const text = await resp.text().catch(() => '');
  try {
    const parsed = JSON.parse(text);
    if (parsed && typeof parsed === 'object') body = parsed;
  } catch {
    // Not JSON (a proxy's page): keep the status text.
    body = { error: `${resp.status} ${resp.statusText}`.trim() };
  }
  return new ApiError(resp.status, body);
}

// trimBase drops trailing slashes: "http://h:1/" → "http://h:1".
function trimBase(base) {
  return String(base).trim().replace(/\/+$/, '');
}

// wsBase is a base URL in its WebSocket form: http→ws, https→wss.
function wsBase(base) {
  return base.replace(/^http(s?):\/\//i, 'ws$1://');
}

// b64url is the token as unpadded base64url of its UTF-8 bytes, the form
// the API reads from the bearer.<token> subprotocol.
export function b64url(text) {
  let bin = '';
  for (const byte of new TextEncoder().encode(text)) bin += String.fromCharCode(byte);
  return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/**
 * pageBases returns the replica base URLs given in the page's address as
 * ?replicas=url1,url2 (they override the server's web.replicas), or [].
 */
export function pageBases(search = location.search) {
  const raw = new URLSearchParams(search).get('replicas') ?? '';
  return raw.split(',').map(trimBase).filter((b) => /^https?:\/\/[^/]+$/i.test(b));
}

/**
 * Client talks to the Tandem API on behalf of one token. It holds a list
 * of replica base URLs and a current one; a request or a stream that
 * cannot reach the current replica moves to the next, so a page pointed
 * at several replicas (or at a load balancer) survives one going away.
 */
export class Client {
  #bases;
  #i = 0;
  #token;

  /**
   * @param {{bases?: string[], token?: string}} opts bases: replica base
   *   URLs (empty: the page's own origin); token: the bearer token.
   */
  constructor({ bases = [], token = '' } = {}) {
    this.#bases = Client.#normalize(bases);
    this.#token = token;
  }

  static #normalize(bases) {
    const out = [];
    for (const b of bases ?? []) {
      const t = trimBase(b);
      if (t !== '' && !out.includes(t)) out.push(t);
    }
    return out.length > 0 ? out : [location.origin];
  }

  /** The replica in use now (the page footer shows it). */
  get base() {
    return this.#bases[this.#i];
  }

  /** Every replica the client may use, in order. */
  get bases() {
    return [...this.#bases];
  }

  /**
   * setBases replaces the replica list (say, with /v1/settings' replicas),
   * staying on the current replica when the new list has it.
   */
  setBases(bases) {
    const current = this.base;
    this.#bases = Client.#normalize(bases);
    this.#i = Math.max(0, this.#bases.indexOf(current));
  }

  // rotate moves to the next replica, unless another failure already
  // moved away from `from` (two requests failing at once skip only one).
  #rotate(from) {
    if (this.base === from) this.#i = (this.#i + 1) % this.#bases.length;
  }

  /**
   * request sends one API call and returns the parsed JSON answer (null
   * for an empty one). A read (GET, HEAD) that meets a network error, a
   * timeout, 502, 503 or 504 is sent again to the next replica, each
   * replica at most once per call; a write is sent again only on 503 (the
   * API did not run it). A write that meets a network error, a timeout
   * or 502 throws an ApiError with status 0 and unknownOutcome (the
   * client moves on to the next replica for the next request); a 504
   * answer to a write is thrown with unknownOutcome too. Any other error
   * answer throws an ApiError; when no replica could be reached it
   * throws an ApiError with status 0.
   *
   * @param {string} method GET, POST, PUT, DELETE
   * @param {string} path from the base, e.g. "/v1/agents/1001"
   * @param {object} [body] sent as JSON
   */
  async request(method, path, body) {
    const headers = { Accept: 'application/json' };
    if (this.#token) headers.Authorization = `Bearer ${this.#token}`;
    const init = { method, headers, cache: 'no-store', credentials: 'omit', mode: 'cors', redirect: 'error' };
    if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    const read = method === 'GET' || method === 'HEAD';
    let last = null;
    for (let tries = this.#bases.length; tries > 0; tries--) {
      const base = this.base;
      let resp;
      try {
        resp = await fetch(base + path, { ...init, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
      } catch (err) {
        const why = err?.name === 'TimeoutError' ? 'no answer in time' : 'unreachable';
        this.#rotate(base);
        if (!read) throw unknownOutcome(base, why);
        last = new ApiError(0, { error: `${base} ${why}` });
        continue;
      }
      if (read ? RETRY_READS.has(resp.status) : RETRY_WRITES.has(resp.status)) {
        last = await apiError(resp);
        this.#rotate(base);
        continue;
      }
      if (!read && UNKNOWN_WRITES.has(resp.status)) {
        if (resp.status === 504) {
          // The API's own word: the replica serving the request could
          // not hear from the one that runs the call. It is still here.
          const err = await apiError(resp);
          err.unknownOutcome = true;
          throw err;
        }
        // A proxy in front of the replica lost it mid-request.
        await resp.body?.cancel().catch(() => {});
        this.#rotate(base);
        throw unknownOutcome(base, `answered ${resp.status} (a proxy lost the replica)`);
      }
      if (!resp.ok) throw await apiError(resp);
      const text = await resp.text();
      if (text === '') return null;
      try {
        return JSON.parse(text);
      } catch {
        throw new ApiError(resp.status, { error: 'the answer is not JSON' });
      }
    }
    throw last;
  }

  /**
   * stream opens the event WebSocket at path (e.g. "/v1/agents/1001/events")
   * on the current replica, offering the subprotocols "tandem" and
   * "bearer.<token>" (a browser cannot set Authorization on a WebSocket).
   * When it closes or fails it reconnects with backoff, moving to the next
   * replica. onOpen is called after every (re)connect: events sent while
   * the page was not connected are lost, so the page reads its state
   * again there. onClose(event) is called each time a connection ends
   * (event.code, event.reason) — show "reconnecting…" then.
   *
   * @returns {{close(): void}} close ends the stream for good.
   */
  stream(path, { onEvent = () => {}, onOpen = () => {}, onClose = () => {} } = {}) {
    let ws = null;
    let timer = null;
    let closed = false;
    let delay = BACKOFF_MIN_MS;
    let openedAt = 0;

    const retry = () => {
      if (closed) return;
      // Jitter: between half and all of the delay.
      const wait = delay / 2 + Math.random() * (delay / 2);
      delay = Math.min(delay * 2, BACKOFF_MAX_MS);
      timer = setTimeout(connect, wait);
    };

    const connect = () => {
      timer = null;
      if (closed) return;
      const base = this.base;
      let sock;
      try {
        sock = new WebSocket(wsBase(base) + path, ['tandem', `bearer.${b64url(this.#token)}`]);
      } catch (err) {
        // A malformed URL: nothing to wait for, try the next replica.
        this.#rotate(base);
        onClose({ code: 0, reason: String(err?.message ?? err), wasClean: false });
        retry();
        return;
      }
      ws = sock;
      sock.onopen = () => {
        if (closed || ws !== sock) return;
        openedAt = Date.now();
        onOpen();
      };
      sock.onmessage = (msg) => {
        if (closed || ws !== sock || typeof msg.data !== 'string') return;
        let ev;
        try {
          ev = JSON.parse(msg.data);
        } catch {
          return; // not an event
        }
        onEvent(ev);
      };
      // An error is always followed by close: reconnecting is done there.
      sock.onclose = (ev) => {
        if (ws !== sock) return;
        ws = null;
        if (closed) return;
        if (openedAt > 0 && Date.now() - openedAt >= STABLE_MS) delay = BACKOFF_MIN_MS;
        openedAt = 0;
        this.#rotate(base);
        onClose(ev);
        retry();
      };
    };

    connect();
    return {
      close() {
        if (closed) return;
        closed = true;
        if (timer !== null) clearTimeout(timer);
        const sock = ws;
        ws = null;
        if (sock) sock.close(1000, 'page closed the stream');
      },
    };
  }
}

/**
 * fmtDuration shows a number of seconds as "m:ss", or "h:mm:ss" from an
 * hour on. Fractions are dropped; negative or missing values show 0:00.
 */
export function fmtDuration(seconds) {
  let s = Math.floor(Number(seconds));
  if (!Number.isFinite(s) || s < 0) s = 0;
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

/**
 * el builds an HTML element: el('button', {type: 'button', 'data-testid':
 * 'hold', onclick: f}, 'Hold'). In attrs: on<event> functions become
 * listeners; `class` (or className) sets the class; `style` takes an
 * object (a style attribute would be refused by the page's CSP);
 * `dataset` takes an object; true sets a boolean attribute, false, null
 * and undefined leave it out; `value`, `checked`, `selected` and
 * `disabled` are set as properties. Children are nodes, strings
 * (always inserted as text), numbers, or arrays of those; null, undefined
 * and false are skipped.
 */
export function el(tag, attrs = {}, ...children) {
  return build(document.createElement(tag), attrs, children);
}

const SVG_NS = 'http://www.w3.org/2000/svg';

/** svgEl is el for SVG elements (charts): svgEl('polyline', {points}). */
export function svgEl(tag, attrs = {}, ...children) {
  return build(document.createElementNS(SVG_NS, tag), attrs, children);
}

const PROPS = new Set(['value', 'checked', 'selected', 'disabled']);

function build(node, attrs, children) {
  for (const [key, val] of Object.entries(attrs ?? {})) {
    if (val === false || val === null || val === undefined) continue;
    if (key.startsWith('on') && typeof val === 'function') {
      node.addEventListener(key.slice(2).toLowerCase(), val);
    } else if (key === 'class' || key === 'className') {
      node.setAttribute('class', Array.isArray(val) ? val.filter(Boolean).join(' ') : String(val));
    } else if (key === 'style' && typeof val === 'object') {
      Object.assign(node.style, val);
    } else if (key === 'dataset' && typeof val === 'object') {
      Object.assign(node.dataset, val);
    } else if (PROPS.has(key) && key in node) {
      node[key] = val;
    } else {
      node.setAttribute(key, val === true ? '' : String(val));
    }
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(node, child);
    else if (child instanceof Node) node.append(child);
    else node.append(document.createTextNode(String(child)));
  }
}

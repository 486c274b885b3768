// teamster: the browser's view of a shared session.
//
// The page URL is /s/SHARE#r=READ[&d=DRIVE]. The fragment never reaches the server; from
// its secrets this script derives the tokens it shows the server and the keys that open
// what the sharer's runner sends (see src/share/crypto.rs: the labels are the contract).
// The server only relays sealed blobs: everything drawn here was decrypted here, and every
// keystroke or approval a driver sends is sealed and signed here, for the runner to check.
//
// Sections: crypto, link, state, protocol/connection, rendering, actions, start.

'use strict';

(function () {
  // ===================================================================== crypto

  const textEncoder = new TextEncoder();
  const textDecoder = new TextDecoder('utf-8');
  const utf8 = (s) => textEncoder.encode(s);

  function b64url(bytes) {
    let bin = '';
    // In slices: String.fromCharCode.apply has an argument limit.
    for (let i = 0; i < bytes.length; i += 0x8000) {
      bin += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
    }
    return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  }

  // Accepts base64url with or without padding (and plain base64, to be forgiving).
  function unb64url(s) {
    let t = String(s).replace(/=+$/, '').replace(/-/g, '+').replace(/_/g, '/');
    if (t.length % 4 === 1 || /[^A-Za-z0-9+/]/.test(t)) throw new Error('not base64url');
    while (t.length % 4) t += '=';
    const bin = atob(t);
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  }

  function randomBytes(n) {
    const b = new Uint8Array(n);
    crypto.getRandomValues(b); // available even where crypto.subtle is not
    return b;
  }

  // WebCrypto: browsers offer it in secure contexts only (https, or this machine). A share
  // server beyond loopback serves https (`teamster serve` insists, or sits behind a TLS
  // proxy), so the page never needs its own cipher code.
  const subtle = (globalThis.crypto && globalThis.crypto.subtle) || null;

  async function derive(secret, share, label) {
    const base = await subtle.importKey('raw', secret, 'HKDF', false, ['deriveBits']);
    const bits = await subtle.deriveBits({ name: 'HKDF', hash: 'SHA-256', salt: utf8(share), info: utf8(label) }, base, 256);
    return new Uint8Array(bits);
  }

  // The keys a link's secrets give; mirrors `Keys` in src/share/crypto.rs.
  async function makeKeys(share, read, drive) {
    const readToken = b64url(await derive(read, share, 'teamster/1 read-access'));
    const encRaw = await derive(read, share, 'teamster/1 encrypt');
    const driveToken = drive ? b64url(await derive(drive, share, 'teamster/1 drive-access')) : null;
    const macRaw = drive ? await derive(drive, share, 'teamster/1 mac') : null;
    const encKey = await subtle.importKey('raw', encRaw, { name: 'AES-GCM' }, false, ['encrypt', 'decrypt']);
    const macKey = macRaw ? await subtle.importKey('raw', macRaw, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']) : null;
    return {
      readToken,
      driveToken,
      // nonce || ciphertext || tag, bound to `aad`.
      async seal(aad, text) {
        const nonce = randomBytes(12);
        const plain = utf8(text);
        const ct = new Uint8Array(await subtle.encrypt({ name: 'AES-GCM', iv: nonce, additionalData: utf8(aad), tagLength: 128 }, encKey, plain));
        const out = new Uint8Array(12 + ct.length);
        out.set(nonce);
        out.set(ct, 12);
        return b64url(out);
      },
      // Throws when the blob was altered, sealed under another key, or for another label.
      async open(aad, sealed) {
        const bytes = unb64url(sealed);
        if (bytes.length < 28) throw new Error('too short to be a sealed message');
        const nonce = bytes.subarray(0, 12);
        const body = bytes.subarray(12);
        const plain = new Uint8Array(await subtle.decrypt({ name: 'AES-GCM', iv: nonce, additionalData: utf8(aad), tagLength: 128 }, encKey, body));
        return textDecoder.decode(plain);
      },
      async sign(text) {
        if (!macRaw) throw new Error('this link cannot drive');
        const mac = new Uint8Array(await subtle.sign('HMAC', macKey, utf8(text)));
        return b64url(mac);
      },
    };
  }

  // What each sealed or signed message is bound to (`aad` in src/share/crypto.rs).
  const AAD = {
    update: (share, seq, snap) => `teamster/1 update ${share} ${seq} ${snap ? 1 : 0}`,
    reply: (share) => `teamster/1 reply ${share}`,
    viewer: (share, kind) => `teamster/1 viewer ${share} ${kind}`,
    drive: (share, epoch, driver, seq, kind, c) => `teamster/1 drive ${share} ${epoch} ${driver} ${seq} ${kind} ${c}`,
  };

  // ===================================================================== rendering: screen rows
  //
  // Pure functions from wire rows to HTML, here before the page code so the node tests
  // can run them too.

  // Text a sharer's agents and programs, the relay or another viewer wrote, with its
  // control characters and invisible bidirectional controls shown (`^[`, `\u{202e}`) as
  // teamster's terminal views show them (src/text.rs): a name cannot reorder or hide
  // what is around it.
  const visible = (s) => String(s == null ? '' : s).replace(
    /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g,
    (c) => {
      const n = c.charCodeAt(0);
      if (n < 0x20) return '^' + String.fromCharCode(n + 64);
      if (n === 0x7f) return '^?';
      return '\\u{' + n.toString(16) + '}';
    });


  // xterm's 16 colours, except blue: xterm's #0000ee is unreadable on a dark background.
  const ANSI = ['#000000', '#cd0000', '#00cd00', '#cdcd00', '#2f63ee', '#cd00cd', '#00cdcd', '#e5e5e5',
    '#7f7f7f', '#ff0000', '#00ff00', '#ffff00', '#5c5cff', '#ff00ff', '#00ffff', '#ffffff'];
  const DEFAULT_FG = '#d0d0d0';
  const DEFAULT_BG = '#1c1c1c';

  function palette(i) {
    if (i < 16) return ANSI[i];
    if (i < 232) {
      const level = (v) => (v === 0 ? 0 : 55 + v * 40);
      const n = i - 16;
      return `rgb(${level(Math.floor(n / 36))},${level(Math.floor(n / 6) % 6)},${level(n % 6)})`;
    }
    const v = 8 + (i - 232) * 10;
    return `rgb(${v},${v},${v})`;
  }

  // null for the default colour.
  function colour(v) {
    if (!v) return null;
    if (v <= PROTOCOL.colour.palette) return palette(v - 1);
    return `rgb(${(v >> 16) & 255},${(v >> 8) & 255},${v & 255})`;
  }

  // Style bits by name, as the runner's terminal model numbers them.
  const A = PROTOCOL.attrs;
  const UNDERLINES = A['underline'] | A['double-underline'] | A['curly-underline'] | A['dotted-underline'] | A['dashed-underline'];
  const styleCache = new Map();
  // The CSS of a style ('' for the default style); `cursor` inverts once more. Built from
  // numbers only: nothing a sharer's program sends becomes CSS text.
  function styleOf(f, b, a, u, cursor) {
    const key = f + ',' + b + ',' + a + ',' + u + (cursor ? 'c' : '');
    let css = styleCache.get(key);
    if (css !== undefined) return css;
    let fg = colour(f), bg = colour(b);
    if (!!(a & A['inverse']) !== !!cursor) {
      const t = fg;
      fg = bg || DEFAULT_BG;
      bg = t || DEFAULT_FG;
    }
    css = '';
    if (fg) css += `color:${fg};`;
    if (bg) css += `background:${bg};`;
    if (a & A['bold']) css += 'font-weight:bold;';
    if (a & A['dim']) css += 'opacity:.6;';
    if (a & A['italic']) css += 'font-style:italic;';
    const lines = [];
    if (a & UNDERLINES) lines.push('underline');
    if (a & A['strike']) lines.push('line-through');
    if (a & A['overline']) lines.push('overline');
    if (lines.length) {
      const kind = a & A['curly-underline'] ? ' wavy'
        : a & A['double-underline'] ? ' double'
        : a & A['dotted-underline'] ? ' dotted'
        : a & A['dashed-underline'] ? ' dashed' : '';
      css += `text-decoration:${lines.join(' ')}${kind};`;
      const uc = colour(u);
      if (uc && (a & UNDERLINES)) css += `text-decoration-color:${uc};`;
    }
    styleCache.set(key, css);
    return css;
  }

  // One row of a pane as DOM nodes. The sharer's screen is another machine's programs'
  // output: its text goes in as text nodes (textContent), never parsed as HTML.
  function rowNodes(doc, row, cols, cur) {
    const out = doc.createDocumentFragment();
    const styled = (css, child) => {
      if (!css) return child;
      const s = doc.createElement('span');
      s.style.cssText = css;
      s.appendChild(child);
      return s;
    };
    let x = 0;
    const runs = (row && row.r) || [];
    outer:
    for (const run of runs) {
      const f = run.f || 0, b = run.b || 0, a = run.a || 0, u = run.u || 0;
      const wide = !!run.w;
      const w = wide ? 2 : 1;
      const hidden = !!(a & A['hidden']);
      let marks = null;
      if (run.m && run.m.length) {
        marks = new Map();
        for (const [i, s] of run.m) marks.set(i, (marks.get(i) || '') + String(s));
      }
      const css = styleOf(f, b, a, u, false);
      let group = doc.createDocumentFragment();
      let text = '';
      let any = false;
      const endText = () => { if (text) group.appendChild(doc.createTextNode(text)); text = ''; };
      const flush = () => {
        endText();
        if (any) out.appendChild(styled(css, group));
        group = doc.createDocumentFragment();
        any = false;
      };
      const chars = Array.from(String(run.t || ''));
      for (let i = 0; i < chars.length; i++) {
        if (x + w > cols) { flush(); break outer; }
        let ch = hidden ? ' ' : chars[i];
        if (marks && marks.has(i) && !hidden) ch += marks.get(i);
        if (cur >= x && cur < x + w) {
          flush();
          let cell = doc.createTextNode(ch);
          if (wide) { const wc = doc.createElement('span'); wc.className = 'wc'; wc.appendChild(cell); cell = wc; }
          out.appendChild(styled(styleOf(f, b, a, u, true), cell));
        } else if (wide) {
          endText();
          const wc = doc.createElement('span');
          wc.className = 'wc';
          wc.textContent = ch;
          group.appendChild(wc);
          any = true;
        } else {
          text += ch;
          any = true;
        }
        x += w;
      }
      flush();
    }
    if (cur >= x && cur < cols) {
      if (cur > x) out.appendChild(doc.createTextNode(' '.repeat(cur - x)));
      out.appendChild(styled(styleOf(0, 0, 0, 0, true), doc.createTextNode(' ')));
    }
    return out;
  }

  // Outside a page (node tests) only the pure parts are wanted.
  if (typeof document === 'undefined') {
    if (typeof module !== 'undefined') module.exports = { b64url, unb64url, makeKeys, derive, AAD, rowNodes, colour, visible };
    return;
  }

  // ===================================================================== link

  // SHARE from the path, READ and DRIVE from the fragment (which the server never sees).
  function parseLink() {
    const m = location.pathname.match(/\/s\/([^/]+)\/?$/);
    if (!m) return { error: 'this is not a share link (it should look like /s/ID#r=...)' };
    const decode = (s) => { try { return decodeURIComponent(s); } catch (e) { return s; } };
    const share = decode(m[1]);
    const secrets = {};
    for (const part of location.hash.replace(/^#/, '').split('&')) {
      if (!part) continue;
      const i = part.indexOf('=');
      const k = i < 0 ? part : part.slice(0, i);
      const v = i < 0 ? '' : decode(part.slice(i + 1));
      if (k !== 'r' && k !== 'd') continue;
      let bytes = null;
      try { bytes = unb64url(v); } catch (e) { /* reported below */ }
      if (!bytes || bytes.length !== 32) {
        return { error: `the link's "${k}" secret is damaged; copy the whole link again` };
      }
      secrets[k] = bytes;
    }
    if (!secrets.r) return { error: 'the link has no secret after "#" (it should end in #r=...); copy the whole link again' };
    return { share, read: secrets.r, drive: secrets.d || null };
  }

  // How the sharer's list names this viewer: a name the user saved, else one per page load
  // (the same across reconnects, so the list does not fill with ghosts).
  const viewerName = (function () {
    try {
      const saved = localStorage.getItem('teamster.name');
      if (saved) return saved;
    } catch (e) { /* storage can be off; a fresh name will do */ }
    return 'browser-' + b64url(randomBytes(3));
  })();

  // ===================================================================== state

  // Everything the runner told us; reset on every snapshot.
  function sharedState() {
    return {
      session: null,
      panes: {}, // id -> { id, cols, rows, lines: [WireRow|null], cursor, modes }
      pending: [],
      history: [],
    };
  }

  const state = Object.assign(sharedState(), {
    role: null, // "read" | "drive", as the server says
    runner: null, // whether the sharer's runner is connected
    epoch: null, // the runner's epoch, from the latest update (drivers sign with it)
    drivable: false,
    connection: 'connecting', // connecting | live | waiting | reconnecting | refused
    refused: null,
    notices: [], // { text, count, at }
  });
  let lastSeq = 0;
  let everApplied = false; // resume is null until an update was applied

  // What the next render must redraw.
  const dirty = {
    session: true,
    rows: new Map(), // pane id -> Set of row indices, or true for all
    pending: true,
    history: true,
    notices: true,
    status: true,
  };

  function markRows(id, which) {
    const cur = dirty.rows.get(id);
    if (which === true || cur === true) { dirty.rows.set(id, true); return; }
    const set = cur || new Set();
    set.add(which);
    dirty.rows.set(id, set);
  }

  function notice(text, kind) {
    const last = state.notices[state.notices.length - 1];
    if (last && last.text === text) {
      last.count++;
      last.at = Date.now();
    } else {
      state.notices.push({ text, kind: kind || 'error', count: 1, at: Date.now() });
      while (state.notices.length > 5) state.notices.shift();
    }
    dirty.notices = true;
    scheduleRender();
  }

  // The sharer's runner restarted: it knows nothing of this driver's numbers, and what it
  // had not confirmed was for programs that have since started again. A fresh driver, and
  // nothing replayed. (The same as `teamster attach`.)
  function newRunner() {
    const lost = unacked.length;
    unacked.length = 0;
    driverId = newDriverId();
    driverSeq = 0;
    conn.sentEpoch = null;
    if (lost) notice(`${lost} of your inputs had not reached the sharer before their runner restarted; they were not applied`, 'warning');
  }

  function canDrive() {
    return state.role === 'drive' && !!link.drive && state.drivable;
  }

  // Applies one decrypted update body (after a snapshot reset, if it is one).
  function applyBody(body) {
    if (typeof body.epoch === 'string') {
      if (state.epoch != null && state.epoch !== body.epoch) newRunner();
      state.epoch = body.epoch;
    }
    const couldDrive = canDrive();
    state.drivable = !!body.drivable;
    if (couldDrive !== canDrive()) { dirty.session = true; dirty.pending = true; }
    for (const msg of body.msgs || []) applyServerMsg(msg);
  }

  function applyServerMsg(msg) {
    switch (msg && msg.type) {
      case PROTOCOL.server.Session:
        state.session = msg.session;
        dirty.session = true;
        break;
      case PROTOCOL.server.Frame:
        for (const f of msg.panes || []) applyFrame(f);
        break;
      case PROTOCOL.server.Pending:
        state.pending = msg.pending || [];
        dirty.pending = true;
        break;
      case PROTOCOL.server.History:
        state.history = msg.recent || [];
        dirty.history = true;
        break;
      case PROTOCOL.server.Detached:
        notice('detached: ' + (msg.reason && (msg.reason.detail || msg.reason.why)), 'info');
        break;
      case PROTOCOL.server.Error:
        notice(msg.message);
        break;
      case PROTOCOL.server.Reply:
        if (msg.result && typeof msg.result.Err === 'string') notice(msg.result.Err);
        else if (commentIds.delete(msg.id)) notice('comment sent: the sharer and everyone watching see it', 'info');
        break;
      default:
        break; // alert, clipboard, hello: nothing to show here
    }
  }

  function applyFrame(f) {
    const size = f.size || { cols: 80, rows: 24 };
    let p = state.panes[f.pane];
    if (!p) p = state.panes[f.pane] = { id: f.pane, cols: 0, rows: 0, lines: [], cursor: null, modes: null };
    const oldCursor = p.cursor;
    if (f.full || p.cols !== size.cols || p.rows !== size.rows) {
      // A full frame voids every row sent before; rows it does not list are blank.
      p.cols = size.cols;
      p.rows = size.rows;
      p.lines = new Array(size.rows).fill(null);
      markRows(p.id, true);
    }
    for (const [i, row] of f.rows || []) {
      if (i < p.rows) {
        p.lines[i] = row;
        markRows(p.id, i);
      }
    }
    p.cursor = f.cursor || null;
    p.modes = f.modes || null;
    // The cursor is drawn into its row: redraw where it was and where it is.
    if (oldCursor && oldCursor.y < p.rows) markRows(p.id, oldCursor.y);
    if (p.cursor && p.cursor.y < p.rows) markRows(p.id, p.cursor.y);
  }

  // ===================================================================== protocol/connection

  const link = parseLink();
  let keys = null;
  // Once per page load (and again if the runner gives up on a gap): the runner applies
  // (id, seq) strictly in order, each once.
  function newDriverId() {
    return b64url(randomBytes(12));
  }
  let driverId = newDriverId();
  let driverSeq = 0;
  let requestId = 0;
  // Driver messages the runner has not acknowledged: sent again after a reconnect.
  const unacked = []; // { seq, kind, c }
  const MAX_UNACKED = 500;

  const conn = {
    ws: null,
    gen: 0, // bumped for every new socket; messages of older sockets are dropped
    joined: false,
    everJoined: false,
    backoff: 250,
    timer: null,
    sentEpoch: null, // the epoch under which this socket last sent the unacked queue
  };
  let inbox = Promise.resolve(); // decryption is async: keep updates in arrival order

  function wsUrl() {
    return (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/ws';
  }

  function connect() {
    conn.timer = null;
    if (state.connection === 'refused') return;
    const gen = ++conn.gen;
    conn.joined = false;
    conn.sentEpoch = null;
    let ws;
    try {
      ws = new WebSocket(wsUrl());
    } catch (e) {
      console.error('teamster: cannot open the WebSocket', e);
      scheduleReconnect();
      return;
    }
    conn.ws = ws;
    ws.onopen = () => {
      if (gen !== conn.gen) return;
      const drive = !!link.drive;
      ws.send(JSON.stringify({
        t: 'join',
        share: link.share,
        token: drive ? keys.driveToken : keys.readToken,
        role: drive ? 'drive' : 'read',
        name: viewerName,
        resume: everApplied ? lastSeq : null,
      }));
    };
    ws.onmessage = (ev) => {
      if (gen !== conn.gen) return;
      let m;
      try { m = JSON.parse(ev.data); } catch (e) { console.error('teamster: not JSON from the server', e); return; }
      // A refusal ends the connection: handled at once, not behind a queue of decryptions,
      // so the close that follows it cannot start a reconnect first.
      if (m.t === 'refused') { onRefused(m.reason); return; }
      inbox = inbox
        .then(() => (gen === conn.gen ? onEnvelope(m) : null))
        .catch((e) => console.error('teamster: message not handled', e));
    };
    ws.onclose = () => {
      if (gen !== conn.gen) return;
      conn.gen++; // what this socket queued is void: the next one resumes from lastSeq
      conn.ws = null;
      conn.joined = false;
      if (state.connection !== 'refused') {
        setConnection('reconnecting');
        scheduleReconnect();
      }
    };
    ws.onerror = () => { /* onclose follows and reconnects */ };
  }

  function scheduleReconnect() {
    if (conn.timer || state.connection === 'refused') return;
    const wait = conn.backoff;
    conn.backoff = Math.min(conn.backoff * 2, 4000);
    conn.timer = setTimeout(connect, wait);
  }

  // Drops this socket (its queued messages too) and opens another, resuming from lastSeq.
  function reconnect() {
    const ws = conn.ws;
    conn.gen++;
    conn.ws = null;
    conn.joined = false;
    if (ws) { try { ws.close(); } catch (e) { /* already closing */ } }
    setConnection('reconnecting');
    scheduleReconnect();
  }

  function setConnection(c) {
    if (state.connection === 'refused') return;
    state.connection = c;
    dirty.status = true;
    scheduleRender();
  }

  function liveOrWaiting() {
    setConnection(state.runner === false ? 'waiting' : 'live');
  }

  function onRefused(reason) {
    state.refused = reason || 'refused';
    state.connection = 'refused';
    dirty.status = true;
    conn.gen++; // no reconnect, and nothing more from this socket
    if (conn.timer) { clearTimeout(conn.timer); conn.timer = null; }
    if (conn.ws) { try { conn.ws.close(); } catch (e) { /* closing anyway */ } }
    conn.ws = null;
    scheduleRender();
  }

  async function onEnvelope(m) {
    switch (m.t) {
      case 'joined':
        conn.joined = conn.everJoined = true;
        state.role = m.role;
        state.runner = !!m.runner;
        dirty.session = dirty.pending = true;
        liveOrWaiting();
        flushSoon();
        break;
      case 'update':
        await onUpdate(m);
        break;
      case 'reply':
        await onReply(m);
        break;
      case 'status':
        state.runner = !!m.runner;
        state.restarting = !state.runner && !!m.restarting;
        dirty.status = true;
        if (!state.runner) conn.sentEpoch = null; // whatever reached the old runner must go again
        if (conn.joined) liveOrWaiting();
        flushSoon();
        break;
      case 'error':
        notice(m.reason || 'the server reported an error');
        break;
      default:
        console.warn('teamster: unknown message from the server', m.t);
    }
  }

  async function onUpdate(m) {
    const seq = Number(m.seq);
    if (seq <= lastSeq && everApplied) return; // seen already (sent again after a resume)
    if (!m.snap && (everApplied ? seq !== lastSeq + 1 : seq !== 1)) {
      // A missing update: the server still has it; ask again from where we are.
      console.warn(`teamster: update ${seq} after ${lastSeq}: reconnecting to catch up`);
      reconnect();
      return;
    }
    let body;
    try {
      body = JSON.parse(await keys.open(AAD.update(link.share, seq, !!m.snap), m.c));
    } catch (e) {
      console.error(`teamster: update ${seq} refused:`, e);
      notice('refused an update that did not decrypt (altered on the way?)', 'warning');
      return;
    }
    if (m.snap) {
      Object.assign(state, sharedState());
      dirty.session = dirty.pending = dirty.history = true;
      dirty.rows.clear();
      for (const id of paneEls.keys()) markRows(id, true); // panes the snapshot leaves out go blank
    }
    applyBody(body);
    lastSeq = seq;
    everApplied = true;
    conn.backoff = 250; // this socket works: the next outage starts retrying quickly
    flushUnacked();
    scheduleRender();
  }

  async function onReply(m) {
    let body;
    try {
      body = JSON.parse(await keys.open(AAD.reply(link.share), m.c));
    } catch (e) {
      console.error('teamster: reply refused:', e);
      notice('refused a reply that did not decrypt (altered on the way?)', 'warning');
      return;
    }
    // A gap is about the driver the acknowledgement names.
    const ours = Array.isArray(body.ack) && body.ack[0] === driverId;
    if (ours) {
      const upTo = Number(body.ack[1]);
      for (let i = unacked.length - 1; i >= 0; i--) if (unacked[i].seq <= upTo) unacked.splice(i, 1);
    }
    const gap = ours ? body.gap : null;
    if (gap === 'resend') {
      // Some of ours did not reach the runner (later ones did and wait): everything it has
      // not acknowledged goes again, in order.
      resendUnacked();
    } else if (gap === 'lost') {
      // They never got through: none of them (nor anything after) was applied, and the
      // runner takes no more under this id. Start afresh, and say so.
      const lost = unacked.length;
      unacked.length = 0;
      driverId = newDriverId();
      driverSeq = 0;
      notice(`input lost on the way: ${lost} of your last inputs never reached the sharer whole, so none of them was applied; type them again`, 'error');
    }
    const msg = body.msg;
    if (msg && [PROTOCOL.server.Reply, PROTOCOL.server.Error, PROTOCOL.server.Detached].includes(msg.type)) applyServerMsg(msg);
    if (msg && msg.type === PROTOCOL.server.Reply && msg.result && msg.result.Err) reenableButtons();
    scheduleRender();
  }

  function canSend() {
    return conn.ws && conn.ws.readyState === WebSocket.OPEN && conn.joined && state.runner !== false;
  }

  async function sendDriven(entry) {
    const ws = conn.ws;
    const epoch = state.epoch;
    const mac = await keys.sign(AAD.drive(link.share, epoch, driverId, entry.seq, entry.kind, entry.c));
    if (ws !== conn.ws || !canSend()) return; // went away while signing: the resend covers it
    ws.send(JSON.stringify({ t: 'send', kind: entry.kind, c: entry.c, drive: { id: driverId, seq: entry.seq, mac } }));
  }

  // Signing and sealing are async: one chain keeps messages in the order they were made.
  let outbox = Promise.resolve();
  function queueOut(job) {
    outbox = outbox.then(job).catch((e) => { console.error('teamster: send failed', e); notice('could not send: ' + e.message); });
    return outbox;
  }

  // Sends again, in order, everything the runner has not acknowledged (same seqs, fresh
  // MACs): it skips what it has applied or holds already and takes the rest.
  function resendUnacked() {
    for (const entry of unacked.slice()) queueOut(() => sendDriven(entry));
  }

  // Sends the whole unacknowledged queue once per socket and epoch.
  function flushUnacked() {
    if (!canSend() || state.epoch == null || conn.sentEpoch === state.epoch) return;
    conn.sentEpoch = state.epoch;
    resendUnacked();
  }

  // What the runner has not acknowledged for UNACKED_RESEND_MS (while it is there) goes
  // again: its gap notices cross the relay too, and may be dropped. After UNACKED_WARN_MS
  // the driver is told, once per stuck message. (The same as `teamster attach`.)
  // Armed only while something waits for an acknowledgement: idle pages run no timers.
  const UNACKED_RESEND_MS = 2000;
  const UNACKED_WARN_MS = 8000;
  let warnedSeq = 0;
  let chaseTimer = null;
  function armChase() {
    if (chaseTimer == null && unacked.length) chaseTimer = setTimeout(chase, UNACKED_RESEND_MS);
  }
  function chase() {
    chaseTimer = null;
    const oldest = unacked[0];
    if (!oldest) return;
    if (canSend() && state.epoch != null && Date.now() - oldest.made >= UNACKED_RESEND_MS) {
      resendUnacked();
      if (Date.now() - oldest.made >= UNACKED_WARN_MS && warnedSeq !== oldest.seq) {
        warnedSeq = oldest.seq;
        notice(`the sharer has not confirmed ${unacked.length} of your inputs for ${UNACKED_WARN_MS / 1000} s (something on the way may be holding them back): they are kept and sent again, and are applied in order or not at all`, 'warning');
      }
    }
    armChase();
  }

  // After a (re)join or the runner's return, a moment for an update to bring the current
  // epoch, so the queue is not signed for a runner that has since restarted.
  function flushSoon() {
    setTimeout(flushUnacked, 750);
  }

  // Seals a driver's message, queues it until acknowledged, and sends it if it can now.
  function sendDriver(kind, msg) {
    if (!canDrive()) return Promise.resolve();
    return queueOut(async () => {
      const c = await keys.seal(AAD.viewer(link.share, kind), JSON.stringify(msg));
      const entry = { seq: ++driverSeq, kind, c, made: Date.now() };
      unacked.push(entry);
      armChase();
      if (unacked.length > MAX_UNACKED) {
        unacked.splice(0, unacked.length - MAX_UNACKED);
        notice('the sharer has not confirmed many messages; the oldest will not be sent again');
      }
      if (canSend() && state.epoch != null && conn.sentEpoch === state.epoch) {
        await sendDriven(entry);
      } else {
        flushUnacked();
        if (!canSend()) notice(state.runner === false ? 'the sharer is away: sent when they are back' : 'not connected: sent when the connection is back', 'info');
      }
    });
  }

  // ===================================================================== rendering

  const $ = (id) => document.getElementById(id);
  const els = {
    name: $('session-name'), tabs: $('tabs'), spend: $('spend'), role: $('role'), status: $('status'),
    banner: $('banner'), cap: $('cap'), notices: $('notices'), panes: $('panes'), pending: $('pending'),
    roNote: $('ro-note'), history: $('history'),
    commentForm: $('comment-form'), commentOn: $('comment-on'), commentLine: $('comment-line'),
    commentText: $('comment-text'),
  };

  let renderQueued = false;
  function scheduleRender() {
    if (renderQueued) return;
    renderQueued = true;
    requestAnimationFrame(render);
  }

  function render() {
    renderQueued = false;
    if (dirty.status) { renderStatus(); dirty.status = false; }
    // A new session or a new list of pending actions changes what a comment can be on.
    if (dirty.session) { renderSession(); dirty.session = false; dirty.commentTargets = true; }
    for (const [id, which] of dirty.rows) renderRows(id, which);
    dirty.rows.clear();
    if (dirty.pending) { renderPending(); dirty.pending = false; }
    if (dirty.commentTargets) { renderCommentTargets(); dirty.commentTargets = false; }
    if (dirty.history) { renderHistory(); dirty.history = false; }
    if (dirty.notices) { renderNotices(); dirty.notices = false; }
  }

  function h(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text != null) e.textContent = visible(text);
    return e;
  }

  const dollars = (v) => '$' + (Number(v) || 0).toFixed(2);

  function renderStatus() {
    const c = state.connection;
    const text = {
      connecting: 'connecting…',
      live: 'live',
      waiting: state.restarting ? 'the sharer is restarting' : 'waiting for the sharer',
      reconnecting: 'reconnecting…',
      refused: visible(state.refused || 'refused'),
    }[c];
    els.status.textContent = text;
    els.status.className = 'status ' + c;
    els.banner.hidden = c !== 'refused' && c !== 'waiting';
    els.banner.className = c === 'refused' ? 'refused' : 'waiting';
    els.banner.textContent = c === 'refused'
      ? visible(state.refused)
      : state.restarting
        ? "the sharer's runner is restarting: their session comes back when it does, and this page picks it up"
        : 'waiting for the sharer: their teamster is not connected right now; this page picks up when it is';
    els.role.textContent = state.role === 'drive' ? 'driver' : state.role === 'read' ? 'read-only' : (link.drive ? 'driver' : 'read-only');
    els.role.className = 'badge ' + (els.role.textContent === 'driver' ? 'drive' : 'read');
  }

  // ---- session, layout and panes

  const paneEls = new Map(); // pane id -> { root, title parts, pre, rows: [div], typebar }
  let layoutKey = '';
  let charRatio = 0.6; // a monospace cell's width per font-size pixel, measured at start

  function measureChar() {
    const probe = h('pre', 'screen', 'M'.repeat(100));
    probe.style.cssText = 'position:absolute;visibility:hidden;font-size:100px;left:-99999px;top:0;padding:0';
    document.body.appendChild(probe);
    const w = probe.getBoundingClientRect().width / 100 / 100;
    probe.remove();
    if (w > 0.3 && w < 1) charRatio = w;
  }

  function activeTab() {
    const s = state.session;
    return s && s.tabs ? s.tabs[s.active_tab] || s.tabs[0] || null : null;
  }

  function panesIn(layout, out) {
    if (!layout) return out;
    if (layout.pane != null) out.push(layout.pane);
    else if (layout.split) for (const c of layout.split.children || []) panesIn(c.node, out);
    return out;
  }

  function paneInfo(id) {
    const s = state.session;
    return (s && s.panes && s.panes.find((p) => p.id === id)) || null;
  }

  function renderSession() {
    const s = state.session;
    els.name.textContent = s ? visible(s.name) : 'teamster';
    document.title = s ? `${visible(s.name)} · teamster` : 'teamster';
    if (s) {
      els.spend.textContent = dollars(s.spend) + (s.budget ? ' of ' + dollars(s.budget[0]) : '');
      els.spend.title = s.budget ? visible(s.budget[1]) : 'spent by this session\u2019s agents';
    } else {
      els.spend.textContent = '';
    }
    renderCap(s);
    const tab = activeTab();
    renderTabs(s);

    // The split tree, rebuilt only when its shape changes (moving a pane's element would
    // take the focus from its input box).
    const layout = tab ? (tab.zoomed != null ? { pane: tab.zoomed } : tab.layout) : null;
    const key = JSON.stringify(layout);
    if (key !== layoutKey) {
      layoutKey = key;
      const focused = document.activeElement;
      els.panes.replaceChildren(layout ? buildNode(layout) : h('p', 'empty', state.connection === 'live' ? 'no panes' : 'nothing to show yet'));
      const shown = new Set(panesIn(layout, []));
      for (const id of paneEls.keys()) if (!shown.has(id)) paneEls.delete(id);
      if (focused && document.contains(focused) && focused !== document.activeElement) focused.focus();
    }
    const order = panesIn(tab && tab.layout, []);
    for (const [id, pe] of paneEls) updatePaneChrome(id, pe, order.indexOf(id) + 1, tab);
    renderSwitch(tab, panesIn(layout, []));
    fitFonts();
  }

  function buildNode(node) {
    if (node.pane != null) {
      let pe = paneEls.get(node.pane);
      if (!pe) {
        pe = makePane(node.pane);
        paneEls.set(node.pane, pe);
        markRows(node.pane, true);
      }
      pe.root.style.flex = '';
      return pe.root;
    }
    const split = node.split || { axis: 'horizontal', children: [] };
    const div = h('div', 'split ' + (split.axis === 'vertical' ? 'v' : 'h'));
    for (const child of split.children || []) {
      const el = buildNode(child.node);
      // Side by side, widths follow the weights; stacked, each pane is as tall as its rows.
      el.style.flex = split.axis === 'vertical' ? '0 0 auto' : `${Math.max(1, child.weight || 1)} 1 0px`;
      div.appendChild(el);
    }
    return div;
  }

  function makePane(id) {
    const root = h('section', 'pane');
    root.dataset.pane = String(id);
    const title = h('div', 'pane-title');
    const num = h('span', 'num');
    const name = h('span', 'name');
    const ptitle = h('span', 'ptitle');
    const spend = h('span', 'spend');
    const flag = h('span', 'flag');
    title.append(num, name, ptitle, spend, flag);
    const scroll = h('div', 'scroll');
    const pre = h('pre', 'screen');
    // A double-click on a line picks it for a comment.
    pre.addEventListener('dblclick', (e) => {
      const row = e.target instanceof Element ? e.target.closest('.row') : null;
      const line = row ? Array.prototype.indexOf.call(pre.children, row) + 1 : 0;
      pickCommentTarget(`pane:${id}`, line > 0 ? line : null);
    });
    scroll.appendChild(pre);
    root.append(title, scroll);
    return { root, num, name, ptitle, spend, flag, scroll, pre, rows: [], typebar: null };
  }

  // A spend cap that stopped the session's agents: which, why, and how to get past it.
  function renderCap(s) {
    const cap = s && s.cap_hit;
    els.cap.hidden = !cap;
    if (!cap) { els.cap.textContent = ''; return; }
    const which = cap.rule ? `spend cap \u201c${visible(cap.rule)}\u201d` : 'a spend gate';
    const advice = cap.gate === PROTOCOL.gate.asks ? 'approve the next step' : 'raise it in your config';
    els.cap.textContent = `\u26d4 ${which} stopped the agents: ${visible(cap.reason)} (to go on: ${advice})`;
  }

  function updatePaneChrome(id, pe, number, tab) {
    const info = paneInfo(id);
    pe.num.textContent = number > 0 ? String(number) : '';
    pe.name.textContent = info ? visible(info.name || info.command) : `pane ${id}`;
    pe.ptitle.textContent = info && info.title && info.title !== info.name && info.title !== info.command ? visible(info.title) : '';
    const spend = info && info.spend > 0 ? dollars(info.spend) + (info.spend_unknown ? '+?' : '') : '';
    pe.spend.textContent = spend;
    const approval = !!(info && info.agent && info.agent.state === PROTOCOL.agentState.NeedsApproval);
    const capped = !!(info && info.agent && info.agent.state === PROTOCOL.agentState.StoppedBySpendCap);
    let flag = '';
    if (approval) flag = 'needs approval';
    else if (capped) flag = 'stopped by a spend cap';
    else if (info && info.state && info.state.state === 'exited') {
      flag = info.state.code != null ? `exited ${info.state.code}` : info.state.signal != null ? `killed (signal ${info.state.signal})` : 'exited';
    } else if (info && info.agent && info.agent.state === PROTOCOL.agentState.WaitingForInput) flag = 'waiting for input';
    pe.flag.textContent = flag;
    pe.flag.className = 'flag' + (approval ? ' approval' : capped ? ' capped' : '');
    pe.root.classList.toggle('approval', approval);
    pe.root.classList.toggle('focused', !!tab && tab.focused === id);
    pe.name.title = info ? visible(info.command) : '';

    // Drivers get a line to type into the pane; viewers do not.
    if (canDrive() && !pe.typebar) {
      pe.typebar = makeTypebar(id);
      pe.root.appendChild(pe.typebar);
    } else if (!canDrive() && pe.typebar) {
      pe.typebar.remove();
      pe.typebar = null;
    }
  }

  function renderRows(id, which) {
    const pe = paneEls.get(id);
    const p = state.panes[id];
    if (!pe) return; // not on screen; drawn in full when it is
    if (!p) { pe.pre.replaceChildren(); pe.rows = []; return; }
    if (pe.rows.length !== p.rows) {
      while (pe.rows.length < p.rows) pe.rows.push(pe.pre.appendChild(h('div', 'row')));
      while (pe.rows.length > p.rows) pe.rows.pop().remove();
      which = true;
    }
    if (pe.cols !== p.cols) { pe.cols = p.cols; pe.pre.style.minWidth = `calc(${p.cols}ch + 8px)`; fitFonts(); }
    const c = p.cursor;
    const curY = c && c.visible ? c.y : -1;
    const draw = (i) => { pe.rows[i].replaceChildren(rowNodes(document, p.lines[i], p.cols, i === curY ? c.x : -1)); };
    if (which === true) for (let i = 0; i < p.rows; i++) draw(i);
    else for (const i of which) if (i < p.rows) draw(i);
  }

  // Font size so the tab's columns fit the width: side by side on wide screens, each pane
  // on its own on narrow ones (where panes stack and scroll sideways past the minimum).
  const wide = window.matchMedia('(min-width: 900px)');
  function colsOf(node) {
    if (!node) return 0;
    if (node.pane != null) { const p = state.panes[node.pane] || paneInfo(node.pane); return (p && (p.cols || (p.size && p.size.cols))) || 80; }
    const kids = (node.split && node.split.children) || [];
    const sizes = kids.map((k) => colsOf(k.node));
    return node.split.axis === 'vertical' ? Math.max(0, ...sizes) : sizes.reduce((a, b) => a + b + 2, 0);
  }
  // Readable first: never smaller than MIN_FS (then the pane scrolls sideways inside
  // itself), never larger than MAX_FS.
  const MIN_FS = 12;
  const MAX_FS = 15;
  const fit = (width, cols) => Math.max(MIN_FS, Math.min(MAX_FS, Math.floor((width / (cols * charRatio)) * 2) / 2));
  function fitFonts() {
    const width = els.panes.clientWidth || window.innerWidth;
    if (wide.matches) {
      const tab = activeTab();
      const layout = tab ? (tab.zoomed != null ? { pane: tab.zoomed } : tab.layout) : null;
      const cols = colsOf(layout) || 80;
      els.panes.style.setProperty('--fs', fit(width - 16, cols) + 'px');
      for (const pe of paneEls.values()) pe.pre.style.fontSize = '';
    } else {
      for (const [id, pe] of paneEls) {
        const p = state.panes[id];
        pe.pre.style.fontSize = fit(width - 14, (p && p.cols) || 80) + 'px';
      }
    }
  }

  // ---- the phone's switcher: one pane at a time

  let phonePane = null; // the pane a phone shows; chosen by the user, else by `rank`

  // Panes in the order a phone lists them: waiting for approval, then agents, then the
  // rest, each group in layout order.
  function phoneOrder(ids) {
    const rank = (id) => {
      const info = paneInfo(id);
      if (info && info.agent && info.agent.state === PROTOCOL.agentState.NeedsApproval) return 0;
      if (state.pending.some && state.pending.some((p) => p.pane === id)) return 0;
      return info && info.agent ? 1 : 2;
    };
    return ids.map((id, i) => [rank(id), i, id]).sort((a, b) => a[0] - b[0] || a[1] - b[1]).map((x) => x[2]);
  }

  function renderSwitch(tab, order) {
    const sw = $('switch');
    const ids = phoneOrder(order);
    if (phonePane == null || !ids.includes(phonePane)) phonePane = ids.length ? ids[0] : null;
    for (const [id, pe] of paneEls) pe.root.classList.toggle('off', id !== phonePane);
    if (ids.length < 2) { sw.replaceChildren(); return; }
    const buttons = ids.map((id) => {
      const info = paneInfo(id);
      const approval = !!(info && info.agent && info.agent.state === PROTOCOL.agentState.NeedsApproval);
      const label = `${order.indexOf(id) + 1} ${info ? visible(info.name || info.command) : 'pane ' + id}${approval ? ' ⚠' : ''}`;
      const b = h('button', 'pane-choice' + (id === phonePane ? ' on' : '') + (approval ? ' approval' : ''), label);
      b.type = 'button';
      b.dataset.pane = String(id);
      b.addEventListener('click', () => { phonePane = id; renderSession(); });
      return b;
    });
    sw.replaceChildren(...buttons);
  }

  // The session's tabs, in the header: a driver switches between them (the sharer's
  // screen follows, as when they switch); a read-only link shows which is open.
  let tabsKey = '';
  function renderTabs(s) {
    const tabs = (s && s.tabs) || [];
    const active = (s && s.active_tab) || 0;
    const key = JSON.stringify([tabs.map((t) => t.name), active, canDrive()]);
    if (key === tabsKey) return;
    tabsKey = key;
    if (tabs.length < 2) { els.tabs.replaceChildren(); return; }
    els.tabs.replaceChildren(...tabs.map((t, i) => {
      const b = h('button', 'tab' + (i === active ? ' on' : ''), `${i + 1}${t.name ? ' ' + visible(t.name) : ''}`);
      b.type = 'button';
      b.dataset.tab = String(i);
      if (i === active) b.setAttribute('aria-current', 'true');
      if (!canDrive()) {
        b.disabled = i !== active;
        b.title = 'a read-only link shows the tab the sharer has open';
      } else if (i !== active) {
        b.addEventListener('click', () => sendDriver('command', protocolMessage(PROTOCOL.client.Command, { id: ++requestId, command: protocolWith(PROTOCOL.selectTab, { index: i }) })));
      }
      return b;
    }));
  }

  // ---- pending actions, history, notices

  function ago(secs) {
    const s = Math.max(0, Math.round(secs));
    if (s < 60) return s + 's';
    if (s < 3600) return Math.floor(s / 60) + 'm ' + (s % 60) + 's';
    return Math.floor(s / 3600) + 'h ' + Math.floor((s % 3600) / 60) + 'm';
  }

  function ageText(p) {
    const now = Date.now() / 1000;
    let t = 'waiting ' + ago(now - p.since);
    // An agent's own question has no deadline: it waits as long as the agent does.
    if (p.source === 'agent') return t + ' · answer here or in its pane';
    if (p.deadline) t += p.deadline > now ? ` · denied in ${ago(p.deadline - now)} if nobody answers` : ' · timing out';
    return t;
  }

  const pendingEls = new Map(); // id -> element, kept so buttons are not rebuilt under a finger
  function renderPending() {
    dirty.commentTargets = true;
    const list = state.pending || [];
    const drive = canDrive();
    const here = state.session && state.session.name;
    const keep = new Set(list.map((p) => p.id));
    for (const [id, el] of pendingEls) if (!keep.has(id)) { el.remove(); pendingEls.delete(id); }
    const frag = document.createDocumentFragment();
    for (const p of list) {
      let el = pendingEls.get(p.id);
      if (!el || el.dataset.drive !== String(drive)) {
        if (el) el.remove();
        el = makePendingItem(p, drive, here);
        pendingEls.set(p.id, el);
      }
      el._view = p;
      frag.appendChild(el);
    }
    els.pending.replaceChildren(frag);
    if (!list.length) els.pending.appendChild(h('p', 'empty', 'nothing waiting'));
    els.roNote.hidden = drive || state.role == null;
    els.roNote.textContent = state.role === 'drive' && !state.drivable
      ? 'this share cannot be driven: you can watch, not approve'
      : 'read-only link: you can watch, not approve';
  }

  function makePendingItem(p, drive, here) {
    const el = h('div', 'pending');
    el.dataset.id = String(p.id);
    el.dataset.drive = String(drive);
    const head = h('div', 'p-head');
    head.append(h('span', 'agent', p.agent), h('span', 'tool', p.kind === 'llm_request' ? `request to ${p.tool}` : p.tool));
    // The pane by its place, as the sidebar and the command line name it.
    const where = p.place ? `pane ${p.place}` : p.session && here && p.session !== here ? `in ${p.session}` : '';
    if (where) head.append(h('span', 'where', where));
    const what = h('code', 'what', p.what);
    const why = h('div', 'why', [p.rule, p.reason].filter(Boolean).join(': '));
    const age = h('div', 'age', ageText(p));
    el._view = p;
    el.append(head, what, why);
    if (p.warning) el.append(h('div', 'warning', '⚠ ' + p.warning));
    if (p.diff) {
      const diff = h('pre', 'diff');
      for (const line of p.diff.split('\n')) {
        if (!line) continue;
        diff.append(h('div', line[0] === '+' ? 'add' : line[0] === '-' ? 'remove' : 'same', line));
      }
      el.append(diff);
    }
    el.append(age);
    const talk = h('button', 'comment-on', 'comment on this');
    talk.type = 'button';
    talk.addEventListener('click', () => pickCommentTarget(`action:${p.id}`));
    el.append(talk);
    if (drive) {
      const buttons = h('div', 'buttons');
      const approve = h('button', 'approve', 'Approve');
      const deny = h('button', 'deny', 'Deny');
      approve.type = deny.type = 'button';
      approve.addEventListener('click', () => resolve(p.id, true, el));
      deny.addEventListener('click', () => resolve(p.id, false, el));
      buttons.append(approve, deny);
      // Deny with a message: the agent is told it.
      const message = h('input', 'deny-message');
      message.type = 'text';
      message.placeholder = 'message for the agent (optional), then Deny';
      message.setAttribute('aria-label', 'message for the agent with a deny');
      message.maxLength = 2000;
      message.addEventListener('input', () => { deny.textContent = message.value.trim() ? 'Deny with message' : 'Deny'; });
      message.addEventListener('keydown', (e) => {
        if (e.key === 'Enter' && message.value.trim()) { e.preventDefault(); resolve(p.id, false, el); }
      });
      el.append(message, buttons);
    }
    return el;
  }

  function tickAges() {
    for (const el of pendingEls.values()) {
      const age = el.querySelector('.age');
      if (age && el._view) age.textContent = ageText(el._view);
    }
  }

  // ---- comments: anyone with a link may leave one; the runner shows it to everyone

  // What a comment can be about: the session, each pane, each pending action.
  function renderCommentTargets() {
    const sel = els.commentOn;
    const chosen = sel.value;
    const options = [['session', 'the session']];
    for (const p of (state.session && state.session.panes) || []) {
      options.push([`pane:${p.id}`, `pane ${p.id}: ${p.name || p.command || ''}`]);
    }
    for (const p of state.pending || []) options.push([`action:${p.id}`, `approval ${p.id}: ${p.tool}`]);
    const same = sel.options.length === options.length && options.every(([v, t], i) => sel.options[i].value === v && sel.options[i].textContent === visible(t));
    if (same) return;
    sel.replaceChildren(...options.map(([v, t]) => { const o = h('option', null, t); o.value = v; return o; }));
    if (options.some(([v]) => v === chosen)) sel.value = chosen;
    els.commentLine.disabled = !sel.value.startsWith('pane:');
  }

  function pickCommentTarget(value, line) {
    renderCommentTargets();
    els.commentOn.value = value;
    els.commentLine.disabled = !value.startsWith('pane:');
    els.commentLine.value = line ? String(line) : '';
    els.commentText.focus();
  }

  const commentIds = new Set();
  async function sendComment(e) {
    e.preventDefault();
    const text = els.commentText.value.trim();
    if (!text) { notice('write something first', 'info'); return; }
    const [what, n] = els.commentOn.value.split(':');
    const line = Number(els.commentLine.value) || null;
    const shapes = PROTOCOL.commentOn;
    const on = what === 'pane' ? Object.assign({}, shapes.pane, { pane: Number(n), line })
      : what === 'action' ? Object.assign({}, shapes.action, { action: Number(n) }) : shapes.session;
    const id = ++requestId;
    commentIds.add(id);
    const c = await keys.seal(AAD.viewer(link.share, 'comment'), JSON.stringify(protocolMessage(PROTOCOL.client.Comment, { id, on, text })));
    if (!conn.ws || conn.ws.readyState !== WebSocket.OPEN || !conn.joined) { notice('not connected: the comment was not sent'); return; }
    conn.ws.send(JSON.stringify({ t: 'send', kind: 'comment', c, drive: null }));
    els.commentText.value = '';
  }

  function renderHistory() {
    const frag = document.createDocumentFragment();
    // The sharer's runner tells a repeated decision once, with how many times.
    for (const r of (state.history || []).slice(0, 10)) {
      const n = Number(r.times) || 1;
      const li = h('li', 'decision');
      const v = String(r.verdict || '');
      const kind = /allow|approv/i.test(v) ? 'allow' : /deny|denied|refus|block/i.test(v) ? 'deny' : v === 'comment' ? 'comment' : 'other';
      li.append(h('span', 'verdict ' + kind, v), h('span', 'agent', r.agent), h('code', 'what', r.what));
      if (n > 1) li.append(h('span', 'times', ` ×${n}`));
      const when = r.ts ? new Date(r.ts * 1000).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }) : '';
      li.append(h('div', 'by', [r.by && 'by ' + r.by, when].filter(Boolean).join(' · ')));
      frag.appendChild(li);
    }
    els.history.replaceChildren(frag);
    if (!els.history.children.length) els.history.appendChild(h('li', 'empty', 'no decisions or comments yet'));
  }

  function renderNotices() {
    const frag = document.createDocumentFragment();
    for (const n of state.notices) {
      const d = h('div', 'notice ' + n.kind, n.text + (n.count > 1 ? ` (×${n.count})` : ''));
      d.title = new Date(n.at).toLocaleTimeString() + ' (click to dismiss)';
      d.addEventListener('click', () => {
        const i = state.notices.indexOf(n);
        if (i >= 0) state.notices.splice(i, 1);
        dirty.notices = true;
        scheduleRender();
      });
      frag.appendChild(d);
    }
    els.notices.replaceChildren(frag);
  }

  // ===================================================================== actions

  function resolve(id, allow, el) {
    const box = el.querySelector('input.deny-message');
    const message = box ? box.value.trim() : '';
    let decision;
    if (allow) decision = PROTOCOL.decision.approveOnce;
    else if (message) {
      decision = JSON.parse(JSON.stringify(PROTOCOL.decision.denyWithMessage));
      decision.reason = message;
    } else decision = Object.assign({}, PROTOCOL.decision.deny, { reason: 'denied from the browser' });
    for (const b of el.querySelectorAll('button, input')) b.disabled = true;
    el.classList.add('sent');
    sendDriver('resolve', protocolMessage(PROTOCOL.client.Resolve, { id: ++requestId, action: id, decision, via: PROTOCOL.surface.Browser }));
    // If the runner never answers (the action is gone, or it was refused), allow a retry.
    setTimeout(() => { if (document.contains(el)) reenable(el); }, 8000);
  }

  function reenable(el) {
    el.classList.remove('sent');
    for (const b of el.querySelectorAll('button, input')) b.disabled = false;
  }
  function reenableButtons() { for (const el of pendingEls.values()) reenable(el); }

  function sendInput(pane, events) {
    sendDriver('input', protocolMessage(PROTOCOL.client.Input, { pane, events }));
  }

  const ENTER = PROTOCOL.keys.Enter;
  // A few keys an agent's prompts need that a phone keyboard cannot type.
  const KEYS = [
    ['Esc', PROTOCOL.keys.Esc],
    ['Tab', PROTOCOL.keys.Tab],
    ['↑', PROTOCOL.keys.Up],
    ['↓', PROTOCOL.keys.Down],
    ['^C', PROTOCOL.keys.CtrlC],
  ];

  function makeTypebar(id) {
    const form = h('form', 'typebar');
    form.setAttribute('autocomplete', 'off');
    const input = h('input', 'type');
    input.type = 'text';
    input.placeholder = 'type a line into this pane';
    input.setAttribute('autocapitalize', 'off');
    input.setAttribute('autocorrect', 'off');
    input.setAttribute('enterkeyhint', 'send');
    input.spellcheck = false;
    // One message, the line and Enter: the sharer's runner types the Enter once the pane
    // shows the line (an agent that takes fast input for a paste would make a newline of an
    // Enter that came with it).
    const sendLine = () => {
      const text = input.value;
      input.value = '';
      sendInput(id, text ? [protocolWith(PROTOCOL.paste, text), ENTER] : [ENTER]);
    };
    input.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && !e.isComposing) { e.preventDefault(); sendLine(); }
    });
    form.addEventListener('submit', (e) => { e.preventDefault(); sendLine(); });
    const send = h('button', 'send', '⏎');
    send.type = 'submit';
    send.title = 'send the line and Enter';
    form.append(input, send);
    const keysEl = h('span', 'keys');
    for (const [label, ev] of KEYS) {
      const b = h('button', 'key', label);
      b.type = 'button';
      b.addEventListener('click', () => sendInput(id, [ev]));
      keysEl.appendChild(b);
    }
    form.appendChild(keysEl);
    return form;
  }

  // ===================================================================== start

  Object.defineProperty(window, 'teamster', {
    value: Object.freeze({
      get lastSeq() { return lastSeq; },
      get state() { return state; },
      get driverId() { return driverId; },
      get unacked() { return unacked.map((e) => e.seq); },
    }),
  });

  measureChar();
  wide.addEventListener('change', () => { fitFonts(); });
  let resizeQueued = false;
  window.addEventListener('resize', () => {
    if (resizeQueued) return;
    resizeQueued = true;
    requestAnimationFrame(() => { resizeQueued = false; fitFonts(); });
  });
  setInterval(tickAges, 1000);
  els.commentForm.addEventListener('submit', (e) => { sendComment(e).catch((err) => notice('could not send the comment: ' + err.message)); });
  els.commentOn.addEventListener('change', () => { els.commentLine.disabled = !els.commentOn.value.startsWith('pane:'); });
  // A pasted link with a new fragment: start over with its secrets.
  window.addEventListener('hashchange', () => location.reload());

  if (link.error) {
    state.refused = link.error;
    state.connection = 'refused';
    render();
    return;
  }
  if (!subtle) {
    state.refused = 'this page must be opened over https (or on this machine): browsers keep their cryptography from plain http pages on other hosts. Ask the sharer for an https link, or use `teamster attach`.';
    state.connection = 'refused';
    render();
    return;
  }
  render();
  makeKeys(link.share, link.read, link.drive)
    .then((k) => { keys = k; connect(); })
    .catch((e) => {
      console.error('teamster: key derivation failed', e);
      state.refused = 'this browser could not derive the link\u2019s keys: ' + e.message;
      state.connection = 'refused';
      dirty.status = true;
      scheduleRender();
    });
})();

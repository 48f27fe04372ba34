// chat-xmpp.js - a small XMPP client over WebSocket (RFC 7395) for the
// webmail's chat pane (chat.js): httpd's /xmpp-websocket, signed in with
// SASL EXTERNAL by the webmail session's cookie (no password in the
// page), then roster (RFC 6121), presence, one-to-one messages, group
// chat (XEP-0045), file upload slots (XEP-0363), ping, and the last
// messages of a conversation from the archive (XEP-0313, RSM paging).
//
// Everything received is parsed as XML (DOMParser, text/xml: no script,
// no HTML) and read with getAttribute/textContent: what reaches the UI
// is plain strings, rendered as text by Preact. Everything sent is built
// by x(), which escapes every attribute and text.

const NS = {
  framing: 'urn:ietf:params:xml:ns:xmpp-framing',
  sasl: 'urn:ietf:params:xml:ns:xmpp-sasl',
  bind: 'urn:ietf:params:xml:ns:xmpp-bind',
  roster: 'jabber:iq:roster',
  muc: 'http://jabber.org/protocol/muc',
  mucUser: 'http://jabber.org/protocol/muc#user',
  upload: 'urn:xmpp:http:upload:0',
  discoItems: 'http://jabber.org/protocol/disco#items',
  discoInfo: 'http://jabber.org/protocol/disco#info',
  delay: 'urn:xmpp:delay',
  oob: 'jabber:x:oob',
  ping: 'urn:xmpp:ping',
  mam: 'urn:xmpp:mam:2',
  rsm: 'http://jabber.org/protocol/rsm',
  data: 'jabber:x:data',
  forward: 'urn:xmpp:forward:0',
};
const HISTORY_MAX = 30;

const ESC = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' };
const esc = (s) => String(s).replace(/[&<>"']/g, (c) => ESC[c]);

// x - an element as text: attrs (undefined values left out) and children
// (strings are text, escaped; arrays are flattened)
export function x(name, attrs, ...children) {
  let s = `<${name}`;
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v !== undefined && v !== null) s += ` ${k}="${esc(v)}"`;
  }
  const kids = children.flat(Infinity).filter((c) => c !== null && c !== undefined && c !== false);
  if (!kids.length) return `${s}/>`;
  return `${s}>${kids.map((c) => (c && c.xml ? c.xml : esc(c))).join('')}</${name}>`;
}
const raw = (xml) => ({ xml });
const el = (...a) => raw(x(...a));

export const bare = (jid) => String(jid || '').split('/')[0];
export const resourceOf = (jid) => {
  const i = String(jid || '').indexOf('/');
  return i < 0 ? '' : jid.slice(i + 1);
};
const child = (node, name, ns) => {
  for (const c of node.children) {
    if (c.localName === name && (!ns || c.namespaceURI === ns)) return c;
  }
  return null;
};
const text = (node, name, ns) => {
  const c = child(node, name, ns);
  return c ? c.textContent : '';
};

let seq = 0;
const nextId = () => `w${Date.now().toString(36)}${(seq += 1)}`;

// Chat - one connection; the UI listens with on(event, fn):
//   'status' (text), 'roster' (), 'presence' (bareJid), 'message' (msg),
//   'room' (roomJid), 'error' (text)
export class Chat {
  constructor(domain, url) {
    this.domain = domain;
    this.url = url;
    this.jid = '';
    this.state = 'offline';
    this.roster = new Map();        // bare -> {jid, name, groups, subscription}
    this.online = new Map();        // bare -> Map(resource -> show)
    this.rooms = new Map();         // room bare -> {jid, nick, occupants: Set, subject}
    this.iqs = new Map();           // id -> {resolve, reject, timer}
    this.mam = new Map();           // queryid -> [msg] (history())
    this.handlers = {};
    this.services = {};             // conference, upload
    this.uploadMax = 0;
    this.ws = null;
    this.closing = false;
  }

  on(ev, fn) {
    (this.handlers[ev] = this.handlers[ev] || []).push(fn);
  }

  emit(ev, ...a) {
    for (const fn of this.handlers[ev] || []) {
      try { fn(...a); } catch (e) { /* a listener's bug stays there */ }
    }
  }

  setState(s, why) {
    this.state = s;
    this.emit('status', s, why || '');
  }

  connect() {
    this.closing = false;
    this.setState('connecting');
    let ws;
    try {
      ws = new WebSocket(this.url, 'xmpp');
    } catch (e) {
      this.setState('offline', e.message);
      return;
    }
    this.ws = ws;
    ws.onopen = () => this.open();
    ws.onmessage = (e) => this.frame(e.data);
    ws.onclose = () => {
      this.ws = null;
      for (const { reject, timer } of this.iqs.values()) {
        clearTimeout(timer);
        reject(new Error('disconnected'));
      }
      this.iqs.clear();
      this.online.clear();
      for (const r of this.rooms.values()) r.occupants.clear();
      this.emit('roster');
      const wasOnline = this.state === 'online';
      this.setState('offline', this.failure || '');
      // a dropped connection comes back (not after our own close or a
      // refused login)
      if (!this.closing && !this.failure) {
        setTimeout(() => { if (!this.ws && !this.closing) this.connect(); },
          wasOnline ? 2000 : 10000);
      }
    };
  }

  close() {
    this.closing = true;
    if (this.ws && this.ws.readyState === WebSocket.OPEN) {
      this.ws.send(x('close', { xmlns: NS.framing }));
    }
    setTimeout(() => { if (this.ws) this.ws.close(); }, 500);
  }

  send(xml) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(xml);
  }

  open() {
    this.send(x('open', { xmlns: NS.framing, to: this.domain, version: '1.0' }));
  }

  frame(data) {
    const doc = new DOMParser().parseFromString(data, 'text/xml');
    const n = doc.documentElement;
    if (!n || n.getElementsByTagName('parsererror').length) return;
    switch (n.localName) {
      case 'open': return undefined;
      case 'close': if (this.ws) this.ws.close(); return undefined;
      case 'features': return this.features(n);
      case 'success': this.open(); return undefined;
      case 'failure':
        this.failure = n.textContent ? `Chat sign-in refused: ${text(n, 'text') || n.firstElementChild?.localName}` : 'Chat sign-in refused';
        this.emit('error', this.failure);
        if (this.ws) this.ws.close();
        return undefined;
      case 'error':
        this.emit('error', `Chat stream error: ${n.firstElementChild ? n.firstElementChild.localName : ''}`);
        return undefined;
      case 'iq': return this.iq(n);
      case 'presence': return this.presence(n);
      case 'message': return this.message(n);
      default: return undefined;
    }
  }

  features(n) {
    const mechs = child(n, 'mechanisms', NS.sasl);
    if (mechs) {
      const list = [...mechs.children].map((m) => m.textContent);
      if (!list.includes('EXTERNAL')) {
        this.failure = 'The chat service did not recognise your webmail session; log in again.';
        this.emit('error', this.failure);
        this.ws.close();
        return;
      }
      this.send(x('auth', { xmlns: NS.sasl, mechanism: 'EXTERNAL' }, '='));
      return;
    }
    if (child(n, 'bind', NS.bind)) {
      this.request(x('iq', { type: 'set', id: '$ID' },
        el('bind', { xmlns: NS.bind }, el('resource', {}, `webmail-${Math.random().toString(36).slice(2, 8)}`))))
        .then((r) => {
          const b = child(r, 'bind', NS.bind);
          this.jid = b ? text(b, 'jid') : '';
          this.started();
        })
        .catch((e) => this.emit('error', `Chat: ${e.message}`));
    }
  }

  // request - an IQ (its id written '$ID' in xml): resolves with the
  // result element, rejects with the error's condition
  request(xml, timeout = 20000) {
    const id = nextId();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.iqs.delete(id);
        reject(new Error('no answer'));
      }, timeout);
      this.iqs.set(id, { resolve, reject, timer });
      this.send(xml.replace('id="$ID"', `id="${id}"`));
    });
  }

  async started() {
    this.failure = '';
    const r = await this.request(x('iq', { type: 'get', id: '$ID' }, el('query', { xmlns: NS.roster })));
    this.rosterResult(child(r, 'query', NS.roster));
    this.send(x('presence', {}));
    this.setState('online');
    for (const room of this.rooms.values()) this.joinRoom(bare(room.jid), room.nick);
    this.discover().catch(() => {});
  }

  async discover() {
    const r = await this.request(x('iq', { type: 'get', id: '$ID', to: this.domain },
      el('query', { xmlns: NS.discoItems })));
    const q = child(r, 'query', NS.discoItems);
    for (const it of q ? q.children : []) {
      const jid = it.getAttribute('jid') || '';
      if (jid.startsWith('conference.')) this.services.conference = jid;
      if (jid.startsWith('upload.')) this.services.upload = jid;
    }
    this.emit('roster');
  }

  rosterResult(q) {
    if (!q) return;
    for (const it of q.children) {
      const jid = bare(it.getAttribute('jid'));
      if (!jid) continue;
      if (it.getAttribute('subscription') === 'remove') {
        this.roster.delete(jid);
        continue;
      }
      this.roster.set(jid, {
        jid,
        name: it.getAttribute('name') || '',
        groups: [...it.children].filter((g) => g.localName === 'group').map((g) => g.textContent),
        subscription: it.getAttribute('subscription') || 'none',
      });
    }
    this.emit('roster');
  }

  iq(n) {
    const id = n.getAttribute('id');
    const type = n.getAttribute('type');
    if ((type === 'result' || type === 'error') && this.iqs.has(id)) {
      const { resolve, reject, timer } = this.iqs.get(id);
      clearTimeout(timer);
      this.iqs.delete(id);
      if (type === 'result') resolve(n);
      else {
        const e = child(n, 'error');
        const cond = e && e.firstElementChild ? e.firstElementChild.localName : 'error';
        const t = e ? text(e, 'text') : '';
        reject(new Error(t || cond));
      }
      return;
    }
    if (type === 'set' && child(n, 'query', NS.roster)) {
      this.rosterResult(child(n, 'query', NS.roster));   // a roster push
      this.send(x('iq', { type: 'result', id }));
      return;
    }
    if (type === 'get' && child(n, 'ping', NS.ping)) {
      this.send(x('iq', { type: 'result', id, to: n.getAttribute('from') }));
      return;
    }
    if (type === 'get' || type === 'set') {
      this.send(x('iq', { type: 'error', id, to: n.getAttribute('from') },
        el('error', { type: 'cancel' },
          el('service-unavailable', { xmlns: 'urn:ietf:params:xml:ns:xmpp-stanzas' }))));
    }
  }

  presence(n) {
    const from = n.getAttribute('from') || '';
    const b = bare(from);
    const type = n.getAttribute('type') || '';
    const room = this.rooms.get(b);
    if (room) {
      const nick = resourceOf(from);
      if (type === 'error') {
        const e = child(n, 'error');
        this.emit('error', `Room ${b}: ${e && e.firstElementChild ? e.firstElementChild.localName : 'error'}`);
        this.rooms.delete(b);
      } else if (type === 'unavailable') room.occupants.delete(nick);
      else room.occupants.add(nick);
      this.emit('room', b);
      return;
    }
    if (type === 'subscribe' || type === 'subscribed' || type === 'unsubscribe' || type === 'unsubscribed' || type === 'probe') return;
    const res = resourceOf(from);
    const m = this.online.get(b) || new Map();
    if (type === 'unavailable' || type === 'error') m.delete(res);
    else m.set(res, text(n, 'show') || 'available');
    if (m.size) this.online.set(b, m); else this.online.delete(b);
    this.emit('presence', b);
  }

  // history - the last HISTORY_MAX messages with jid in the user's
  // archive (XEP-0313 4: the last page, RSM <before/>), oldest first;
  // messages as the 'message' event gives them, history: true
  async history(jid) {
    const queryid = nextId();
    const got = [];
    this.mam.set(queryid, got);
    try {
      await this.request(x('iq', { type: 'set', id: '$ID' },
        el('query', { xmlns: NS.mam, queryid },
          el('x', { xmlns: NS.data, type: 'submit' },
            el('field', { var: 'FORM_TYPE', type: 'hidden' }, el('value', {}, NS.mam)),
            el('field', { var: 'with' }, el('value', {}, bare(jid)))),
          el('set', { xmlns: NS.rsm }, el('max', {}, String(HISTORY_MAX)), el('before', {})))));
    } finally {
      this.mam.delete(queryid);
    }
    return got;
  }

  // archived - a MAM result: only from our own account (a peer cannot
  // write into our history), for a query of ours
  archived(n, result) {
    const from = n.getAttribute('from');
    if (from && bare(from) !== bare(this.jid)) return;
    const got = this.mam.get(result.getAttribute('queryid') || '');
    const fwd = child(result, 'forwarded', NS.forward);
    const m = fwd && child(fwd, 'message');
    if (!got || !m) return;
    const body = text(m, 'body');
    if (!body || (m.getAttribute('type') || 'normal') === 'groupchat') return;
    const delay = child(fwd, 'delay', NS.delay);
    const oob = child(m, 'x', NS.oob);
    const mfrom = m.getAttribute('from') || '';
    const mine = bare(mfrom) === bare(this.jid);
    got.push({
      id: m.getAttribute('id') || `mam-${result.getAttribute('id')}`,
      room: false,
      with: mine ? bare(m.getAttribute('to')) : bare(mfrom),
      from: mfrom,
      nick: '',
      mine,
      body,
      url: oob ? text(oob, 'url') : '',
      at: delay ? new Date(delay.getAttribute('stamp')) : new Date(),
      history: true,
    });
  }

  message(n) {
    const result = child(n, 'result', NS.mam);
    if (result) {
      this.archived(n, result);
      return;
    }
    const from = n.getAttribute('from') || '';
    const type = n.getAttribute('type') || 'normal';
    const b = bare(from);
    const room = this.rooms.get(b);
    const subject = child(n, 'subject');
    if (room && subject && !child(n, 'body')) {
      room.subject = subject.textContent;
      this.emit('room', b);
      return;
    }
    const body = text(n, 'body');
    if (type === 'error') {
      const e = child(n, 'error');
      this.emit('error', `Message to ${b} not delivered: ${e && e.firstElementChild ? e.firstElementChild.localName : 'error'}`);
      return;
    }
    if (!body) return;
    const oob = child(n, 'x', NS.oob);
    const delay = child(n, 'delay', NS.delay);
    const msg = {
      id: n.getAttribute('id') || nextId(),
      room: !!room && type === 'groupchat',
      with: b,
      from,
      nick: room ? resourceOf(from) : '',
      mine: room ? resourceOf(from) === room.nick : false,
      body,
      url: oob ? text(oob, 'url') : '',
      at: delay ? new Date(delay.getAttribute('stamp')) : new Date(),
      // a room's history is old news; a message kept offline for us
      // is new (its delay says when it was sent)
      history: !!delay && !!room,
    };
    this.emit('message', msg);
  }

  sendMessage(to, body, url) {
    const room = this.rooms.has(bare(to));
    const id = nextId();
    this.send(x('message', { to, type: room ? 'groupchat' : 'chat', id },
      el('body', {}, body),
      url ? el('x', { xmlns: NS.oob }, el('url', {}, url)) : null));
    return { id, room, with: bare(to), from: this.jid, nick: '', mine: true, body, url: url || '', at: new Date(), history: false };
  }

  roomJid(name) {
    const n = name.trim().toLowerCase();
    if (n.includes('@')) return n;
    return this.services.conference ? `${n}@${this.services.conference}` : '';
  }

  joinRoom(roomJid, nick) {
    const n = nick || this.jid.split('@')[0];
    if (!this.rooms.has(roomJid)) {
      this.rooms.set(roomJid, { jid: roomJid, nick: n, occupants: new Set(), subject: '' });
    }
    this.send(x('presence', { to: `${roomJid}/${n}` }, el('x', { xmlns: NS.muc },
      el('history', { maxstanzas: '20' }))));
    this.emit('room', roomJid);
  }

  leaveRoom(roomJid) {
    const r = this.rooms.get(roomJid);
    if (!r) return;
    this.send(x('presence', { to: `${roomJid}/${r.nick}`, type: 'unavailable' }));
    this.rooms.delete(roomJid);
    this.emit('room', roomJid);
  }

  // upload - a file through the upload service: its GET URL
  async upload(file) {
    if (!this.services.upload) throw new Error('There is no upload service.');
    const r = await this.request(x('iq', { type: 'get', id: '$ID', to: this.services.upload },
      el('request', { xmlns: NS.upload, filename: file.name || 'file', size: String(file.size),
        'content-type': file.type || 'application/octet-stream' })));
    const slot = child(r, 'slot', NS.upload);
    const put = slot && child(slot, 'put', NS.upload);
    const get = slot && child(slot, 'get', NS.upload);
    if (!put || !get) throw new Error('The upload service gave no slot.');
    const putUrl = put.getAttribute('url');
    const res = await fetch(putUrl, {
      method: 'PUT', body: file, credentials: 'omit',
      headers: { 'Content-Type': file.type || 'application/octet-stream' },
    });
    if (!res.ok) throw new Error(`The upload failed (${res.status}).`);
    return get.getAttribute('url');
  }
}

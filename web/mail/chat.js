// chat.js - the webmail's chat pane: the people of the post office (its
// shared roster group) with who is online, one-to-one chat, rooms
// (XEP-0045 on conference.<domain>), files through the upload service,
// and new messages told (a count on the chat button, the page title,
// and a desktop notification when the page is hidden and the user
// allowed them). The XMPP client is chat-xmpp.js over httpd's WebSocket,
// signed in by the webmail session (SASL EXTERNAL): no second password.
//
// Entry point: ChatDock({ jmap, session }), loaded by the shell (app.js)
// after login. Desktop: a panel at the right over the mail panes; below
// 700px the whole screen. Hooks for tests: #chat-toggle (its .badge),
// #chat (the panel), .chat-contact[data-jid] (.online), .chat-room
// [data-jid], #chat-log (.chat-msg), #chat-input, #chat-file,
// #chat-room-name, #chat-status.
//
// Everything shown (names, messages, file names, URLs) is a string
// rendered by Preact as text; a link is made only of an http(s) URL and
// an image shown only from this server's own upload URL.
import { useState, useEffect, useRef, useReducer } from '../common/vendor/hooks.js';
import { html } from '../common/html.js';
import { Chat, bare } from './chat-xmpp.js';

const LOG_MAX = 500;               // messages kept per conversation

// wsUrl - the WebSocket endpoint of this server (XEP-0156: listed while
// the chat service runs), or null
async function wsUrl() {
  try {
    const r = await fetch('/.well-known/host-meta.json', { credentials: 'omit' });
    const j = await r.json();
    const l = (j.links || []).find((k) => k.rel === 'urn:xmpp:alt-connections:websocket');
    if (!l) return null;
    // this page's own origin: the session cookie goes there only
    return `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/xmpp-websocket`;
  } catch (e) {
    return null;
  }
}

const httpUrl = (u) => /^https?:\/\/[^\s]+$/i.test(u || '');
const ownImage = (u) => {
  try {
    const p = new URL(u, location.href);
    return p.origin === location.origin && p.pathname.startsWith('/chat/upload/') &&
      /\.(png|jpe?g|gif|webp)$/i.test(p.pathname);
  } catch (e) {
    return false;
  }
};

// fileName - the last part of a URL as text (a malformed %-escape stays
// as it is: decodeURIComponent would throw in the middle of a render)
function fileName(u) {
  const last = u.split(/[?#]/)[0].split('/').pop() || u;
  try {
    return decodeURIComponent(last);
  } catch (e) {
    return last;
  }
}

function timeText(d) {
  return Number.isNaN(d.getTime()) ? '' :
    d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}

function nameOf(chat, jid) {
  const r = chat.roster.get(jid);
  return (r && r.name) || jid.split('@')[0];
}

// the domain of the user's chat address: the first identity's
async function chatDomain(jmap, session) {
  try {
    const r = await jmap.call('Identity/get', {});
    const e = r.list && r.list.find((i) => i.email && i.email.includes('@'));
    if (e) return e.email.split('@')[1].toLowerCase();
  } catch (err) { /* the login name's then */ }
  const u = session.username || '';
  return u.includes('@') ? u.split('@')[1].toLowerCase() : location.hostname;
}

function Message({ m, chat }) {
  const who = m.room ? m.nick : (m.mine ? 'You' : nameOf(chat, m.with));
  return html`<li class=${`chat-msg${m.mine ? ' mine' : ''}`}>
    <span class="chat-meta"><b class="chat-who">${who}</b> <time>${timeText(m.at)}</time></span>
    ${m.url && httpUrl(m.url) ? html`<span class="chat-file">
        ${ownImage(m.url) ? html`<img src=${m.url} alt="" loading="lazy" />` : null}
        <a href=${m.url} target="_blank" rel="noopener noreferrer nofollow">${fileName(m.url)}</a>
      </span>`
      : html`<span class="chat-body">${m.body}</span>`}
  </li>`;
}

function Conversation({ chat, target, log, onSend, onClose, onUpload, busy }) {
  const [text, setText] = useState('');
  const end = useRef(null);
  const fileRef = useRef(null);
  useEffect(() => { if (end.current) end.current.scrollIntoView({ block: 'end' }); }, [log.length, target]);
  const room = chat.rooms.get(target);
  const submit = (e) => {
    e.preventDefault();
    const t = text.trim();
    if (!t) return;
    onSend(t);
    setText('');
  };
  const title = room ? target.split('@')[0] : nameOf(chat, target);
  return html`<div class="chat-conv">
    <div class="chat-conv-head">
      <button class="link chat-back" onClick=${onClose} aria-label="Back to the list">‹</button>
      <b>${title}</b>
      ${room ? html`<span class="muted">${room.occupants.size} in the room${room.subject ? ` · ${room.subject}` : ''}</span>`
        : html`<span class="muted">${chat.online.has(target) ? 'online' : 'offline'}</span>`}
    </div>
    <ul id="chat-log" aria-live="polite">
      ${log.map((m) => html`<${Message} key=${m.id + m.at} m=${m} chat=${chat} />`)}
      <li ref=${end} class="chat-end"></li>
    </ul>
    <form class="chat-form" onSubmit=${submit}>
      <label class="sr-only" for="chat-input">Message</label>
      <input id="chat-input" autocomplete="off" maxlength="10000" value=${text}
        onInput=${(e) => setText(e.target.value)} placeholder="Message" />
      <input id="chat-file" type="file" class="sr-only" ref=${fileRef}
        onChange=${(e) => { const f = e.target.files[0]; e.target.value = ''; if (f) onUpload(f); }} />
      <button type="button" class="chat-attach" disabled=${busy || !chat.services.upload}
        title="Send a file" onClick=${() => fileRef.current.click()}>File</button>
      <button class="primary" type="submit">Send</button>
    </form>
  </div>`;
}

export function ChatDock({ jmap, session }) {
  const chatRef = useRef(null);
  const [, redraw] = useReducer((n) => n + 1, 0);
  const [open, setOpen] = useState(false);
  const [target, setTarget] = useState(null);
  const [roomName, setRoomName] = useState('');
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const logs = useRef(new Map());          // jid -> [msg]
  const unread = useRef(new Map());        // jid -> count
  const fetched = useRef(new Set());       // jids whose history was asked
  const openRef = useRef(false);
  const targetRef = useRef(null);
  openRef.current = open;
  targetRef.current = target;

  useEffect(() => {
    if (!document.getElementById('chat-css')) {
      const l = document.createElement('link');
      l.id = 'chat-css';
      l.rel = 'stylesheet';
      l.href = new URL('chat.css', import.meta.url).href;
      document.head.appendChild(l);
    }
    let chat = null;
    let live = true;
    Promise.all([chatDomain(jmap, session), wsUrl()]).then(([domain, url]) => {
      if (!live || !url) return;     // no chat service: no chat button
      chat = new Chat(domain, url);
      chatRef.current = chat;
      for (const ev of ['status', 'roster', 'presence', 'room']) chat.on(ev, redraw);
      chat.on('error', (t) => { setError(t); redraw(); });
      chat.on('message', (m) => {
        const log = logs.current.get(m.with) || [];
        if (!log.some((o) => o.id === m.id && o.body === m.body && m.history)) log.push(m);
        if (log.length > LOG_MAX) log.splice(0, log.length - LOG_MAX);
        logs.current.set(m.with, log);
        const seen = openRef.current && targetRef.current === m.with && !document.hidden;
        if (!m.mine && !m.history && !seen) {
          unread.current.set(m.with, (unread.current.get(m.with) || 0) + 1);
          if (document.hidden && 'Notification' in window && Notification.permission === 'granted') {
            try {
              // the text is the notification's, shown as text by the system
              new Notification(m.room ? `${m.nick} in ${m.with.split('@')[0]}` : nameOf(chat, m.with),
                { body: m.url ? 'sent a file' : m.body.slice(0, 200), tag: m.with });
            } catch (e) { /* not in this browser */ }
          }
        }
        redraw();
      });
      chat.connect();
    });
    return () => { live = false; if (chat) chat.close(); };
  }, []);

  const total = [...unread.current.values()].reduce((a, b) => a + b, 0);
  useEffect(() => {
    const base = document.title.replace(/^\(\d+\) /, '');
    document.title = total ? `(${total}) ${base}` : base;
  }, [total]);

  const chat = chatRef.current;
  // a one-to-one conversation's last messages from the archive, once
  // per page (what came live meanwhile stays; the same message once)
  const loadHistory = (jid) => {
    if (!chat || chat.rooms.has(jid) || fetched.current.has(jid)) return;
    fetched.current.add(jid);
    chat.history(jid).then((old) => {
      const log = logs.current.get(jid) || [];
      // the same id and text, or (a stanza without an id) the same
      // sender and text within seconds
      const same = (a, b) => a.body === b.body && (a.id === b.id ||
        (bare(a.from) === bare(b.from) && Math.abs(a.at - b.at) < 10000));
      const add = old.filter((m) => !log.some((o) => same(o, m)));
      if (!add.length) return;
      logs.current.set(jid, [...add, ...log].slice(-LOG_MAX));
      redraw();
    }).catch(() => { fetched.current.delete(jid); });
  };
  const pick = (jid) => {
    setTarget(jid);
    unread.current.delete(jid);
    loadHistory(jid);
    redraw();
  };
  const toggle = () => {
    setOpen(!open);
    if (!open && target) unread.current.delete(target);
    if (!open && 'Notification' in window && Notification.permission === 'default') {
      Notification.requestPermission().catch(() => {});
    }
  };
  const send = (t) => {
    const m = chat.sendMessage(target, t);
    if (!m.room) {
      const log = logs.current.get(target) || [];
      log.push(m);
      logs.current.set(target, log);
    }
    redraw();
  };
  const upload = async (f) => {
    setBusy(true);
    setError('');
    try {
      const url = await chat.upload(f);
      const m = chat.sendMessage(target, url, url);
      if (!m.room) {
        const log = logs.current.get(target) || [];
        log.push(m);
        logs.current.set(target, log);
      }
    } catch (e) {
      setError(`${f.name}: ${e.message}`);
    }
    setBusy(false);
    redraw();
  };
  const join = (e) => {
    e.preventDefault();
    const jid = chat.roomJid(roomName);
    if (!jid || !/^[a-z0-9._-]+@[a-z0-9.-]+$/.test(jid)) {
      setError('A room name is letters, digits, dots, dashes and underscores.');
      return;
    }
    chat.joinRoom(jid);
    setRoomName('');
    pick(jid);
  };

  // not started yet, or no chat service here: no button
  if (!chatRef.current) return null;
  const badge = total > 0 ? html`<span class="badge" aria-label=${`${total} new`}>${total > 99 ? '99+' : total}</span>` : null;
  const button = html`<button id="chat-toggle" class=${open ? 'active' : ''} aria-expanded=${open}
    aria-controls="chat" onClick=${toggle}>Chat${badge}</button>`;
  if (!open) return button;

  const me = bare(chat.jid);
  const people = [...chat.roster.values()].filter((r) => r.jid !== me)
    .sort((a, b) => (chat.online.has(b.jid) - chat.online.has(a.jid)) ||
      nameOf(chat, a.jid).localeCompare(nameOf(chat, b.jid)));
  const count = (jid) => unread.current.get(jid) || 0;
  const statusText = chat.state === 'online' ? `Online as ${me}` :
    chat.state === 'connecting' ? 'Connecting…' : 'Offline';
  return html`${button}<aside id="chat" class=${target ? 'chat-in-conv' : ''} aria-label="Chat">
    <div class="chat-head">
      <b>Chat</b> <span id="chat-status" class=${`muted ${chat.state}`}>${statusText}</span>
      <button class="link chat-close" onClick=${() => setOpen(false)} aria-label="Close the chat">✕</button>
    </div>
    ${error && html`<p class="notice error" role="alert">${error}
      <button class="link" onClick=${() => setError('')} aria-label="Dismiss">✕</button></p>`}
    <div class="chat-body-wrap">
      <nav class="chat-list" aria-label="People and rooms">
        <h3>People</h3>
        <ul>
          ${people.map((p) => html`<li key=${p.jid}>
            <button class=${`chat-contact${chat.online.has(p.jid) ? ' online' : ''}${target === p.jid ? ' current' : ''}`}
              data-jid=${p.jid} onClick=${() => pick(p.jid)}>
              <span class="dot" aria-hidden="true"></span>
              <span class="chat-name">${nameOf(chat, p.jid)}</span>
              <span class="sr-only">${chat.online.has(p.jid) ? ' (online)' : ' (offline)'}</span>
              ${count(p.jid) ? html`<span class="badge">${count(p.jid)}</span>` : null}
            </button></li>`)}
          ${people.length === 0 ? html`<li class="muted">Nobody else yet.</li>` : null}
        </ul>
        <h3>Rooms</h3>
        <ul>
          ${[...chat.rooms.values()].map((r) => html`<li key=${r.jid}>
            <button class=${`chat-room${target === r.jid ? ' current' : ''}`} data-jid=${r.jid}
              onClick=${() => pick(r.jid)}>
              <span class="chat-name"># ${r.jid.split('@')[0]}</span>
              ${count(r.jid) ? html`<span class="badge">${count(r.jid)}</span>` : null}
            </button></li>`)}
        </ul>
        <form class="chat-join" onSubmit=${join}>
          <label class="sr-only" for="chat-room-name">Room name</label>
          <input id="chat-room-name" placeholder="Join or create a room" value=${roomName}
            maxlength="64" onInput=${(e) => setRoomName(e.target.value)} />
          <button type="submit" disabled=${!chat.services.conference}>Join</button>
        </form>
      </nav>
      ${target ? html`<${Conversation} key=${target} chat=${chat} target=${target}
          log=${logs.current.get(target) || []} onSend=${send} onUpload=${upload} busy=${busy}
          onClose=${() => setTarget(null)} />`
        : html`<p class="chat-empty muted">Pick someone or a room.</p>`}
    </div>
  </aside>`;
}

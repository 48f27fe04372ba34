// app.js - Postern webmail: a single-page application on the JMAP mail
// API (jmap.js), Preact + htm as plain ES modules from /common/vendor/.
// Every text from a message or typed by a user is rendered by Preact as
// text; a message's HTML is sanitised and shown only in the sandboxed
// reader frame (reader.js).
//
// Routes (location.hash): #/mailbox/<id>[/<emailId>], #/settings (the
// settings pages, settings.js, loaded on demand). Stable hooks for tests
// and the settings pages: #folders (nav), #messages (the list), #reader,
// .folder[data-role], .msg[data-id], header .who, button.logout.
//
// Desktop: folders | list | reader side by side; below 700px one pane at
// a time (the shell's class says which: pane-folders, pane-list,
// pane-reader).
import { render } from '../common/vendor/preact.js';
import { useState, useEffect, useCallback, useRef } from '../common/vendor/hooks.js';
import { html } from '../common/html.js';
import { secondFactor, CodeStep, RecoveryCodes, passkeyAssert, passkeyLogin,
  passkeysAvailable } from '../admin/twofactor.js';
import * as J from './jmap.js';
import { Reader } from './reader.js';
import { Compose } from './compose.js';
import { loginLogo, brandingFor } from '../common/branding.js';
import { addrText, dateText, sizeText, Notice } from './util.js';
import { KeyHelp } from './keys.js';

const PAGE = 50;
const LIST_PROPS = ['threadId', 'mailboxIds', 'keywords', 'from', 'to',
  'subject', 'receivedAt', 'size', 'preview', 'hasAttachment'];
const ROLE_ORDER = ['inbox', 'drafts', 'sent', 'archive', 'junk', 'trash'];
const SORTS = {
  date: 'receivedAt', from: 'from', subject: 'subject', size: 'size',
};

function useHash() {
  const [hash, setHash] = useState(location.hash || '#/');
  useEffect(() => {
    const f = () => setHash(location.hash || '#/');
    addEventListener('hashchange', f);
    return () => removeEventListener('hashchange', f);
  }, []);
  return hash;
}

// ---- login ------------------------------------------------------------------

function Login({ onLogin }) {
  const [user, setUser] = useState('');
  const [pw, setPw] = useState('');
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const [remember, setRemember] = useState(false);   // a known device
  const [challenge, setChallenge] = useState(null);
  const [code, setCode] = useState('');
  const [recovery, setRecovery] = useState(null);
  const [oidc, setOidc] = useState(null);
  const [logo, setLogo] = useState('');    // the post office's (branding.js)
  useEffect(() => {
    let live = true;
    const t = setTimeout(() => loginLogo(user).then((u) => { if (live) setLogo(u); }), 300);
    return () => { live = false; clearTimeout(t); };
  }, [user]);
  // "Sign in with <provider>" when the name's post office offers it
  useEffect(() => {
    const u = user.trim();
    if (!/@[^@\s]+$/.test(u)) { setOidc(null); return undefined; }
    let live = true;
    const t = setTimeout(() => {
      J.oidcOffer(u).then((o) => { if (live) setOidc(o); }).catch(() => {});
    }, 300);
    return () => { live = false; clearTimeout(t); };
  }, [user]);
  const submit = async (e) => {
    e.preventDefault();
    setBusy(true);
    setError('');
    try {
      const r = await J.login(user.trim(), pw, challenge ? code.trim() : '', null,
        challenge && remember);
      setPw('');
      if (r && r.recoveryCodes) setRecovery(r.recoveryCodes);
      else onLogin();
    } catch (err) {
      const c = secondFactor(err);
      if (c) setChallenge(c);
      setCode('');
      if (!c || c.kind === 'secondFactorFailed' || challenge) setError(err.message);
    }
    setBusy(false);
  };
  // a passkey: passwordless, or the second factor of the challenge
  const withPasskey = async () => {
    setBusy(true);
    setError('');
    try {
      if (challenge && challenge.passkey) {
        await J.login(user.trim(), pw, '', await passkeyAssert(challenge.passkey), remember);
        setPw('');
      } else {
        await passkeyLogin('/jmap/mail');
      }
      onLogin();
    } catch (err) {
      const c = secondFactor(err);
      if (c) setChallenge(c);
      // the browser's own refusal (cancelled, no key for this site)
      setError(err && err.name === 'NotAllowedError' ?
        'No passkey was used (cancelled, or none is kept for this site).' : err.message);
    }
    setBusy(false);
  };
  if (recovery) return html`<${RecoveryCodes} html=${html} codes=${recovery} onDone=${onLogin} />`;
  return html`<main class="login" id="login">
    ${logo && html`<img class="login-logo" src=${logo} alt="" data-test="login-logo" />`}
    <h1>Postern mail</h1>
    <form onSubmit=${submit}>
      <label>Login <input name="login" autocomplete="username" placeholder="you@example.org"
        value=${user} onInput=${(e) => setUser(e.target.value)} required autofocus readonly=${!!challenge} /></label>
      <label>Password <input name="password" type="password" autocomplete="current-password"
        value=${pw} onInput=${(e) => setPw(e.target.value)} required=${!challenge} readonly=${!!challenge} /></label>
      ${challenge && html`<${CodeStep} html=${html} challenge=${challenge} code=${code} setCode=${setCode}
        onPasskey=${withPasskey} remember=${remember} setRemember=${setRemember} />`}
      <${Notice} error=${error} />
      <button type="submit" disabled=${busy}>Log in</button>
    </form>
    ${challenge && html`<p class="again"><button type="button" class="link" data-test="start-over"
      onClick=${() => { setChallenge(null); setCode(''); setPw(''); setError(''); }}>Start over</button></p>`}
    ${!challenge && passkeysAvailable() && html`<p class="passkey"><button type="button" class="link"
      data-test="passkey-login" disabled=${busy} onClick=${withPasskey}>Log in with a passkey</button></p>`}
    ${oidc && !challenge && html`<p class="oidc"><a class="button oidc-start" href=${oidc.start}>
      Sign in with ${oidc.provider}</a></p>`}
  </main>`;
}

// ---- folders ----------------------------------------------------------------

function folderOrder(list) {
  const rank = (m) => {
    const i = ROLE_ORDER.indexOf(m.role);
    return i < 0 ? ROLE_ORDER.length : i;
  };
  // parents before children, depth kept for indentation
  const byParent = new Map();
  for (const m of list) {
    const k = m.parentId || '';
    if (!byParent.has(k)) byParent.set(k, []);
    byParent.get(k).push(m);
  }
  const out = [];
  const walk = (pid, depth) => {
    const kids = (byParent.get(pid) || []).slice().sort((a, b) =>
      rank(a) - rank(b) || (a.sortOrder || 0) - (b.sortOrder || 0) ||
      a.name.localeCompare(b.name));
    for (const m of kids) {
      out.push(Object.assign({ depth }, m));
      if (depth < 20) walk(m.id, depth + 1);
    }
  };
  walk('', 0);
  return out;
}

function Folders({ folders, current, onDrop, onPick }) {
  const [over, setOver] = useState(null);
  return html`<nav id="folders" aria-label="Folders">
    <ul>${folders.map((m) => html`<li key=${m.id}>
      <a href=${`#/mailbox/${m.id}`} class=${`folder${m.id === current ? ' current' : ''}${over === m.id ? ' drop' : ''}`}
        data-role=${m.role || ''} data-id=${m.id} data-depth=${Math.min(m.depth, 6)}
        aria-current=${m.id === current ? 'page' : null}
        onClick=${onPick}
        onDragOver=${(e) => { e.preventDefault(); e.dataTransfer.dropEffect = 'move'; setOver(m.id); }}
        onDragLeave=${() => setOver(null)}
        onDrop=${(e) => {
          e.preventDefault();
          setOver(null);
          const ids = (e.dataTransfer.getData('application/x-postern-emails') || '').split(',').filter(Boolean);
          if (ids.length) onDrop(ids, m.id);
        }}>
        <span class="name">${m.name}</span>
        ${m.unreadEmails > 0 && html`<span class="count" aria-label=${`${m.unreadEmails} unread`}>${m.unreadEmails}</span>`}
      </a></li>`)}</ul>
  </nav>`;
}

// ---- message list ---------------------------------------------------------------

function MessageList({ rows, total, position, selected, sort, setSort, threads,
  setThreads, setPosition, onOpen, onSelect, loading, search, folderName, sentLike }) {
  const from = position + 1;
  const to = position + rows.length;
  return html`<section id="messages" aria-label=${`Messages in ${folderName}`}>
    <div class="list-tools">
      <label class="sort">Sort <select name="sort" value=${sort} onChange=${(e) => setSort(e.target.value)}>
        <option value="date">Date</option><option value="from">From</option>
        <option value="subject">Subject</option><option value="size">Size</option>
      </select></label>
      <label class="threads"><input type="checkbox" name="threads" checked=${threads}
        onChange=${(e) => setThreads(e.target.checked)} /> Conversations</label>
      <span class="pager"><span class="range" aria-live="polite">${total === 0 ? (loading ? 'Loading…' : search ? 'Nothing found' : 'No messages')
        : `${from}–${to} of ${total}`}</span>
      <button class="prev" disabled=${position === 0} aria-label="Newer messages"
        onClick=${() => setPosition(Math.max(0, position - PAGE))}>‹</button>
      <button class="next" disabled=${to >= total} aria-label="Older messages"
        onClick=${() => setPosition(position + PAGE)}>›</button></span>
    </div>
    <ul class="msgs" role="listbox" aria-label="Messages">
      ${rows.map((m) => {
        const unread = !(m.keywords && m.keywords.$seen);
        const flagged = m.keywords && m.keywords.$flagged;
        const who = sentLike ? `To: ${addrText(m.to)}` : addrText(m.from);
        return html`<li key=${m.id} role="option" aria-selected=${m.id === selected}
          class=${`msg${unread ? ' unread' : ''}${m.id === selected ? ' selected' : ''}`}
          data-id=${m.id} draggable="true" tabindex=${m.id === selected ? 0 : -1}
          onDragStart=${(e) => {
            e.dataTransfer.setData('application/x-postern-emails', m.id);
            e.dataTransfer.effectAllowed = 'move';
          }}
          onClick=${() => onOpen(m.id)}
          onFocus=${() => onSelect(m.id)}
          onKeyDown=${(e) => { if (e.key === 'Enter') { e.preventDefault(); onOpen(m.id); } }}>
          <span class="who">${who || '(nobody)'}</span>
          <span class="when">${dateText(m.receivedAt)}</span>
          <span class="subject">${flagged && html`<span class="flag" aria-label="flagged">★ </span>`}${m.hasAttachment && html`<span class="clip" aria-label="has attachments">file</span> `}${m.subject || '(no subject)'}${m.threadCount > 1 && html` <span class="tcount" aria-label=${`${m.threadCount} messages`}>${m.threadCount}</span>`}</span>
          <span class="preview">${m.preview}</span>
        </li>`;
      })}
    </ul>
  </section>`;
}

// ---- the settings pages (settings.js, another module; optional) -----------------

function SettingsPage({ jmap, session }) {
  const [mod, setMod] = useState(null);
  const [failed, setFailed] = useState(false);
  useEffect(() => {
    import('./settings.js').then((m) => setMod(() => m.Settings))
      .catch(() => setFailed(true));
  }, []);
  if (failed) return html`<section id="settings"><p class="notice" role="status">Settings are not available.</p></section>`;
  if (!mod) return html`<section id="settings"><p>Loading…</p></section>`;
  return html`<section id="settings"><${mod} jmap=${jmap} session=${session} /></section>`;
}

// the chat pane (chat.js), loaded after login; mail works without it
function ChatHost({ jmap, session }) {
  const [mod, setMod] = useState(null);
  useEffect(() => {
    import('./chat.js').then((m) => setMod(() => m.ChatDock)).catch(() => {});
  }, []);
  return mod ? html`<${mod} jmap=${jmap} session=${session} />` : null;
}

// ---- the application ---------------------------------------------------------------

function Mail({ session, onLogout }) {
  const jmap = useRef(null);
  if (!jmap.current) jmap.current = new J.Jmap(session);
  const api = jmap.current;
  const hash = useHash();
  const [mailboxes, setMailboxes] = useState([]);
  const [rows, setRows] = useState([]);
  const [banner, setBanner] = useState('');   // the post office's (branding.js)
  useEffect(() => { brandingFor(session.username).then((v) => setBanner(v.banner || '')); }, []);
  const [total, setTotal] = useState(0);
  const [position, setPosition] = useState(0);
  const [sort, setSort] = useState('date');
  const [threads, setThreads] = useState(true);
  const [search, setSearch] = useState('');
  const [query, setQuery] = useState('');
  const [selected, setSelected] = useState(null);
  const [error, setError] = useState('');
  const [ok, setOk] = useState('');
  const [loading, setLoading] = useState(false);
  const [compose, setCompose] = useState(null);
  const [pane, setPane] = useState('list');
  const [tick, setTick] = useState(0);       // bumped by push
  const [keysHelp, setKeysHelp] = useState(false);
  const searchRef = useRef(null);
  const emailState = useRef(null);

  const parts = hash.replace(/^#\/?/, '').split('/');
  const settings = parts[0] === 'settings';
  const byRole = (r) => mailboxes.find((m) => m.role === r);
  const inbox = byRole('inbox');
  const current = parts[0] === 'mailbox' && parts[1] ? parts[1] : inbox && inbox.id;
  const openId = parts[0] === 'mailbox' && parts[2] ? parts[2] : null;
  const folder = mailboxes.find((m) => m.id === current);

  const loadMailboxes = useCallback(async () => {
    const r = await api.call('Mailbox/get', {
      properties: ['name', 'parentId', 'role', 'sortOrder', 'totalEmails', 'unreadEmails'],
    });
    setMailboxes(folderOrder(r.list));
    return r.list;
  }, []);

  const listSeq = useRef(0);
  const loadList = useCallback(async () => {
    if (!current) return;
    // only the latest request's answer is shown (a sort or page change
    // while an older one is on its way)
    const seq = ++listSeq.current;
    setLoading(true);
    const filter = { inMailbox: current };
    if (query) filter.text = query;
    try {
      const [q, g, t] = await api.batch([
        ['Email/query', {
          filter, sort: [{ property: SORTS[sort], isAscending: sort !== 'date' && sort !== 'size' }],
          collapseThreads: threads, position, limit: PAGE, calculateTotal: true,
        }],
        ['Email/get', { '#ids': { resultOf: 'c0', name: 'Email/query', path: '/ids' }, properties: LIST_PROPS }],
        ['Thread/get', { '#ids': { resultOf: 'c1', name: 'Email/get', path: '/list/*/threadId' } }],
      ]);
      if (seq !== listSeq.current) return;
      const counts = new Map(t.list.map((x) => [x.id, x.emailIds.length]));
      const byId = new Map(g.list.map((m) => [m.id, m]));
      setRows(q.ids.map((id) => byId.get(id)).filter(Boolean)
        .map((m) => Object.assign(m, { threadCount: threads ? counts.get(m.threadId) || 1 : 1 })));
      setTotal(q.total || 0);
      emailState.current = g.state;
      setError('');
    } catch (e) {
      if (seq === listSeq.current) setError(e.message);
    }
    if (seq === listSeq.current) setLoading(false);
  }, [current, sort, threads, position, query]);

  useEffect(() => {
    api.onAuthLost = onLogout;
    loadMailboxes().catch((e) => setError(e.message));
  }, []);
  useEffect(() => { loadList(); }, [loadList, tick]);
  useEffect(() => { setPosition(0); setSelected(null); }, [current, query, sort, threads]);
  useEffect(() => { if (openId) { setSelected(openId); setPane('reader'); } }, [openId]);

  // new mail without reload: the push stream, polling when it ends
  useEffect(() => {
    const changed = () => {
      setTick((x) => x + 1);
      loadMailboxes().catch(() => {});
    };
    const poll = async () => {
      if (!emailState.current) return true;
      try {
        const r = await api.call('Email/changes', { sinceState: emailState.current, maxChanges: 1 });
        return r.created.length + r.updated.length + r.destroyed.length > 0 || r.hasMoreChanges;
      } catch (e) {
        return true;   // cannotCalculateChanges: reload
      }
    };
    return api.events(changed, poll);
  }, []);

  const refresh = () => {
    setTick((x) => x + 1);
    loadMailboxes().catch(() => {});
  };

  // actions on messages (ids of emails)
  const move = async (ids, to, extra) => {
    if (!ids.length || !to) return;
    const update = {};
    for (const id of ids) {
      update[id] = Object.assign({ mailboxIds: { [to]: true } }, extra || {});
    }
    try {
      const r = await api.call('Email/set', { update });
      const bad = r.notUpdated && Object.values(r.notUpdated)[0];
      if (bad) throw new Error(bad.description || bad.type);
      const dest = mailboxes.find((m) => m.id === to);
      setOk(`Moved to ${dest ? dest.name : 'the folder'}.`);
      if (ids.includes(openId)) location.hash = `#/mailbox/${current}`;
      refresh();
    } catch (e) {
      setError(e.message);
    }
  };
  const setKeyword = async (id, kw, on) => {
    try {
      await api.call('Email/set', { update: { [id]: { [`keywords/${kw}`]: on ? true : null } } });
      refresh();
    } catch (e) {
      setError(e.message);
    }
  };
  const remove = async (ids) => {
    const trash = byRole('trash');
    if (trash && current !== trash.id) return move(ids, trash.id);
    try {
      await api.call('Email/set', { destroy: ids });
      setOk('Deleted.');
      if (ids.includes(openId)) location.hash = `#/mailbox/${current}`;
      refresh();
    } catch (e) {
      setError(e.message);
    }
    return null;
  };
  const junk = (ids) => {
    const j = byRole('junk');
    if (!j) {
      setError('There is no Junk folder.');
      return;
    }
    move(ids, j.id, { 'keywords/$junk': true, 'keywords/$notjunk': null });
  };

  const open = (id) => {
    setSelected(id);
    location.hash = `#/mailbox/${current}/${id}`;
  };
  const closeReader = () => {
    setPane('list');
    location.hash = `#/mailbox/${current}`;
    // the focus back on the message's row (shown again on a phone)
    setTimeout(() => {
      // unless the user went on meanwhile (a quick '/' to the search field)
      const a = document.activeElement;
      if (a && a !== document.body && !a.closest('#reader')) return;
      const row = document.querySelector('#messages .msg.selected');
      if (row && row.offsetParent !== null) row.focus();
    }, 0);
  };

  // keyboard shortcuts (not while typing in a field). The listener is
  // added once and reads this render's state from a ref: an effect that
  // re-subscribed on every change ran after the paint, so a key pressed
  // between a render and its effect saw the state before it (Enter on a
  // row just picked with j opened the row picked before it).
  const keyState = useRef(null);
  keyState.current = {
    rows, selected, openId, compose, settings, keysHelp, open, closeReader,
    remove, setKeyword,
  };
  useEffect(() => {
    const onKey = (e) => {
      const t = e.target;
      if (e.ctrlKey || e.metaKey || e.altKey || e.defaultPrevented) return;
      const {
        rows, selected, openId, compose, settings, keysHelp, open, closeReader,
        remove, setKeyword,
      } = keyState.current;
      if (t && (t.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName))) {
        if (e.key === 'Escape' && t.blur) t.blur();
        return;
      }
      if (compose || settings || keysHelp) return;
      const i = rows.findIndex((m) => m.id === selected);
      const focusRow = (id) => {
        setSelected(id);
        keyState.current.selected = id;   // a second j before the render
        const el = document.querySelector(`.msg[data-id="${CSS.escape(id)}"]`);
        if (el) el.focus();
      };
      const sel = selected && rows.find((m) => m.id === selected);
      switch (e.key) {
        case 'j': if (rows.length) focusRow(rows[Math.min(rows.length - 1, i + 1)].id); break;
        case 'k': if (rows.length) focusRow(rows[Math.max(0, i - 1)].id); break;
        case 'Enter': if (sel && !openId) open(sel.id); else return; break;
        case 'Escape': if (openId) closeReader(); else return; break;
        case 'Delete': case '#': if (sel) remove([sel.id]); break;
        case '/': if (searchRef.current) searchRef.current.focus(); break;
        case 'c': setCompose({ mode: 'new' }); break;
        case 'r': if (sel) setCompose({ mode: 'reply', id: sel.id }); break;
        case 'a': if (sel) setCompose({ mode: 'replyAll', id: sel.id }); break;
        case 'f': if (sel) setCompose({ mode: 'forward', id: sel.id }); break;
        case 's': if (sel) setKeyword(sel.id, '$flagged', !(sel.keywords && sel.keywords.$flagged)); break;
        case 'u': if (sel) setKeyword(sel.id, '$seen', !(sel.keywords && sel.keywords.$seen)); break;
        case '?': setKeysHelp(true); break;
        default: return;
      }
      e.preventDefault();
    };
    addEventListener('keydown', onKey);
    return () => removeEventListener('keydown', onKey);
  }, []);

  const doLogout = async () => {
    try { await J.logout(); } catch (e) { /* the cookie goes anyway */ }
    onLogout();
  };
  const paneClass = settings ? 'pane-settings' : compose ? 'pane-compose' :
    pane === 'folders' ? 'pane-folders' : openId ? 'pane-reader' : 'pane-list';
  const sentLike = folder && (folder.role === 'sent' || folder.role === 'drafts');

  return html`<div class=${`shell ${paneClass}`}>
    <header>
      <button class="menu" aria-label="Folders" aria-expanded=${pane === 'folders'}
        onClick=${() => setPane(pane === 'folders' ? 'list' : 'folders')}>☰</button>
      <h1><a href="#/">${banner ? html`<img class="banner-logo" src=${banner} alt="Mail" data-test="banner-logo" />`
        : 'Mail'}</a></h1>
      <form class="search" role="search" onSubmit=${(e) => { e.preventDefault(); setQuery(search.trim()); }}>
        <label class="sr-only" for="q">Search messages</label>
        <input id="q" name="q" type="search" placeholder="Search" ref=${searchRef}
          value=${search} onInput=${(e) => { setSearch(e.target.value); if (!e.target.value) setQuery(''); }} />
      </form>
      <button class="compose primary" onClick=${() => setCompose({ mode: 'new' })}>Compose</button>
      <button class="keys-link link" onClick=${() => setKeysHelp(true)}
        aria-label="Keyboard shortcuts" title="Keyboard shortcuts (?)">Keys</button>
      <a class="settings-link" href="#/settings" aria-label="Settings">⚙</a>
      <span class="who">${session.username}</span>
      <button class="logout link" onClick=${doLogout}>Log out</button>
    </header>
    <${Notice} error=${error} ok=${ok} onClose=${() => { setError(''); setOk(''); }} />
    <div class="panes">
      <${Folders} folders=${mailboxes} current=${settings ? null : current}
        onDrop=${(ids, to) => move(ids, to)} onPick=${() => setPane('list')} />
      ${settings ? html`<${SettingsPage} jmap=${api} session=${session} />` : html`
      <${MessageList} rows=${rows} total=${total} position=${position} selected=${selected}
        sort=${sort} setSort=${setSort} threads=${threads} setThreads=${setThreads}
        setPosition=${setPosition} onOpen=${open} onSelect=${setSelected} loading=${loading}
        search=${query} folderName=${folder ? folder.name : ''} sentLike=${sentLike} />
      <section id="reader" aria-label="Message">
        ${openId ? html`<${Reader} key=${openId} jmap=${api} id=${openId} threads=${threads}
          mailboxes=${mailboxes} current=${current}
          onClose=${closeReader}
          onReply=${(id, mode) => setCompose({ mode, id })}
          onMove=${(ids, to) => move(ids, to)} onDelete=${remove} onJunk=${junk}
          onKeyword=${setKeyword} onError=${setError} onSeen=${refresh} />`
          : html`<p class="empty">Select a message to read it.</p>`}
      </section>`}
    </div>
    ${keysHelp && html`<${KeyHelp} onClose=${() => setKeysHelp(false)} />`}
    ${compose && html`<${Compose} jmap=${api} session=${session} spec=${compose}
      mailboxes=${mailboxes}
      onClose=${(msg) => { setCompose(null); if (msg) setOk(msg); refresh(); }} />`}
    <${ChatHost} jmap=${api} session=${session} />
  </div>`;
}

function App() {
  const [session, setSession] = useState(undefined);
  const [error, setError] = useState('');
  const check = useCallback(() => {
    J.getSession().then(setSession).catch((e) => { setError(e.message); setSession(null); });
  }, []);
  useEffect(check, []);
  if (session === undefined) return html`<p class="loading">Loading…</p>`;
  if (!session) {
    return html`<div>${error && html`<${Notice} error=${error} />`}<${Login} onLogin=${check} /></div>`;
  }
  return html`<${Mail} session=${session} onLogout=${() => setSession(null)} />`;
}

render(html`<${App} />`, document.getElementById('app'));

// mailbox.js - a mailbox's details in the web admin (manual 5.5): its
// addresses, redirection, auto responder, Sieve filters (filters.js) and
// POP retrieval accounts, each
// change one Mailbox/set update checked by the server as the CLI's.
import { useState, useEffect, useCallback } from './vendor/hooks.js';
import * as api from './api.js';
import { html, Notice, when, lines } from './ui.js';
import { MailboxSecurity } from './twofactor.js';
import { Filters } from './filters.js';

const PROPS = ['addresses', 'redirects', 'popRetrieval', 'redirect_enabled', 'redirect_keep_copy',
  'autoresponder_enabled', 'autoresponder_subject', 'autoresponder_body'];

export function MailboxDetail({ id, onClose }) {
  const [m, setM] = useState(null);
  const [error, setError] = useState('');
  const [ok, setOk] = useState('');
  const [addr, setAddr] = useState('');
  const [redir, setRedir] = useState('');
  const [ar, setAr] = useState(null);
  const [pop, setPop] = useState({ host: '', username: '', password: '', tls: 'starttls' });
  const [msgs, setMsgs] = useState(null);
  const [fwd, setFwd] = useState('');
  const load = useCallback(() => {
    api.call('Mailbox/get', { ids: [id], properties: PROPS }).then((r) => {
      const x = r.list[0];
      setM(x);
      if (x) setAr({ on: x.autoresponder_enabled, subject: x.autoresponder_subject, body: x.autoresponder_body });
    }).catch((e) => setError(e.message));
  }, [id]);
  useEffect(() => { load(); }, [load]);
  const change = async (patch, msg, after) => {
    setError('');
    setOk('');
    try {
      await api.setOne('Mailbox', 'update', id, patch);
      setOk(msg);
      if (after) after();
      load();
    } catch (err) {
      setError(err.message);
    }
  };
  if (!m || !ar) return html`<div class="card"><${Notice} error=${error} /></div>`;
  return html`<div class="card wide" data-test="mb-detail">
    <h3>${id} <button class="link" onClick=${onClose}>close</button></h3>
    <${Notice} error=${error} ok=${ok} />
    <h4>Addresses</h4>
    <ul class="members">${m.addresses.map((a) => html`<li key=${a}>${a}
      <button class="link" onClick=${() => change({ removeAddresses: [a] }, `${a} removed.`)}>remove</button></li>`)}</ul>
    <form class="inline" onSubmit=${(e) => { e.preventDefault(); change({ addAddresses: lines(addr) }, 'Address added.', () => setAddr('')); }}>
      <label>New address <input name="mb-address" value=${addr} onInput=${(e) => setAddr(e.target.value)} required /></label>
      <button type="submit">Add</button>
    </form>
    <h4>Redirection</h4>
    <label class="check"><input type="checkbox" name="redirect-enabled" checked=${m.redirect_enabled}
      onChange=${(e) => change({ redirect_enabled: e.target.checked }, `Redirection ${e.target.checked ? 'on' : 'off'}.`)} /> Redirect mail</label>
    <label class="check"><input type="checkbox" name="redirect-keep" checked=${m.redirect_keep_copy}
      onChange=${(e) => change({ redirect_keep_copy: e.target.checked }, 'Saved.')} /> Keep a copy here</label>
    <ul class="members">${m.redirects.map((a) => html`<li key=${a}>${a}
      <button class="link" onClick=${() => change({ removeRedirects: [a] }, `${a} removed.`)}>remove</button></li>`)}</ul>
    <form class="inline" onSubmit=${(e) => { e.preventDefault(); change({ addRedirects: lines(redir) }, 'Redirect added.', () => setRedir('')); }}>
      <label>Redirect to <input name="mb-redirect" value=${redir} onInput=${(e) => setRedir(e.target.value)} required /></label>
      <button type="submit">Add</button>
    </form>
    <h4>Auto responder</h4>
    <form onSubmit=${(e) => { e.preventDefault(); change({ autoresponder_enabled: ar.on, autoresponder_subject: ar.subject, autoresponder_body: ar.body }, 'Auto responder saved.'); }}>
      <label class="check"><input type="checkbox" name="ar-enabled" checked=${ar.on}
        onChange=${(e) => setAr(Object.assign({}, ar, { on: e.target.checked }))} /> Answer incoming mail</label>
      <label>Subject <input name="ar-subject" value=${ar.subject} onInput=${(e) => setAr(Object.assign({}, ar, { subject: e.target.value }))} /></label>
      <label>Text <textarea name="ar-body" rows="4" value=${ar.body} onInput=${(e) => setAr(Object.assign({}, ar, { body: e.target.value }))} /></label>
      <button type="submit">Save auto responder</button>
    </form>
    <${Filters} mailbox=${id} />
    <h4>Messages</h4>
    ${msgs === null ? html`<button data-test="show-messages" onClick=${() => api.call('MailboxMessage/query', { filter: { mailbox: id } })
      .then(setMsgs).catch((e) => setError(e.message))}>Show the latest 200</button>`
      : html`<p class="muted">${msgs.total} in the inbox${msgs.total > 200 ? ', the latest 200 shown' : ''}</p>
      <table class="list" data-test="messages"><thead><tr><th>From</th><th>Subject</th><th>Date</th><th>Size</th></tr></thead>
        <tbody>${msgs.list.map((x) => html`<tr key=${x.id}><td data-label="From">${x.from}</td>
          <td data-label="Subject">${x.seen ? x.subject : html`<strong>${x.subject}</strong>`}</td>
          <td data-label="Date">${x.date}</td><td data-label="Size">${Math.ceil(x.size / 1024)} KB</td></tr>`)}</tbody></table>`}
    <form class="inline" onSubmit=${(e) => { e.preventDefault(); setError(''); setOk(''); api.call('Mailbox/set', { update: { [id]: { forwardAll: { to: fwd.trim() } } } })
      .then((r) => { const f = (r.notUpdated || {})[id]; if (f) setError(f.description || f.type); else { setOk(`${r.updated[id].forwarded} messages forwarded to ${fwd.trim()}; they stay here too.`); setFwd(''); } })
      .catch((err) => setError(err.message)); }}>
      <label>Forward all mail to <input name="forward-all" value=${fwd} onInput=${(e) => setFwd(e.target.value)} required /></label>
      <button type="submit">Forward all</button>
    </form>
    <h4>POP retrieval</h4>
    <table class="list"><thead><tr><th>Server</th><th>User</th><th>Last run</th><th>Status</th><th></th></tr></thead>
      <tbody>${m.popRetrieval.map((p) => html`<tr key=${p.id}>
        <td data-label="Server">${p.host}:${p.port} (${p.tls})</td><td data-label="User">${p.username}</td>
        <td data-label="Last run">${when(p.lastRun)}</td><td data-label="Status">${p.enabled ? p.lastStatus || 'enabled' : 'disabled'}</td>
        <td class="row-actions"><button onClick=${() => change(p.enabled ? { popDisable: p.id } : { popEnable: p.id }, 'Saved.')}>${p.enabled ? 'Disable' : 'Enable'}</button>
          <button class="danger" onClick=${() => change({ popRemove: p.id }, 'Account removed.')}>Remove</button></td></tr>`)}</tbody></table>
    <form class="inline" onSubmit=${(e) => { e.preventDefault(); change({ popAdd: { host: pop.host.trim(), username: pop.username, password: pop.password, tls: pop.tls } }, 'Account added.', () => setPop({ host: '', username: '', password: '', tls: 'starttls' })); }}>
      <label>Server <input name="pop-host" value=${pop.host} required onInput=${(e) => setPop(Object.assign({}, pop, { host: e.target.value }))} /></label>
      <label>User <input name="pop-user" value=${pop.username} required onInput=${(e) => setPop(Object.assign({}, pop, { username: e.target.value }))} /></label>
      <label>Password <input name="pop-password" type="password" autocomplete="off" value=${pop.password} required
        onInput=${(e) => setPop(Object.assign({}, pop, { password: e.target.value }))} /></label>
      <label>Security <select name="pop-tls" value=${pop.tls} onChange=${(e) => setPop(Object.assign({}, pop, { tls: e.target.value }))}>
        <option>starttls</option><option>tls</option><option>none</option></select></label>
      <button type="submit">Add account</button>
    </form>
    <${MailboxSecurity} html=${html} mailbox=${id} />
  </div>`;
}

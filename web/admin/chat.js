// chat.js - chat (xmppd) in the web admin (issue 18 item 5): a post
// office's persistent rooms (ChatRoom/get|set: make one with its owner,
// destroy one with its archive) and its external contacts (ChatGuest/get|set:
// invite an outside address for a user, who gets a temporary chat login
// by mail; revoke), the sessions bound now (ChatSession/get) and, for a
// SYSADMIN, the archive (ChatArchive/get|prune). xmppd applies changes
// within a second. The archive's retention and the guests' limits are
// global settings (Settings page).
// Everything typed is rendered as text.
import { useState, useEffect, useCallback } from './vendor/hooks.js';
import * as api from './api.js';
import { html, Notice, Confirm, when } from './ui.js';

function Rooms({ me }) {
  const [rooms, setRooms] = useState([]);
  const [form, setForm] = useState({ jid: '', owner: '', name: '', membersOnly: false });
  const [error, setError] = useState('');
  const [ok, setOk] = useState('');
  const [confirm, setConfirm] = useState(null);
  const load = useCallback(async () => {
    try {
      setRooms((await api.call('ChatRoom/get', {})).list);
    } catch (e) {
      setError(e.message);
    }
  }, []);
  useEffect(() => { load(); }, [load]);
  const set = (k) => (e) => setForm(Object.assign({}, form,
    { [k]: e.target.type === 'checkbox' ? e.target.checked : e.target.value }));
  const create = async (e) => {
    e.preventDefault();
    setError('');
    setOk('');
    try {
      await api.setOne('ChatRoom', 'create', 'r', form);
      setOk(`Room ${form.jid} made.`);
      setForm({ jid: '', owner: '', name: '', membersOnly: false });
      load();
    } catch (err) {
      setError(err.message);
    }
  };
  const destroy = async () => {
    const jid = confirm;
    setConfirm(null);
    setError('');
    try {
      const r = await api.call('ChatRoom/set', { destroy: [jid] });
      if (r.notDestroyed[jid]) throw new Error(r.notDestroyed[jid].description);
      setOk(`Room ${jid} destroyed.`);
      load();
    } catch (err) {
      setError(err.message);
    }
  };
  return html`<div data-test="chat-rooms">
    <h3>Rooms</h3>
    <${Notice} error=${error} ok=${ok} />
    ${rooms.length === 0 ? html`<p class="muted">No persistent rooms. Users make temporary rooms by joining them.</p>` :
    html`<table class="list"><thead><tr><th>Room</th><th>Name</th>${!me.postOffice && html`<th>Post office</th>`}
      <th>Owners</th><th>Members only</th><th>Messages</th><th></th></tr></thead>
      <tbody>${rooms.map((r) => html`<tr key=${r.id}>
        <td data-label="Room">${r.id}</td><td data-label="Name">${r.name}</td>
        ${!me.postOffice && html`<td data-label="Post office">${r.postOffice}</td>`}
        <td data-label="Owners">${r.owners.join(', ')}</td>
        <td data-label="Members only">${r.membersOnly ? 'yes' : 'no'}</td>
        <td data-label="Messages">${r.messages}</td>
        <td><button class="danger" onClick=${() => setConfirm(r.id)}>Destroy</button></td></tr>`)}
      </tbody></table>`}
    <form class="card" onSubmit=${create} data-test="room-form">
      <label>Room <input name="room-jid" value=${form.jid} onInput=${set('jid')}
        placeholder="team@conference.example.com" required /></label>
      <label>Owner <input name="room-owner" value=${form.owner} onInput=${set('owner')}
        placeholder="mailbox@postoffice" required /></label>
      <label>Name <input name="room-name" value=${form.name} onInput=${set('name')} maxlength="256" /></label>
      <label class="check"><input type="checkbox" name="room-members-only" checked=${form.membersOnly}
        onChange=${set('membersOnly')} /> Members only</label>
      <button type="submit">Make room</button>
    </form>
    ${confirm && html`<${Confirm} text=${`Destroy room ${confirm} and its archive? Its occupants are told.`}
      yes="Destroy" onYes=${destroy} onNo=${() => setConfirm(null)} />`}
  </div>`;
}

function Guests({ me }) {
  const [guests, setGuests] = useState([]);
  const [form, setForm] = useState({ address: '', inviter: '', days: '' });
  const [error, setError] = useState('');
  const [ok, setOk] = useState('');
  const [confirm, setConfirm] = useState(null);
  const load = useCallback(async () => {
    try {
      setGuests((await api.call('ChatGuest/get', {})).list);
    } catch (e) {
      setError(e.message);
    }
  }, []);
  useEffect(() => { load(); }, [load]);
  const set = (k) => (e) => setForm(Object.assign({}, form, { [k]: e.target.value }));
  const invite = async (e) => {
    e.preventDefault();
    setError('');
    setOk('');
    const v = { address: form.address.trim(), inviter: form.inviter.trim() };
    if (form.days) v.days = Number(form.days);
    try {
      const r = await api.call('ChatGuest/set', { create: { g: v } });
      if (r.notCreated.g) throw new Error(r.notCreated.g.description);
      setOk(`${v.address} was mailed a temporary login as ${r.created.g.id}.`);
      setForm({ address: '', inviter: '', days: '' });
      load();
    } catch (err) {
      setError(err.message);
    }
  };
  const revoke = async () => {
    const jid = confirm;
    setConfirm(null);
    setError('');
    try {
      const r = await api.call('ChatGuest/set', { revoke: [jid] });
      if (r.notRevoked[jid]) throw new Error(r.notRevoked[jid].description);
      setOk(`${jid} can no longer sign in.`);
      load();
    } catch (err) {
      setError(err.message);
    }
  };
  return html`<div data-test="chat-guests">
    <h3>External contacts</h3>
    <p class="muted">An outside address invited for a user gets a mail with a temporary chat login;
      it chats with that user only, until the invitation expires or is revoked.</p>
    <${Notice} error=${error} ok=${ok} />
    ${guests.length === 0 ? html`<p class="muted">No invitations.</p>` :
    html`<table class="list"><thead><tr><th>Guest</th><th>Address</th><th>Invited by</th>
      ${!me.postOffice && html`<th>Post office</th>`}<th>Expires</th><th>Status</th><th></th></tr></thead>
      <tbody>${guests.map((g) => html`<tr key=${g.id}>
        <td data-label="Guest">${g.id}</td><td data-label="Address">${g.address}</td>
        <td data-label="Invited by">${g.inviter}</td>
        ${!me.postOffice && html`<td data-label="Post office">${g.postOffice}</td>`}
        <td data-label="Expires">${when(g.expires)}</td>
        <td data-label="Status"><span class=${`badge ${g.status === 'active' ? 'good' : 'bad'}`}>${g.status}</span></td>
        <td>${g.status === 'active' && html`<button class="danger" onClick=${() => setConfirm(g.id)}>Revoke</button>`}</td></tr>`)}
      </tbody></table>`}
    <form class="card" onSubmit=${invite} data-test="guest-form">
      <label>Outside address <input name="guest-address" type="email" value=${form.address}
        onInput=${set('address')} required /></label>
      <label>For the user <input name="guest-inviter" value=${form.inviter} onInput=${set('inviter')}
        placeholder="user@example.com" required /></label>
      <label>Days <input name="guest-days" type="number" min="1" max="90" value=${form.days}
        onInput=${set('days')} placeholder="default" /></label>
      <button type="submit">Invite</button>
    </form>
    ${confirm && html`<${Confirm} text=${`Revoke ${confirm}? Its chat sessions are closed.`}
      yes="Revoke" onYes=${revoke} onNo=${() => setConfirm(null)} />`}
  </div>`;
}

// Sessions - the streams xmppd has bound now (`postern chat sessions`)
function Sessions() {
  const [res, setRes] = useState(null);
  const [error, setError] = useState('');
  const load = () => api.call('ChatSession/get', {}).then(setRes).catch((e) => setError(e.message));
  useEffect(() => { load(); }, []);
  return html`<div data-test="chat-sessions">
    <h3>Connected now <button class="link" onClick=${load}>reload</button></h3>
    <${Notice} error=${error} />
    ${res && !res.running && html`<p class="muted">The chat service (xmppd) is not running.</p>`}
    ${res && res.running && html`<table class="list">
      <thead><tr><th>Address (JID)</th><th>Mailbox</th><th>From</th><th>Since</th><th>TLS</th><th>State</th></tr></thead>
      <tbody>${res.list.length === 0 && html`<tr><td colspan="6">Nobody is connected.</td></tr>`}
        ${res.list.map((s) => html`<tr key=${s.id}>
        <td data-label="JID">${s.id}</td><td data-label="Mailbox">${s.mailbox}</td>
        <td data-label="From">${s.address}</td><td data-label="Since">${when(s.since)}</td>
        <td data-label="TLS">${s.tls ? 'yes' : html`<span class="badge bad">no</span>`}</td>
        <td data-label="State">${s.resumable ? 'resumable' : s.available ? 'available' : 'away'}</td></tr>`)}</tbody>
    </table>`}
  </div>`;
}

// Archive - the messages kept (XEP-0313) and pruning them (a SYSADMIN's:
// `postern chat archive [prune --days N]`); the count is asked first
function Archive() {
  const [st, setSt] = useState(null);
  const [days, setDays] = useState('90');
  const [ask, setAsk] = useState(null);
  const [error, setError] = useState('');
  const [ok, setOk] = useState('');
  const load = () => api.call('ChatArchive/get', {}).then(setSt).catch((e) => setError(e.message));
  useEffect(() => { load(); }, []);
  const prune = async (dryRun) => {
    setError('');
    setOk('');
    try {
      const r = await api.call('ChatArchive/prune', { olderThanDays: Number(days), dryRun });
      if (dryRun) setAsk(r.messages);
      else { setOk(`${r.messages} archived message${r.messages === 1 ? '' : 's'} deleted.`); load(); }
    } catch (e) {
      setError(e.message);
    }
  };
  return html`<div class="card" data-test="chat-archive">
    <h3>Archive</h3>
    <${Notice} error=${error} ok=${ok} />
    ${st && html`<p>${st.messages} message${st.messages === 1 ? '' : 's'} of ${st.owners} users and rooms;
      oldest ${st.oldest ? when(st.oldest) : '-'}. Retention: ${st.retentionDays > 0 ? `${st.retentionDays} days`
        : `kept (at most ${st.maxPerOwner} per user)`} (setting xmpp.archive_days).</p>`}
    <form class="inline" onSubmit=${(e) => { e.preventDefault(); prune(true); }}>
      <label>Delete messages older than (days) <input name="archive-days" type="number" min="0" max="36500"
        value=${days} onInput=${(e) => setDays(e.target.value)} required /></label>
      <button type="submit" class="danger">Delete…</button>
    </form>
    ${ask !== null && html`<${Confirm} text=${`Delete ${ask} archived message${ask === 1 ? '' : 's'} older than ${days} days? This cannot be undone.`}
      onYes=${() => { setAsk(null); prune(false); }} onNo=${() => setAsk(null)} />`}
  </div>`;
}

export function Chat({ me }) {
  return html`<section>
    <h2>Chat</h2>
    <${Sessions} />
    <${Rooms} me=${me} />
    <${Guests} me=${me} />
    ${me.role === 'SYSADMIN' && !me.postOffice && html`<${Archive} />`}
    ${me.role === 'SYSADMIN' && !me.postOffice && html`<p class="muted">Archive retention and the
      limits of external contacts: <a href="#/settings">Settings</a>, filter "xmpp".</p>`}
  </section>`;
}

// app.js - the Postern web administration: a single-page application on
// the JMAP API (api.js), Preact + htm as plain ES modules. Every text a
// user typed is rendered by Preact as text (never innerHTML). Screens:
// login, dashboard (service status, traffic plots: plot.js), post offices, mailboxes (paged,
// searched on the server), groups, lists (members, held posts), the queues
// (retry, release, delete; the sending limits: quarantine.js), the
// quarantine (quarantine.js), the audit log, settings (forms from the field
// table's schema), chat rooms and external contacts (chat.js), your
// sessions and API tokens. objects.js holds the
// groups, lists, queue and audit screens; ui.js the shared pieces.
import { render } from './vendor/preact.js';
import { useState, useEffect, useCallback } from './vendor/hooks.js';
import * as api from './api.js';
import { html, PAGE, Notice, Confirm, KeepData, sizeText, when } from './ui.js';
import { Groups, Lists, Queue, Audit } from './objects.js';
import { secondFactor, CodeStep, RecoveryCodes, Passkeys, passkeyAssert, passkeyLogin,
  passkeysAvailable, RecentLogins, FailedLogins } from './twofactor.js';
import { Domains } from './domains.js';
import { MailboxDetail } from './mailbox.js';
import { Track, Diagnostic } from './tools.js';
import { Users } from './users.js';
import { Chat } from './chat.js';
import { Traffic } from './plot.js';
import { Branding } from './branding.js';
import { Quarantine, SendLimits } from './quarantine.js';
import { Reports, DnsRecords, Welcome } from './reports.js';
import { PostOfficeActions } from './actions.js';
import { GlobalFilters, PopRetrieval } from './tasks.js';
import { brandingFor, loginLogo } from '../common/branding.js';

// ---- small pieces ---------------------------------------------------------

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
  const [challenge, setChallenge] = useState(null);  // twofactor.js
  const [code, setCode] = useState('');
  const [recovery, setRecovery] = useState(null);
  const [remember, setRemember] = useState(false);
  // the post office's login logo: by the domain of the login typed, else
  // by the page (?postoffice=, the host)
  const [logo, setLogo] = useState('');
  useEffect(() => {
    let live = true;
    const t = setTimeout(() => loginLogo(user).then((u) => { if (live) setLogo(u); }), 300);
    return () => { live = false; clearTimeout(t); };
  }, [user]);
  const submit = async (e) => {
    e.preventDefault();
    setBusy(true);
    setError('');
    try {
      const r = await api.login(user.trim(), pw, challenge ? code.trim() : '', null,
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
        await api.login(user.trim(), pw, '', await passkeyAssert(challenge.passkey), remember);
        setPw('');
      } else {
        await passkeyLogin();
      }
      onLogin();
    } catch (err) {
      const c = secondFactor(err);
      if (c) setChallenge(c);
      setError(err.message);
    }
    setBusy(false);
  };
  if (recovery) return html`<${RecoveryCodes} html=${html} codes=${recovery} onDone=${onLogin} />`;
  return html`<main class="login">
    ${logo && html`<img class="login-logo" src=${logo} alt="" data-test="login-logo" />`}
    <h1>Postern</h1>
    <p class="muted">Administration</p>
    <form onSubmit=${submit}>
      <label>Login <input name="login" autocomplete="username" placeholder="mailbox@postoffice"
        value=${user} onInput=${(e) => setUser(e.target.value)} required /></label>
      <label>Password <input name="password" type="password" autocomplete="current-password"
        value=${pw} onInput=${(e) => setPw(e.target.value)} required /></label>
      ${challenge && html`<${CodeStep} html=${html} challenge=${challenge} code=${code} setCode=${setCode}
        onPasskey=${withPasskey} remember=${remember} setRemember=${setRemember} />`}
      <${Notice} error=${error} />
      <button type="submit" disabled=${busy}>Log in</button>
    </form>
    ${!challenge && passkeysAvailable() && html`<p><button type="button" class="link" data-test="passkey-login"
      disabled=${busy} onClick=${withPasskey}>Log in with a passkey</button></p>`}
  </main>`;
}

// ---- dashboard ----------------------------------------------------------------

function Dashboard({ me }) {
  const [st, setSt] = useState(null);
  const [error, setError] = useState('');
  const [queues, setQueues] = useState(null);
  useEffect(() => {
    api.call('Status/get', {}).then((r) => setSt(r.list[0]))
      .catch((e) => setError(e.message));
    if (me.role === 'SYSADMIN' && !me.postOffice) {
      api.call('Queue/query', { limit: 0 }).then((r) => setQueues(r.byQueue)).catch(() => {});
    }
  }, []);
  return html`<section>
    <h2>Dashboard</h2>
    <p>Logged in as <strong>${me.login}</strong> (${me.role}${me.postOffice ? `, post office ${me.postOffice}` : ''}).</p>
    <${Notice} error=${error} />
    ${st && html`<h3>Services ${st.running ? '' : html`<span class="badge bad">posternd not running</span>`}</h3>
      <table class="list" data-test="services">
        <thead><tr><th>Service</th><th>State</th><th>PID</th></tr></thead>
        <tbody>${(st.services || []).map((s) => html`<tr key=${s.name}>
          <td data-label="Service">${s.name}</td>
          <td data-label="State"><span class=${`badge ${s.state === 'running' || s.state === 'idle' ? 'good' : 'bad'}`}>${s.state}</span></td>
          <td data-label="PID">${s.pid || ''}</td></tr>`)}</tbody>
      </table>`}
    ${queues && html`<h3>Queues</h3>
      <table class="list" data-test="queue-sizes"><thead><tr><th>Queue</th><th>Items</th></tr></thead>
        <tbody>${Object.keys(queues).length === 0 ? html`<tr><td colspan="2">The queues are empty.</td></tr>`
          : Object.entries(queues).map(([q, n]) => html`<tr key=${q}><td data-label="Queue"><a href="#/queue">${q}</a></td>
            <td data-label="Items">${n}</td></tr>`)}</tbody></table>`}
    ${me.role === 'SYSADMIN' && !me.postOffice && html`<${Traffic} />`}
  </section>`;
}

// ---- post offices -----------------------------------------------------------

function PostOffices({ me }) {
  const [rows, setRows] = useState([]);
  const [total, setTotal] = useState(0);
  const [name, setName] = useState('');
  const [pw, setPw] = useState('');
  const [maxMb, setMaxMb] = useState('');
  const [error, setError] = useState('');
  const [ok, setOk] = useState('');
  const [brandPo, setBrandPo] = useState('');
  const [actPo, setActPo] = useState('');
  const [setPo, setSetPo] = useState('');
  const [delPo, setDelPo] = useState('');
  const [keep, setKeep] = useState(false);
  const [delMsg, setDelMsg] = useState({});
  const load = useCallback(async () => {
    try {
      const q = await api.call('PostOffice/query', { limit: 100, calculateTotal: true });
      const g = await api.call('PostOffice/get', {
        ids: q.ids,
        properties: ['name', 'mailboxCount', 'domainCount', 'disabled', 'webadmin_max_mailboxes'],
      });
      setRows(g.list);
      setTotal(q.total);
    } catch (e) {
      setError(e.message);
    }
  }, []);
  useEffect(() => { load(); }, [load]);
  const create = async (e) => {
    e.preventDefault();
    setError('');
    setOk('');
    const value = { name: name.trim(), password: pw };
    if (maxMb !== '') value.webadmin_max_mailboxes = Number(maxMb);
    try {
      await api.setOne('PostOffice', 'create', 'p', value);
      setOk(`Post office ${value.name} created, with its postmaster mailbox (ADMIN).`);
      setName('');
      setPw('');
      setMaxMb('');
      load();
    } catch (err) {
      setError(err.message);
    }
  };
  const destroy = async (id) => {
    setDelPo('');
    setDelMsg({});
    try {
      await api.setOne('PostOffice', 'destroy', id, null, keep ? { keepData: true } : {});
      setDelMsg({ ok: `Post office ${id} deleted${keep ? '; its mail stays on disk' : ''}.` });
      load();
    } catch (err) {
      setDelMsg({ error: err.message });
    }
  };
  return html`<section>
    <h2>Post offices <span class="muted">(${total})</span></h2>
    <${Notice} error=${delMsg.error} ok=${delMsg.ok} />
    <table class="list" data-test="postoffices">
      <thead><tr><th>Name</th><th>Mailboxes</th><th>Domains</th><th>Web admin max</th><th>Status</th><th></th></tr></thead>
      <tbody>${rows.map((p) => html`<tr key=${p.id}>
        <td data-label="Name"><a href=${`#/mailboxes/${encodeURIComponent(p.id)}`}>${p.name}</a></td>
        <td data-label="Mailboxes">${p.mailboxCount}</td>
        <td data-label="Domains">${p.domainCount}</td>
        <td data-label="Web admin max">${p.webadmin_max_mailboxes || 'unlimited'}</td>
        <td data-label="Status">${p.disabled ? 'disabled' : 'enabled'}</td>
        <td class="row-actions">${me.role === 'SYSADMIN' && html`<button type="button" data-test="po-settings-open"
            onClick=${() => { setSetPo(p.id); setActPo(''); setBrandPo(''); }}>Settings</button>`}
          <button type="button" data-test="po-act" onClick=${() => { setActPo(p.id); setBrandPo(''); setSetPo(''); }}>Actions</button>
          <button type="button" data-test="logos" onClick=${() => { setBrandPo(p.id); setActPo(''); setSetPo(''); }}>Logos</button>
          ${me.role === 'SYSADMIN' && !me.postOffice && html`<button type="button" class="danger" data-test="po-delete"
            onClick=${() => { setKeep(false); setDelPo(p.id); }}>Delete</button>`}</td></tr>`)}</tbody>
    </table>
    ${delPo && html`<${Confirm} text=${`Delete post office ${delPo} with all its domains, mailboxes, groups and lists? This cannot be undone.`}
      onYes=${() => destroy(delPo)} onNo=${() => setDelPo('')}><${KeepData} keep=${keep} setKeep=${setKeep} /><//>`}
    ${setPo && html`<${PostOfficeSettings} po=${setPo} key=${setPo} onClose=${() => setSetPo('')} onSaved=${load} />`}
    ${actPo && html`<${PostOfficeActions} po=${actPo} me=${me} key=${actPo} onClose=${() => setActPo('')} />`}
    ${brandPo && html`<${Branding} po=${brandPo} key=${brandPo} />`}
    ${me.role === 'SYSADMIN' && !me.postOffice && html`<form class="card" onSubmit=${create} data-test="po-create">
      <h3>New post office</h3>
      <label>Name <input name="po-name" value=${name} onInput=${(e) => setName(e.target.value)} required /></label>
      <label>Postmaster password <input name="po-password" type="password" autocomplete="new-password"
        value=${pw} onInput=${(e) => setPw(e.target.value)} required /></label>
      <label>Most mailboxes its web admins may create <input name="po-max" type="number" min="0"
        placeholder="unlimited" value=${maxMb} onInput=${(e) => setMaxMb(e.target.value)} /></label>
      <${Notice} error=${error} ok=${ok} />
      <button type="submit">Create post office</button>
    </form>`}
  </section>`;
}

// ---- mailboxes ----------------------------------------------------------------

function MailboxEdit({ mb, onDone, onCancel }) {
  const [quota, setQuota] = useState(String(mb.quota_kb / 1024));
  const [disabled, setDisabled] = useState(mb.disabled);
  const [error, setError] = useState('');
  const save = async (e) => {
    e.preventDefault();
    setError('');
    const patch = { disabled };
    const kb = Math.round(Number(quota) * 1024);
    if (kb !== mb.quota_kb) patch.quota_kb = kb;
    try {
      await api.setOne('Mailbox', 'update', mb.id, patch);
      onDone(`Mailbox ${mb.id} saved.`);
    } catch (err) {
      setError(err.message);
    }
  };
  return html`<tr class="edit"><td colspan="6">
    <form class="inline" onSubmit=${save} data-test="mb-edit">
      <label>Quota (MB, 0 unlimited) <input name="edit-quota" type="number" min="0" step="any"
        value=${quota} onInput=${(e) => setQuota(e.target.value)} /></label>
      <label class="check"><input name="edit-disabled" type="checkbox" checked=${disabled}
        onChange=${(e) => setDisabled(e.target.checked)} /> Disabled</label>
      <button type="submit">Save</button>
      <button type="button" onClick=${onCancel}>Cancel</button>
      <${Notice} error=${error} />
    </form>
  </td></tr>`;
}

function Mailboxes({ me, po }) {
  const [pos, setPos] = useState([]);
  const [sel, setSel] = useState(po || me.postOffice || '');
  const [text, setText] = useState('');
  const [search, setSearch] = useState('');
  const [page, setPage] = useState(0);
  const [rows, setRows] = useState([]);
  const [total, setTotal] = useState(0);
  const [editing, setEditing] = useState(null);
  const [detail, setDetail] = useState(null);
  const [confirm, setConfirm] = useState(null);
  const [keep, setKeep] = useState(false);
  const [error, setError] = useState('');
  const [ok, setOk] = useState('');
  const [form, setForm] = useState({ name: '', password: '', quota: '', friendly: '' });

  useEffect(() => {
    if (!me.postOffice) {
      api.call('PostOffice/query', { limit: 500 }).then((q) => setPos(q.ids))
        .catch(() => {});
    }
  }, [me]);
  const load = useCallback(async () => {
    try {
      const filter = {};
      if (sel) filter.postOffice = sel;
      if (search) filter.text = search;
      const q = await api.call('Mailbox/query', {
        filter, position: page * PAGE, limit: PAGE, calculateTotal: true,
        sort: [{ property: 'name', isAscending: true }],
      });
      const g = q.ids.length ? await api.call('Mailbox/get', {
        ids: q.ids,
        properties: ['name', 'postOffice', 'type', 'quota_kb', 'disabled', 'friendly_name'],
      }) : { list: [] };
      const byId = new Map(g.list.map((m) => [m.id, m]));
      setRows(q.ids.map((id) => byId.get(id)).filter(Boolean));
      setTotal(q.total);
    } catch (e) {
      setError(e.message);
    }
  }, [sel, search, page]);
  useEffect(() => { load(); }, [load]);

  const create = async (e) => {
    e.preventDefault();
    setError('');
    setOk('');
    const value = { name: form.name.trim(), password: form.password };
    const target = sel || me.postOffice;
    if (target) value.postOffice = target;
    if (form.quota !== '') value.quota_kb = Math.round(Number(form.quota) * 1024);
    if (form.friendly) value.friendly_name = form.friendly;
    try {
      const c = await api.setOne('Mailbox', 'create', 'm', value);
      setOk(`Mailbox ${c.id} created.`);
      setForm({ name: '', password: '', quota: '', friendly: '' });
      load();
    } catch (err) {
      setError(err.message);
    }
  };
  const del = async (id) => {
    setConfirm(null);
    setError('');
    setOk('');
    try {
      await api.setOne('Mailbox', 'destroy', id, null, keep ? { keepData: true } : {});
      setOk(`Mailbox ${id} deleted${keep ? '; its mail stays on disk' : ''}.`);
      load();
    } catch (err) {
      setError(err.message);
    }
  };
  const pages = Math.max(1, Math.ceil(total / PAGE));
  const field = (k) => (e) => setForm(Object.assign({}, form, { [k]: e.target.value }));
  return html`<section>
    <h2>Mailboxes <span class="muted" data-test="mb-total">(${total})</span></h2>
    <form class="toolbar" onSubmit=${(e) => { e.preventDefault(); setPage(0); setSearch(text.trim()); }}>
      ${!me.postOffice && html`<select name="po-filter" value=${sel}
        onChange=${(e) => { setSel(e.target.value); setPage(0); }}>
        <option value="">All post offices</option>
        ${pos.map((p) => html`<option value=${p}>${p}</option>`)}
      </select>`}
      <input name="search" type="search" placeholder="Search name" value=${text}
        onInput=${(e) => setText(e.target.value)} />
      <button type="submit">Search</button>
    </form>
    <${Notice} error=${error} ok=${ok} />
    <table class="list" data-test="mailboxes">
      <thead><tr><th>Mailbox</th><th>Name</th><th>Type</th><th>Quota</th><th>Status</th><th></th></tr></thead>
      <tbody>${rows.map((m) => [
        html`<tr key=${m.id}>
          <td data-label="Mailbox">${m.id}</td>
          <td data-label="Name">${m.friendly_name}</td>
          <td data-label="Type">${m.type}</td>
          <td data-label="Quota">${sizeText(m.quota_kb)}</td>
          <td data-label="Status">${m.disabled ? html`<span class="badge bad">disabled</span>` : 'enabled'}</td>
          <td class="row-actions">
            <button onClick=${() => setEditing(editing === m.id ? null : m.id)}>Edit</button>
            <button onClick=${() => setDetail(detail === m.id ? null : m.id)}>Details</button>
            <button class="danger" onClick=${() => { setKeep(false); setConfirm(m.id); }}>Delete</button>
          </td></tr>`,
        editing === m.id && html`<${MailboxEdit} mb=${m}
          onDone=${(msg) => { setEditing(null); setError(''); setOk(msg); load(); }}
          onCancel=${() => setEditing(null)} />`,
      ])}</tbody>
    </table>
    <nav class="pager">
      <button disabled=${page === 0} onClick=${() => setPage(page - 1)}>Previous</button>
      <span>Page ${page + 1} of ${pages}</span>
      <button disabled=${page + 1 >= pages} onClick=${() => setPage(page + 1)}>Next</button>
    </nav>
    ${detail && html`<${MailboxDetail} id=${detail} key=${detail} onClose=${() => setDetail(null)} />`}
    ${(sel || me.postOffice) ? html`<form class="card" onSubmit=${create} data-test="mb-create">
      <h3>New mailbox in ${sel || me.postOffice}</h3>
      <label>Name <input name="mb-name" value=${form.name} onInput=${field('name')} required /></label>
      <label>Password <input name="mb-password" type="password" autocomplete="new-password"
        value=${form.password} onInput=${field('password')} required /></label>
      <label>Quota (MB, empty: the default) <input name="mb-quota" type="number" min="0" step="any"
        value=${form.quota} onInput=${field('quota')} /></label>
      <label>Display name <input name="mb-friendly" value=${form.friendly} onInput=${field('friendly')} /></label>
      <button type="submit">Create mailbox</button>
    </form>` : html`<p class="muted">Choose a post office to create mailboxes in it.</p>`}
    ${confirm && html`<${Confirm} text=${`Delete mailbox ${confirm}${keep ? '' : ' and all its mail'}? This cannot be undone.`}
      onYes=${() => del(confirm)} onNo=${() => setConfirm(null)}><${KeepData} keep=${keep} setKeep=${setKeep} /><//>`}
  </section>`;
}

// ---- settings: forms from the schema ------------------------------------------

function SettingInput({ s, value, onChange }) {
  if (s.type === 'bool') {
    return html`<input type="checkbox" name=${s.id} checked=${!!value}
      onChange=${(e) => onChange(e.target.checked)} />`;
  }
  if (s.type === 'enum') {
    return html`<select name=${s.id} value=${value} onChange=${(e) => onChange(e.target.value)}>
      ${s.choices.map((c) => html`<option value=${c}>${c}</option>`)}</select>`;
  }
  if (s.secret) {
    return html`<input type="password" name=${s.id} autocomplete="off"
      placeholder=${value ? '(set: type to replace)' : '(not set)'}
      onInput=${(e) => onChange(e.target.value)} />`;
  }
  if (s.multiline) {
    return html`<textarea name=${s.id} rows="4" maxlength=${s.maxLength || undefined} value=${value}
      onInput=${(e) => onChange(e.target.value)} />`;
  }
  if (s.type === 'int' || s.type === 'size' || s.type === 'duration') {
    return html`<input type="number" name=${s.id} min=${s.min} max=${s.max} value=${value}
      onInput=${(e) => onChange(e.target.value === '' ? '' : Number(e.target.value))} />`;
  }
  return html`<input name=${s.id} maxlength=${s.maxLength || undefined} value=${value}
    onInput=${(e) => onChange(e.target.value)} />`;
}

// a post office's own settings (manual 5.3.3-5.3.8: general, footers,
// usage notifications, the web admin limits, auth policies...), a form
// from the field table (Schema/get) as the global settings page is
function PostOfficeSettings({ po, onClose, onSaved }) {
  const [schema, setSchema] = useState(null);
  const [obj, setObj] = useState(null);
  const [edits, setEdits] = useState({});
  const [error, setError] = useState('');
  const [ok, setOk] = useState('');
  const [bad, setBad] = useState([]);
  const load = useCallback(async () => {
    try {
      const [sc, g] = await Promise.all([api.call('Schema/get', { type: 'PostOffice' }),
        api.call('PostOffice/get', { ids: [po] })]);
      setSchema(sc.list);
      setObj(g.list[0] || {});
    } catch (e) {
      setError(e.message);
    }
  }, [po]);
  useEffect(() => { load(); }, [load]);
  const save = async (e) => {
    e.preventDefault();
    setError('');
    setOk('');
    setBad([]);
    if (!Object.keys(edits).length) return;
    try {
      await api.setOne('PostOffice', 'update', po, edits);
      setOk(`Saved: ${Object.keys(edits).join(', ')}.`);
      setEdits({});
      load();
      if (onSaved) onSaved();
    } catch (err) {
      setError(err.message);
      setBad(err.properties || []);
    }
  };
  return html`<div class="card wide" data-test="po-settings">
    <h3>Settings of ${po} <button class="link" onClick=${onClose}>close</button></h3>
    <${Notice} error=${error} ok=${ok} />
    ${schema && obj && html`<form onSubmit=${save}>
      <div class="settings">${schema.map((s) => html`<div class=${`setting ${bad.includes(s.id) ? 'invalid' : ''}`} key=${s.id}>
        <label for=${s.id}><code>${s.id}</code>${s.unit ? html` <span class="muted">(${s.unit})</span>` : ''}</label>
        <${SettingInput} s=${s} value=${s.id in edits ? edits[s.id] : obj[s.id]}
          onChange=${(v) => setEdits(Object.assign({}, edits, { [s.id]: v }))} />
        <small>${s.help}${s.zeroIsUnlimited ? ' (0: unlimited)' : ''}</small>
      </div>`)}</div>
      <div class="sticky-save"><button type="submit" disabled=${!Object.keys(edits).length}>Save changes</button></div>
    </form>`}
  </div>`;
}

function Settings() {
  const [list, setList] = useState([]);
  const [edits, setEdits] = useState({});
  const [filter, setFilter] = useState('');
  const [error, setError] = useState('');
  const [ok, setOk] = useState('');
  const [bad, setBad] = useState({});
  const load = useCallback(() => {
    api.call('Setting/get', {}).then((r) => setList(r.list)).catch((e) => setError(e.message));
  }, []);
  useEffect(() => { load(); }, [load]);
  const save = async (e) => {
    e.preventDefault();
    setError('');
    setOk('');
    setBad({});
    const update = {};
    for (const [k, v] of Object.entries(edits)) update[k] = { value: v };
    if (!Object.keys(update).length) return;
    try {
      const r = await api.call('Setting/set', { update });
      const failed = r.notUpdated || {};
      if (Object.keys(failed).length) {
        setBad(Object.fromEntries(Object.entries(failed).map(([k, v]) => [k, v.description || v.type])));
        setError('Nothing was saved: correct the settings marked below.');
        return;
      }
      setOk(`Saved: ${Object.keys(update).join(', ')}.`);
      setEdits({});
      load();
    } catch (err) {
      setError(err.message);
    }
  };
  const shown = list.filter((s) => !filter || s.id.includes(filter) || s.help.toLowerCase().includes(filter.toLowerCase()));
  return html`<section>
    <h2>Settings</h2>
    <input class="filter" name="settings-filter" type="search" placeholder="Filter settings"
      value=${filter} onInput=${(e) => setFilter(e.target.value)} />
    <form onSubmit=${save} data-test="settings">
      <${Notice} error=${error} ok=${ok} />
      <div class="settings">${shown.map((s) => html`<div class=${`setting ${bad[s.id] ? 'invalid' : ''}`} key=${s.id}>
        <label for=${s.id}><code>${s.id}</code>${s.unit ? html` <span class="muted">(${s.unit})</span>` : ''}</label>
        <${SettingInput} s=${s} value=${s.id in edits ? edits[s.id] : s.value}
          onChange=${(v) => setEdits(Object.assign({}, edits, { [s.id]: v }))} />
        <small>${s.help}${s.zeroIsUnlimited ? ' (0: unlimited)' : ''}</small>
        ${bad[s.id] && html`<small class="error-text">${bad[s.id]}</small>`}
      </div>`)}</div>
      <div class="sticky-save"><button type="submit" disabled=${!Object.keys(edits).length}>Save changes</button></div>
    </form>
  </section>`;
}

// ---- sessions and tokens ----------------------------------------------------------

function Access() {
  const [sessions, setSessions] = useState([]);
  const [tokens, setTokens] = useState([]);
  const [name, setName] = useState('');
  const [fresh, setFresh] = useState('');
  const [error, setError] = useState('');
  const load = useCallback(async () => {
    try {
      setSessions((await api.call('Session/get', {})).list);
      setTokens((await api.call('ApiToken/get', {})).list);
    } catch (e) {
      setError(e.message);
    }
  }, []);
  useEffect(() => { load(); }, [load]);
  const act = async (f) => {
    setError('');
    try {
      await f();
      load();
    } catch (e) {
      setError(e.message);
    }
  };
  return html`<section>
    <h2>Your sessions</h2>
    <${Notice} error=${error} />
    <table class="list"><thead><tr><th>Started</th><th>Last used</th><th>From</th><th></th></tr></thead>
      <tbody>${sessions.map((s) => html`<tr key=${s.id}>
        <td data-label="Started">${when(s.created)}</td><td data-label="Last used">${when(s.lastSeen)}</td>
        <td data-label="From">${s.client}</td>
        <td>${s.current ? html`<span class="badge good">this one</span>` :
          html`<button onClick=${() => act(() => api.setOne('Session', 'destroy', s.id))}>End</button>`}</td></tr>`)}
      </tbody></table>
    <h2>API tokens</h2>
    <table class="list"><thead><tr><th>Name</th><th>Post office</th><th>Last used</th><th></th></tr></thead>
      <tbody>${tokens.map((t) => html`<tr key=${t.id}>
        <td data-label="Name">${t.name}</td><td data-label="Post office">${t.postOffice || 'all'}</td>
        <td data-label="Last used">${when(t.lastUsed)}</td>
        <td><button class="danger" onClick=${() => act(() => api.setOne('ApiToken', 'destroy', t.id))}>Revoke</button></td></tr>`)}
      </tbody></table>
    <form class="card" onSubmit=${(e) => { e.preventDefault(); act(async () => { const c = await api.setOne('ApiToken', 'create', 't', { name }); setFresh(c.token); setName(''); }); }}>
      <label>New token's name <input name="token-name" value=${name} onInput=${(e) => setName(e.target.value)} required /></label>
      <button type="submit">Create token</button>
      ${fresh && html`<p class="notice ok">Copy it now, it is shown once: <code class="token">${fresh}</code></p>`}
    </form>
    <${Passkeys} html=${html} />
    <${RecentLogins} html=${html} />
    <${FailedLogins} html=${html} />
  </section>`;
}

// ---- the frame ------------------------------------------------------------------

function App() {
  const [me, setMe] = useState(undefined);
  const [menu, setMenu] = useState(false);   // the phone's navigation menu
  const hash = useHash();
  useEffect(() => setMenu(false), [hash]);
  const refresh = useCallback(() => {
    api.session().then((s) => {
      if (!s) return setMe(null);
      const c = s.capabilities['urn:postern:admin'];
      return setMe({ login: c.login, role: c.role, postOffice: c.postOffice });
    }).catch(() => setMe(null));
  }, []);
  useEffect(() => { refresh(); }, [refresh]);
  // the banner logo of the mailbox's post office
  const [banner, setBanner] = useState('');
  useEffect(() => {
    if (me) brandingFor(me.login).then((v) => setBanner(v.banner || ''));
  }, [me && me.login]);
  if (me === undefined) return html`<p class="muted center">Loading…</p>`;
  if (me === null) return html`<${Login} onLogin=${refresh} />`;
  const parts = hash.replace(/^#\/?/, '').split('/');
  const route = parts[0] || '';
  const nav = [
    ['', 'Dashboard'],
    ['postoffices', me.postOffice ? 'Post office' : 'Post offices'],
    ['domains', 'Domains'],
    ['mailboxes', 'Mailboxes'],
    ['groups', 'Groups'],
    ['users', 'Import/export'],
    ['lists', 'Lists'],
    ['pop', 'POP retrieval'],
    ['chat', 'Chat'],
    ...(me.role === 'SYSADMIN' && !me.postOffice ? [['queue', 'Queues'], ['quarantine', 'Quarantine'], ['filters', 'Global filters'], ['track', 'Track'], ['diag', 'Diagnostics'], ['audit', 'Audit log']] : []),
    ...(me.role === 'SYSADMIN' && !me.postOffice ? [['reports', 'Reports']] : []),
    ['dns', 'DNS records'],
    ...(me.role === 'SYSADMIN' && !me.postOffice ? [['welcome', 'Welcome message'], ['settings', 'Settings']] : []),
    ['access', 'Sessions & tokens'],
  ];
  let page;
  if (route === 'postoffices') page = html`<${PostOffices} me=${me} />`;
  else if (route === 'mailboxes') page = html`<${Mailboxes} me=${me} po=${parts[1] ? decodeURIComponent(parts[1]) : ''} key=${parts[1] || ''} />`;
  else if (route === 'settings') page = html`<${Settings} />`;
  else if (route === 'domains') page = html`<${Domains} me=${me} />`;
  else if (route === 'users') page = html`<${Users} me=${me} />`;
  else if (route === 'track') page = html`<${Track} />`;
  else if (route === 'diag') page = html`<${Diagnostic} />`;
  else if (route === 'groups') page = html`<${Groups} me=${me} />`;
  else if (route === 'lists') page = html`<${Lists} me=${me} />`;
  else if (route === 'chat') page = html`<${Chat} me=${me} />`;
  else if (route === 'pop') page = html`<${PopRetrieval} me=${me} />`;
  else if (route === 'filters') page = html`<${GlobalFilters} />`;
  else if (route === 'queue') page = html`<${Queue} /><${SendLimits} />`;
  else if (route === 'quarantine') page = html`<${Quarantine} />`;
  else if (route === 'audit') page = html`<${Audit} />`;
  else if (route === 'access') page = html`<${Access} />`;
  else if (route === 'reports') page = html`<${Reports} />`;
  else if (route === 'dns') page = html`<${DnsRecords} />`;
  else if (route === 'welcome') page = html`<${Welcome} />`;
  else page = html`<${Dashboard} me=${me} />`;
  const out = async () => {
    try { await api.logout(); } catch (e) { /* the cookie is gone either way */ }
    setMe(null);
    location.hash = '#/';
  };
  return html`<div class="frame">
    <header>
      ${banner ? html`<img class="banner-logo" src=${banner} alt=${me.login.split('@').pop()} data-test="banner-logo" />`
        : html`<strong class="brand">Postern</strong>`}
      <button type="button" class="menu-toggle" aria-expanded=${menu ? 'true' : 'false'} aria-controls="main-nav"
        data-test="menu-toggle" onClick=${() => setMenu(!menu)}>${menu ? 'Close menu' : 'Menu'}</button>
      <nav id="main-nav" aria-label="Sections" class=${menu ? 'open' : ''}
        onKeyDown=${(e) => { if (e.key === 'Escape' && menu) { setMenu(false); document.querySelector('.menu-toggle').focus(); } }}>
        ${nav.map(([r, label]) => html`<a href=${`#/${r}`} class=${r === route ? 'active' : ''}
          aria-current=${r === route ? 'page' : null}>${label}</a>`)}</nav>
      <span class="who">${me.login} <button class="link" onClick=${out}>Log out</button></span>
    </header>
    <main>${page}</main>
  </div>`;
}

render(html`<${App} />`, document.getElementById('app'));

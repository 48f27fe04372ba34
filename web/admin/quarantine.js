// quarantine.js - the mail the content filters held back
// (Quarantine/query|get|set: release, delete) and the outbound sending
// limits (SendLimit/query|set: the last hour's senders against their
// limits, suspension, release of held mail). Both are a SYSADMIN's.
// Everything in them was typed by strangers (subjects, addresses, virus
// names, reasons): Preact renders it as text, never as markup.
import { useState, useEffect, useCallback } from './vendor/hooks.js';
import * as api from './api.js';
import { html, PAGE, Notice, Confirm, when } from './ui.js';

function size(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${Math.round(bytes / 1024)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

function QuarantineItem({ id, onClose, onAct }) {
  const [item, setItem] = useState(null);
  const [error, setError] = useState('');
  useEffect(() => {
    api.call('Quarantine/get', { ids: [id] }).then((r) => {
      if (r.list.length) setItem(r.list[0]);
      else setError(`${id} is no longer in the quarantine (released or deleted).`);
    }).catch((e) => setError(e.message));
  }, [id]);
  return html`<div class="card" data-test="quarantine-item">
    <h3>Quarantined ${id} <button class="link" onClick=${onClose}>close</button></h3>
    <${Notice} error=${error} />
    ${item && html`<dl class="facts">
      <dt>Verdict</dt><dd data-test="q-reason">${item.reason}</dd>
      <dt>Subject</dt><dd>${item.subject}</dd>
      <dt>Sender</dt><dd>${item.sender || '<>'}</dd>
      <dt>Recipients</dt><dd>${item.recipients}</dd>
      <dt>Size</dt><dd>${size(item.size)}</dd>
      <dt>Held</dt><dd>${when(item.time)} (came in by ${item.from})</dd>
    </dl>
    <div class="toolbar">
      <button onClick=${() => onAct(id, 'release')}>Release</button>
      <button class="danger" onClick=${() => onAct(id, 'delete')}>Delete</button>
    </div>
    <pre class="headers">${item.header}</pre>`}
  </div>`;
}

export function Quarantine() {
  const [page, setPage] = useState(0);
  const [text, setText] = useState('');
  const [search, setSearch] = useState('');
  const [data, setData] = useState({ list: [], total: 0 });
  const [open, setOpen] = useState(null);
  const [confirm, setConfirm] = useState(null);   // [id, 'release'|'delete']
  const [error, setError] = useState('');
  const [ok, setOk] = useState('');
  const load = useCallback(async () => {
    try {
      setData(await api.call('Quarantine/query', {
        filter: search ? { text: search } : {}, position: page * PAGE, limit: PAGE,
      }));
    } catch (e) {
      setError(e.message);
    }
  }, [page, search]);
  useEffect(() => { load(); }, [load]);
  const act = async (id, what) => {
    setError('');
    setOk('');
    try {
      if (what === 'release') await api.setOne('Quarantine', 'update', id, { action: 'release' });
      else await api.setOne('Quarantine', 'destroy', id, null);
      setOk(what === 'release' ? `${id} released: the MTA delivers it without the content filters.`
        : `${id} deleted.`);
      if (open === id) setOpen(null);
      if (data.list.length === 1 && page > 0) setPage(page - 1);
      else load();
    } catch (err) {
      setError(err.message);
    }
  };
  const ask = (id, what) => setConfirm([id, what]);
  const pages = Math.max(1, Math.ceil(data.total / PAGE));
  return html`<section>
    <h2>Quarantine <span class="muted" data-test="quarantine-total">(${data.total})</span></h2>
    <p class="muted">Mail the antivirus or a milter held back after accepting it. It is never
      bounced (the sender is usually forged); the recipients were told.</p>
    <form class="toolbar" onSubmit=${(e) => { e.preventDefault(); setPage(0); setSearch(text.trim()); }}>
      <input name="search" type="search" placeholder="Sender, recipient, subject, virus"
        value=${text} onInput=${(e) => setText(e.target.value)} />
      <button type="submit">Search</button>
      <button type="button" onClick=${load}>Refresh</button>
    </form>
    <${Notice} error=${error} ok=${ok} />
    <table class="list" data-test="quarantine">
      <thead><tr><th>Held</th><th>Subject</th><th>Sender</th><th>Recipients</th><th>Verdict</th><th>Size</th><th></th></tr></thead>
      <tbody>${data.list.length === 0 ? html`<tr><td colspan="7">The quarantine is empty.</td></tr>`
        : data.list.map((i) => html`<tr key=${i.id}>
        <td data-label="Held">${when(i.time)}</td>
        <td data-label="Subject"><button class="link" data-test="q-open" onClick=${() => setOpen(i.id)}>${i.subject || '(no subject)'}</button></td>
        <td data-label="Sender">${i.sender || '<>'}</td>
        <td data-label="Recipients">${i.recipients}</td>
        <td data-label="Verdict">${i.reason}</td>
        <td data-label="Size">${size(i.size)}</td>
        <td class="row-actions">
          <button data-test="q-release" onClick=${() => ask(i.id, 'release')}>Release</button>
          <button class="danger" data-test="q-delete" onClick=${() => ask(i.id, 'delete')}>Delete</button>
        </td></tr>`)}</tbody>
    </table>
    <nav class="pager">
      <button disabled=${page === 0} onClick=${() => setPage(page - 1)}>Previous</button>
      <span>Page ${page + 1} of ${pages}</span>
      <button disabled=${page + 1 >= pages} onClick=${() => setPage(page + 1)}>Next</button>
    </nav>
    ${open && html`<${QuarantineItem} id=${open} key=${open} onClose=${() => setOpen(null)} onAct=${ask} />`}
    ${confirm && html`<${Confirm}
      text=${confirm[1] === 'release'
        ? `Release ${confirm[0]}? It is delivered to every recipient without the virus and spam checks.`
        : `Delete ${confirm[0]} for good? Nobody can get it back.`}
      yes=${confirm[1] === 'release' ? 'Release' : 'Delete'}
      onYes=${() => { const [id, what] = confirm; setConfirm(null); act(id, what); }}
      onNo=${() => setConfirm(null)} />`}
  </section>`;
}

// ---- the sending limits (a panel of the queue page) ------------------------

export function SendLimits() {
  const [data, setData] = useState(null);
  const [who, setWho] = useState('');
  const [reason, setReason] = useState('');
  const [held, setHeld] = useState([]);
  const [confirm, setConfirm] = useState(null);
  const [error, setError] = useState('');
  const [ok, setOk] = useState('');
  const load = useCallback(() => {
    api.call('SendLimit/query', {}).then(setData).catch((e) => setError(e.message));
    // what the limits held: bad mail whose reason starts "held: "
    api.call('Queue/query', { filter: { queue: 'badmail', text: 'held: ' }, limit: PAGE })
      .then((r) => setHeld(r.list.filter((i) => i.held))).catch((e) => setError(e.message));
  }, []);
  useEffect(() => { load(); }, [load]);
  const change = async (id, value, msg) => {
    setError('');
    setOk('');
    try {
      await api.setOne('SendLimit', 'update', id, value);
      setOk(msg);
      load();
    } catch (err) {
      setError(err.message);
    }
  };
  const lim = (r) => `${r.messages}${r.limits.messages ? ` / ${r.limits.messages}` : ''}`;
  const limr = (r) => `${r.recipients}${r.limits.recipients ? ` / ${r.limits.recipients}` : ''}`;
  return html`<section class="card" data-test="sendlimits">
    <h3>Sending limits (last hour)</h3>
    <${Notice} error=${error} ok=${ok} />
    ${data && html`<p class="muted">${`A mailbox may send ${data.limits.mailbox.messages || 'unlimited'} messages `
      + `and ${data.limits.mailbox.recipients || 'unlimited'} recipients an hour, a post office `
      + `${data.limits.postoffice.messages || 'unlimited'} and ${data.limits.postoffice.recipients || 'unlimited'} `
      + '(settings limits.*). Mail over a limit is held in bad mail (state held).'}</p>
    <table class="list" data-test="sendlimit-rows">
      <thead><tr><th>Sender</th><th>Messages</th><th>Recipients</th><th>State</th><th></th></tr></thead>
      <tbody>${data.list.length === 0 ? html`<tr><td colspan="5">Nothing sent in the last hour, nobody suspended.</td></tr>`
        : data.list.map((r) => html`<tr key=${`${r.kind}:${r.id}`} class=${r.near || r.suspended ? 'warn' : ''}>
        <td data-label="Sender">${r.name} <span class="muted">(${r.kind === 'mailbox' ? 'mailbox' : 'post office'})</span></td>
        <td data-label="Messages">${lim(r)}</td>
        <td data-label="Recipients">${limr(r)}</td>
        <td data-label="State">${r.suspended ? `suspended ${when(r.suspendedAt)}: ${r.reason}`
          : r.near ? 'at or near the limit' : 'ok'}</td>
        <td class="row-actions">${r.kind === 'mailbox' && (r.suspended
          ? html`<button onClick=${() => change(r.id, { suspended: false }, `${r.id} may send again.`)}>Unsuspend</button>`
          : html`<button class="danger" onClick=${() => change(r.id, { suspended: true, reason: 'by the administrator' }, `${r.id} suspended.`)}>Suspend</button>`)}</td>
      </tr>`)}</tbody>
    </table>`}
    <form class="toolbar" onSubmit=${(e) => { e.preventDefault(); if (who.trim()) change(who.trim(), { suspended: true, reason: reason.trim() }, `${who.trim()} suspended.`); }}>
      <input name="suspend-mailbox" placeholder="mailbox@postoffice" value=${who} onInput=${(e) => setWho(e.target.value)} />
      <input name="suspend-reason" placeholder="Reason" maxlength="200" value=${reason} onInput=${(e) => setReason(e.target.value)} />
      <button type="submit" class="danger">Suspend sending</button>
    </form>
    <h3>Held by the limits</h3>
    <table class="list" data-test="sendlimit-held">
      <thead><tr><th>Id</th><th>Sender</th><th>Why</th><th></th></tr></thead>
      <tbody>${held.length === 0 ? html`<tr><td colspan="4">No mail is held.</td></tr>`
        : held.map((i) => html`<tr key=${i.id}>
        <td data-label="Id">${i.id}</td><td data-label="Sender">${i.sender || '<>'}</td>
        <td data-label="Why">${i.reason}</td>
        <td class="row-actions"><button data-test="held-release" onClick=${() => setConfirm(i.id)}>Release</button></td>
      </tr>`)}</tbody>
    </table>
    ${confirm && html`<${Confirm}
      text=${`Send ${confirm} on without the sending limits? (The Queues page's Release counts it against them again.)`}
      yes="Release"
      onYes=${() => { const id = confirm; setConfirm(null); change(id, { action: 'release' }, `${id} sent on without the limits.`); }}
      onNo=${() => setConfirm(null)} />`}
  </section>`;
}

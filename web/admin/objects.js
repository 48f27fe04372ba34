// objects.js - the web admin's screens for groups, lists (members, held
// posts), the queues (retry, release, delete, the item's path) and the
// audit log. Every list is paged and sorted by the server (docs/API.md).
import { useState, useEffect, useCallback } from './vendor/hooks.js';
import * as api from './api.js';
import { html, PAGE, Notice, Confirm, when, lines } from './ui.js';

// usePaged - a /query + /get page of type with the given filter
function usePaged(type, filter, sort, props, page) {
  const [rows, setRows] = useState([]);
  const [total, setTotal] = useState(0);
  const [error, setError] = useState('');
  const key = JSON.stringify([filter, sort, page]);
  const load = useCallback(async () => {
    try {
      const q = await api.call(`${type}/query`, {
        filter, sort, position: page * PAGE, limit: PAGE, calculateTotal: true,
      });
      const g = q.ids.length ? await api.call(`${type}/get`, { ids: q.ids, properties: props })
        : { list: [] };
      const byId = new Map(g.list.map((o) => [o.id, o]));
      setRows(q.ids.map((id) => byId.get(id)).filter(Boolean));
      setTotal(q.total);
      setError('');
    } catch (e) {
      setError(e.message);
    }
  }, [key]);
  useEffect(() => { load(); }, [load]);
  return { rows, total, error, load };
}

function Pager({ page, total, setPage }) {
  const pages = Math.max(1, Math.ceil(total / PAGE));
  return html`<nav class="pager">
    <button disabled=${page === 0} onClick=${() => setPage(page - 1)}>Previous</button>
    <span>Page ${page + 1} of ${pages}</span>
    <button disabled=${page + 1 >= pages} onClick=${() => setPage(page + 1)}>Next</button>
  </nav>`;
}

function SearchBar({ onSearch, placeholder }) {
  const [text, setText] = useState('');
  return html`<form class="toolbar" onSubmit=${(e) => { e.preventDefault(); onSearch(text.trim()); }}>
    <input name="search" type="search" placeholder=${placeholder} value=${text}
      onInput=${(e) => setText(e.target.value)} />
    <button type="submit">Search</button>
  </form>`;
}

// ---- groups ------------------------------------------------------------------

// MemberImport - a CSV file of members (address[,name] per line) through
// importMembers, the code of `postern group import`: the counts and the
// refused lines by number
function MemberImport({ type, obj, onDone }) {
  const [atomic, setAtomic] = useState(false);
  const [busy, setBusy] = useState(false);
  const [out, setOut] = useState(null);
  const [error, setError] = useState('');
  const run = async (e) => {
    e.preventDefault();
    const f = e.target.elements['import-file'].files[0];
    if (!f) return;
    setBusy(true);
    setError('');
    setOut(null);
    try {
      const csv = await f.text();
      const r = await api.call(`${type}/set`, { update: { [obj.id]: { importMembers: { csv, atomic } } } });
      const bad = (r.notUpdated || {})[obj.id];
      if (bad) {
        setError(bad.description || bad.type);
        setOut({ errors: bad.errors || [] });
      } else {
        const sum = r.updated[obj.id].importMembers;
        setOut(sum);
        onDone(`${sum.imported} member${sum.imported === 1 ? '' : 's'} imported, ${sum.failed} refused.`);
      }
    } catch (err) {
      setError(err.message);
    }
    setBusy(false);
  };
  return html`<form data-test="member-import" onSubmit=${run}>
    <h4>Import members from a file</h4>
    <label>CSV or text file (one address a line${type === 'List' ? ', then a name' : ''})
      <input name="import-file" type="file" accept=".csv,.txt,text/csv,text/plain" required /></label>
    <label class="check"><input type="checkbox" name="import-atomic" checked=${atomic}
      onChange=${(e) => setAtomic(e.target.checked)} /> All or nothing (one bad line imports none)</label>
    <button type="submit" disabled=${busy}>${busy ? 'Importing…' : 'Import'}</button>
    <${Notice} error=${error} />
    ${out && out.errors && out.errors.length > 0 && html`<ul class="import-errors" data-test="import-errors">
      ${out.errors.map((x) => html`<li key=${x.line}>line ${x.line}: ${x.message}</li>`)}</ul>`}
  </form>`;
}

// ListMemberPages - a list's members a page at a time, keyset paged
// (ListMember/query with anchor): a list can have 100,000 members
function ListMemberPages({ obj, reload, onRemove }) {
  const [anchors, setAnchors] = useState([]);   // the anchor of each page shown before
  const [res, setRes] = useState({ list: [], ids: [], total: 0, position: 0 });
  const [error, setError] = useState('');
  const anchor = anchors.length ? anchors[anchors.length - 1] : null;
  useEffect(() => {
    const args = { filter: { list: obj.id }, limit: PAGE, calculateTotal: true };
    if (anchor) Object.assign(args, { anchor, anchorOffset: 1 });
    api.call('ListMember/query', args).then(setRes).catch((e) => setError(e.message));
  }, [obj.id, anchor, reload]);
  return html`<div data-test="list-members">
    <${Notice} error=${error} />
    <ul class="members">${res.list.map((m) => html`<li key=${m.address}>${m.address}
      ${m.name && html` <span class="muted">${m.name}</span>`}
      ${m.status !== 'active' && html` <span class="badge bad">${m.status}</span>`}
      <button class="link" onClick=${() => onRemove(m.address)}>remove</button></li>`)}</ul>
    <nav class="pager">
      <button disabled=${!anchors.length} onClick=${() => setAnchors(anchors.slice(0, -1))}>Previous</button>
      <span>${res.total ? `${res.position + 1}–${res.position + res.ids.length} of ${res.total}` : 'No members'}</span>
      <button disabled=${res.position + res.ids.length >= res.total}
        onClick=${() => setAnchors(anchors.concat([res.ids[res.ids.length - 1]]))}>Next</button>
    </nav>
  </div>`;
}

function MembersEdit({ type, obj, onDone, extra }) {
  const [add, setAdd] = useState('');
  const [error, setError] = useState('');
  const [reload, setReload] = useState(0);
  const members = (obj.members || []).map((m) => (typeof m === 'string' ? m : m.address));
  const change = async (patch) => {
    setError('');
    try {
      await api.setOne(type, 'update', obj.id, patch);
      setAdd('');
      setReload(reload + 1);
      onDone(`${obj.id} saved.`);
    } catch (err) {
      setError(err.message);
    }
  };
  return html`<div class="card" data-test="members">
    <h3>Members of ${obj.id}</h3>
    ${type === 'List' ? html`<${ListMemberPages} obj=${obj} reload=${reload}
      onRemove=${(m) => change({ removeMembers: [m] })} />`
    : html`<ul class="members">${members.map((m) => html`<li key=${m}>${m}
      <button class="link" onClick=${() => change({ removeMembers: [m] })}>remove</button></li>`)}</ul>`}
    <form onSubmit=${(e) => { e.preventDefault(); change({ addMembers: lines(add) }); }}>
      <label>Add members (one address a line)
        <textarea name="add-members" rows="3" value=${add} onInput=${(e) => setAdd(e.target.value)} /></label>
      <button type="submit">Add</button>
    </form>
    <${MemberImport} type=${type} obj=${obj} onDone=${(m) => { setReload(reload + 1); onDone(m); }} />
    ${extra}
    <${Notice} error=${error} />
  </div>`;
}

export function Groups({ me }) {
  const [page, setPage] = useState(0);
  const [search, setSearch] = useState('');
  const [open, setOpen] = useState(null);
  const [confirm, setConfirm] = useState(null);
  const [form, setForm] = useState({ address: '', name: '', po: me.postOffice || '' });
  const [error, setError] = useState('');
  const [ok, setOk] = useState('');
  const filter = search ? { text: search } : {};
  const { rows, total, error: lerr, load } = usePaged('Group', filter,
    [{ property: 'address', isAscending: true }],
    ['address', 'name', 'postOffice', 'disabled', 'members'], page);
  const act = async (f, msg, after) => {
    setError('');
    setOk('');
    try {
      await f();
      setOk(msg);
      if (after) after();
      load();
    } catch (err) {
      setError(err.message);
    }
  };
  const create = (e) => {
    e.preventDefault();
    const v = { address: form.address.trim(), name: form.name };
    if (form.po) v.postOffice = form.po.trim();
    act(() => api.setOne('Group', 'create', 'g', v), `Group ${v.address} created.`,
      () => setForm({ address: '', name: '', po: form.po }));
  };
  const field = (k) => (e) => setForm(Object.assign({}, form, { [k]: e.target.value }));
  const shown = rows.find((g) => g.id === open);
  return html`<section>
    <h2>Groups <span class="muted">(${total})</span></h2>
    <${SearchBar} placeholder="Search address or name" onSearch=${(t) => { setPage(0); setSearch(t); }} />
    <${Notice} error=${error || lerr} ok=${ok} />
    <table class="list" data-test="groups">
      <thead><tr><th>Address</th><th>Name</th><th>Post office</th><th>Members</th><th>Status</th><th></th></tr></thead>
      <tbody>${rows.map((g) => html`<tr key=${g.id}>
        <td data-label="Address">${g.id}</td>
        <td data-label="Name">${g.name}</td>
        <td data-label="Post office">${g.postOffice}</td>
        <td data-label="Members">${(g.members || []).length}</td>
        <td data-label="Status">${g.disabled ? html`<span class="badge bad">disabled</span>` : 'enabled'}</td>
        <td class="row-actions">
          <button onClick=${() => setOpen(open === g.id ? null : g.id)}>Members</button>
          <button onClick=${() => act(() => api.setOne('Group', 'update', g.id, { disabled: !g.disabled }),
            `Group ${g.id} ${g.disabled ? 'enabled' : 'disabled'}.`)}>${g.disabled ? 'Enable' : 'Disable'}</button>
          <button class="danger" onClick=${() => setConfirm(g.id)}>Delete</button>
        </td></tr>`)}</tbody>
    </table>
    <${Pager} page=${page} total=${total} setPage=${setPage} />
    ${shown && html`<${MembersEdit} type="Group" obj=${shown}
      onDone=${(m) => { setOk(m); load(); }} />`}
    <form class="card" onSubmit=${create} data-test="group-create">
      <h3>New group</h3>
      <label>Address <input name="group-address" placeholder="team@example.com" value=${form.address}
        onInput=${field('address')} required /></label>
      <label>Name <input name="group-name" value=${form.name} onInput=${field('name')} /></label>
      ${!me.postOffice && html`<label>Post office <input name="group-po" value=${form.po}
        onInput=${field('po')} required /></label>`}
      <button type="submit">Create group</button>
    </form>
    ${confirm && html`<${Confirm} text=${`Delete group ${confirm}? Mail to it will bounce.`}
      onYes=${() => { const id = confirm; setConfirm(null); act(() => api.setOne('Group', 'destroy', id), `Group ${id} deleted.`); }}
      onNo=${() => setConfirm(null)} />`}
  </section>`;
}

// ---- lists ---------------------------------------------------------------------

function Held({ list, onDone }) {
  const [error, setError] = useState('');
  const decide = async (token, approve) => {
    setError('');
    try {
      await api.setOne('List', 'update', list.id, { [approve ? 'approve' : 'reject']: [token] });
      onDone(`Post ${approve ? 'approved' : 'rejected'}; the list server acts on it shortly.`);
    } catch (err) {
      setError(err.message);
    }
  };
  if (!list.held || !list.held.length) return html`<p class="muted">No posts are held.</p>`;
  return html`<div data-test="held"><h4>Held posts</h4>
    <table class="list"><thead><tr><th>From</th><th>Subject</th><th>Held</th><th></th></tr></thead>
    <tbody>${list.held.map((p) => html`<tr key=${p.token}>
      <td data-label="From">${p.from}</td><td data-label="Subject">${p.subject}</td>
      <td data-label="Held">${when(p.held)}</td>
      <td class="row-actions"><button onClick=${() => decide(p.token, true)}>Approve</button>
        <button class="danger" onClick=${() => decide(p.token, false)}>Reject</button></td></tr>`)}
    </tbody></table><${Notice} error=${error} /></div>`;
}

export function Lists({ me }) {
  const [page, setPage] = useState(0);
  const [search, setSearch] = useState('');
  const [open, setOpen] = useState(null);
  const [confirm, setConfirm] = useState(null);
  const [form, setForm] = useState({ address: '', owner: '', po: me.postOffice || '', description: '' });
  const [error, setError] = useState('');
  const [ok, setOk] = useState('');
  const filter = search ? { text: search } : {};
  const { rows, total, error: lerr, load } = usePaged('List', filter,
    [{ property: 'address', isAscending: true }],
    ['address', 'owner', 'postOffice', 'description', 'moderated', 'disabled', 'memberCount', 'held'],
    page);
  const act = async (f, msg, after) => {
    setError('');
    setOk('');
    try {
      await f();
      setOk(msg);
      if (after) after();
      load();
    } catch (err) {
      setError(err.message);
    }
  };
  const create = (e) => {
    e.preventDefault();
    const v = { address: form.address.trim() };
    if (form.owner) v.owner = form.owner.trim();
    if (form.description) v.description = form.description;
    if (form.po) v.postOffice = form.po.trim();
    act(() => api.setOne('List', 'create', 'l', v), `List ${v.address} created.`,
      () => setForm({ address: '', owner: '', po: form.po, description: '' }));
  };
  const field = (k) => (e) => setForm(Object.assign({}, form, { [k]: e.target.value }));
  const shown = rows.find((l) => l.id === open);
  return html`<section>
    <h2>Lists <span class="muted">(${total})</span></h2>
    <${SearchBar} placeholder="Search address or description" onSearch=${(t) => { setPage(0); setSearch(t); }} />
    <${Notice} error=${error || lerr} ok=${ok} />
    <table class="list" data-test="lists">
      <thead><tr><th>Address</th><th>Description</th><th>Owner</th><th>Members</th><th>Held</th><th></th></tr></thead>
      <tbody>${rows.map((l) => html`<tr key=${l.id}>
        <td data-label="Address">${l.id}</td>
        <td data-label="Description">${l.description}</td>
        <td data-label="Owner">${l.owner}</td>
        <td data-label="Members">${l.memberCount}</td>
        <td data-label="Held">${(l.held || []).length}</td>
        <td class="row-actions">
          <button onClick=${() => setOpen(open === l.id ? null : l.id)}>Open</button>
          <button onClick=${() => act(() => api.setOne('List', 'update', l.id, { moderated: !l.moderated }),
            `List ${l.id} ${l.moderated ? 'no longer' : 'now'} moderated.`)}>${l.moderated ? 'Unmoderate' : 'Moderate'}</button>
          <button class="danger" onClick=${() => setConfirm(l.id)}>Delete</button>
        </td></tr>`)}</tbody>
    </table>
    <${Pager} page=${page} total=${total} setPage=${setPage} />
    ${shown && html`<${MembersEdit} type="List" obj=${shown}
      onDone=${(m) => { setOk(m); load(); }}
      extra=${html`<${Held} list=${shown} onDone=${(m) => { setOk(m); load(); }} />`} />`}
    <form class="card" onSubmit=${create} data-test="list-create">
      <h3>New list</h3>
      <label>Address <input name="list-address" placeholder="news@example.com" value=${form.address}
        onInput=${field('address')} required /></label>
      <label>Owner (moderator) <input name="list-owner" value=${form.owner} onInput=${field('owner')} /></label>
      <label>Description <input name="list-description" value=${form.description} onInput=${field('description')} /></label>
      ${!me.postOffice && html`<label>Post office <input name="list-po" value=${form.po}
        onInput=${field('po')} required /></label>`}
      <button type="submit">Create list</button>
    </form>
    ${confirm && html`<${Confirm} text=${`Delete list ${confirm} and its members?`}
      onYes=${() => { const id = confirm; setConfirm(null); act(() => api.setOne('List', 'destroy', id), `List ${id} deleted.`); }}
      onNo=${() => setConfirm(null)} />`}
  </section>`;
}

// ---- queues -------------------------------------------------------------------

const QUEUES = ['', 'smtp/outgoing', 'smtp/inbound', 'sf/outgoing', 'sf/inbound',
  'ls/outgoing', 'ls/inbound', 'pr/outgoing', 'pr/inbound', 'badmail'];

function QueueItem({ id, onClose }) {
  const [item, setItem] = useState(null);
  const [error, setError] = useState('');
  useEffect(() => {
    api.call('Queue/get', { ids: [id] }).then((r) => {
      if (r.list.length) setItem(r.list[0]);
      else setError(`${id} is no longer queued (delivered or deleted).`);
    }).catch((e) => setError(e.message));
  }, [id]);
  return html`<div class="card" data-test="queue-item">
    <h3>Item ${id} <button class="link" onClick=${onClose}>close</button></h3>
    <${Notice} error=${error} />
    ${item && html`<dl class="facts">
      <dt>Queue</dt><dd>${item.queue} (${item.state})</dd>
      <dt>Sender</dt><dd>${item.sender || '<>'}</dd>
      <dt>Client</dt><dd>${item.client || '-'} ${item.client_helo || ''}</dd>
      <dt>Authenticated</dt><dd>${item.auth_user || '-'}</dd>
      ${item.reason && html`<dt>Reason</dt><dd>${item.reason}</dd>`}
    </dl>
    <table class="list"><thead><tr><th>Recipient</th><th>Status</th><th>Attempts</th><th>Last error</th></tr></thead>
      <tbody>${item.recipients.map((r) => html`<tr key=${r.address}>
        <td data-label="Recipient">${r.address}</td><td data-label="Status">${r.status}</td>
        <td data-label="Attempts">${r.attempts}</td><td data-label="Last error">${r.last_error || ''}</td></tr>`)}</tbody></table>
    <pre class="headers">${item.headers}</pre>`}
  </div>`;
}

export function Queue() {
  const [queue, setQueue] = useState('');
  const [page, setPage] = useState(0);
  const [data, setData] = useState({ list: [], total: 0 });
  const [open, setOpen] = useState(null);
  const [confirm, setConfirm] = useState(null);
  const [error, setError] = useState('');
  const [ok, setOk] = useState('');
  const load = useCallback(async () => {
    try {
      const r = await api.call('Queue/query', {
        filter: queue ? { queue } : {}, position: page * PAGE, limit: PAGE,
      });
      setData(r);
    } catch (e) {
      setError(e.message);
    }
  }, [queue, page]);
  useEffect(() => { load(); }, [load]);
  const act = async (id, kind, value, msg) => {
    setError('');
    setOk('');
    try {
      await api.setOne('Queue', kind, id, value);
      setOk(msg);
      load();
    } catch (err) {
      setError(err.message);
    }
  };
  return html`<section>
    <h2>Queues <span class="muted" data-test="queue-total">(${data.total})</span></h2>
    <div class="toolbar">
      <select name="queue-filter" value=${queue} onChange=${(e) => { setQueue(e.target.value); setPage(0); }}>
        ${QUEUES.map((q) => html`<option value=${q}>${q || 'All queues'}</option>`)}
      </select>
      <button onClick=${load}>Refresh</button>
    </div>
    <${Notice} error=${error} ok=${ok} />
    <table class="list" data-test="queue">
      <thead><tr><th>Id</th><th>Queue</th><th>Arrived</th><th>Sender</th><th>Recipients</th><th>Last error</th><th></th></tr></thead>
      <tbody>${data.list.map((i) => html`<tr key=${i.id}>
        <td data-label="Id"><button class="link" onClick=${() => setOpen(i.id)}>${i.id}</button></td>
        <td data-label="Queue">${i.queue}${i.state === 'active' ? ' (active)' : ''}</td>
        <td data-label="Arrived">${when(i.arrival)}</td>
        <td data-label="Sender">${i.sender || '<>'}</td>
        <td data-label="Recipients">${i.recipients.map((r) => `${r.address} (${r.status})`).join(', ')}</td>
        <td data-label="Last error">${(i.recipients.find((r) => r.last_error) || {}).last_error || ''}</td>
        <td class="row-actions">
          ${i.state === 'badmail'
            ? html`<button onClick=${() => act(i.id, 'update', { action: 'release' }, `${i.id} released to the MTA.`)}>Release</button>`
            : html`<button data-test="retry" onClick=${() => act(i.id, 'update', { action: 'retry' }, `${i.id}: retry now.`)}>Retry</button>`}
          <button class="danger" onClick=${() => setConfirm(i.id)}>Delete</button>
        </td></tr>`)}</tbody>
    </table>
    <${Pager} page=${page} total=${data.total} setPage=${setPage} />
    ${open && html`<${QueueItem} id=${open} key=${open} onClose=${() => setOpen(null)} />`}
    ${confirm && html`<${Confirm} text=${`Delete queue item ${confirm}? The message is lost for every recipient still waiting.`}
      onYes=${() => { const id = confirm; setConfirm(null); act(id, 'destroy', null, `${id} deleted.`); }}
      onNo=${() => setConfirm(null)} />`}
  </section>`;
}

// ---- the audit log --------------------------------------------------------------

export function Audit() {
  const [type, setType] = useState('');
  const [pages, setPages] = useState([]);      // anchors of the pages seen
  const [data, setData] = useState({ list: [], ids: [] });
  const [error, setError] = useState('');
  const anchor = pages.length ? pages[pages.length - 1] : null;
  useEffect(() => {
    api.call('AuditEntry/query', { filter: type ? { type } : {}, anchor, limit: PAGE })
      .then(setData).catch((e) => setError(e.message));
  }, [type, anchor]);
  return html`<section>
    <h2>Audit log</h2>
    <div class="toolbar">
      <select name="audit-type" value=${type} onChange=${(e) => { setType(e.target.value); setPages([]); }}>
        ${['', 'PostOffice', 'Domain', 'Mailbox', 'Group', 'List', 'Queue', 'Quarantine', 'SendLimit', 'Setting', 'ApiToken', 'Session']
          .map((t) => html`<option value=${t}>${t || 'Every change'}</option>`)}
      </select>
    </div>
    <${Notice} error=${error} />
    <table class="list" data-test="audit">
      <thead><tr><th>When</th><th>Who</th><th>From</th><th>What</th><th>Object</th><th>Details</th></tr></thead>
      <tbody>${data.list.map((e) => html`<tr key=${e.id}>
        <td data-label="When">${when(e.at)}</td><td data-label="Who">${e.actor}</td>
        <td data-label="From">${e.client}</td><td data-label="What">${e.type} ${e.op}</td>
        <td data-label="Object">${e.object}</td><td data-label="Details">${e.text}</td></tr>`)}</tbody>
    </table>
    <nav class="pager">
      <button disabled=${!pages.length} onClick=${() => setPages(pages.slice(0, -1))}>Newer</button>
      <button disabled=${data.ids.length < PAGE} onClick=${() => setPages([...pages, data.ids[data.ids.length - 1]])}>Older</button>
    </nav>
  </section>`;
}

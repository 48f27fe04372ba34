// tasks.js - the web admin's global filters (a SYSADMIN's: the MTA runs
// them on every post office's mail; `postern filter global`) and POP
// retrieval (each account's last run and outcome, fetch now: `postern
// popretrieval status|run`). The server checks every value as the CLI
// does; its refusal names the field, shown beside it.
import { useState, useEffect, useCallback } from './vendor/hooks.js';
import * as api from './api.js';
import { html, PAGE, Notice, Confirm, when } from './ui.js';

const CRITERIA = ['all', 'sender', 'recipient', 'header', 'size-over', 'size-under', 'attachment'];
const ACTIONS = ['add-header', 'redirect', 'copy', 'quarantine', 'delete', 'reject'];
const EMPTY = { criterion: 'sender', header: '', pattern: '', action: 'reject', argument: '', position: '' };

export function GlobalFilters() {
  const [rows, setRows] = useState([]);
  const [form, setForm] = useState(EMPTY);
  const [bad, setBad] = useState([]);
  const [error, setError] = useState('');
  const [ok, setOk] = useState('');
  const [confirm, setConfirm] = useState(null);
  const load = useCallback(() => {
    api.call('GlobalFilter/get', {}).then((r) => setRows(r.list)).catch((e) => setError(e.message));
  }, []);
  useEffect(() => { load(); }, [load]);
  const act = async (f, msg) => {
    setError('');
    setOk('');
    setBad([]);
    try {
      await f();
      setOk(msg);
      load();
      return true;
    } catch (err) {
      setError(err.message);
      setBad(err.properties || []);
      return false;
    }
  };
  const add = async (e) => {
    e.preventDefault();
    const v = { criterion: form.criterion, action: form.action };
    for (const k of ['header', 'pattern', 'argument']) if (form[k].trim()) v[k] = form[k].trim();
    if (form.position) v.position = Number(form.position);
    if (await act(() => api.setOne('GlobalFilter', 'create', 'f', v), 'Rule added.')) setForm(EMPTY);
  };
  const field = (k) => (e) => setForm(Object.assign({}, form, { [k]: e.target.value }));
  const cls = (k) => (bad.includes(k) ? 'invalid' : '');
  return html`<section>
    <h2>Global filters</h2>
    <p class="muted">Rules the MTA runs, in this order, on every message entering the server
      (SMTP, POP retrieval, pickup); every matching rule acts.</p>
    <${Notice} error=${error} ok=${ok} />
    <table class="list" data-test="global-filters">
      <thead><tr><th>#</th><th>If</th><th>Then</th><th>On</th><th></th></tr></thead>
      <tbody>${rows.length === 0 && html`<tr><td colspan="5">No rule.</td></tr>`}
        ${rows.map((r, i) => html`<tr key=${r.id}>
        <td data-label="#">${r.position}</td>
        <td data-label="If">${r.criterion}${r.header ? ` ${r.header}:` : ''} ${r.pattern}</td>
        <td data-label="Then">${r.action} ${r.argument}</td>
        <td data-label="On">${r.enabled ? 'yes' : html`<span class="badge bad">off</span>`}</td>
        <td class="row-actions">
          <button disabled=${i === 0} aria-label=${`Move rule ${r.position} up`}
            onClick=${() => act(() => api.setOne('GlobalFilter', 'update', r.id, { position: r.position - 1 }), 'Moved.')}>Up</button>
          <button disabled=${i === rows.length - 1} aria-label=${`Move rule ${r.position} down`}
            onClick=${() => act(() => api.setOne('GlobalFilter', 'update', r.id, { position: r.position + 1 }), 'Moved.')}>Down</button>
          <button onClick=${() => act(() => api.setOne('GlobalFilter', 'update', r.id, { enabled: !r.enabled }),
            `Rule ${r.position} ${r.enabled ? 'off' : 'on'}.`)}>${r.enabled ? 'Turn off' : 'Turn on'}</button>
          <button class="danger" onClick=${() => setConfirm(r)}>Delete</button>
        </td></tr>`)}</tbody>
    </table>
    <form class="card" data-test="global-filter-add" onSubmit=${add}>
      <h3>New rule</h3>
      <label class=${cls('criterion')}>If <select name="gf-criterion" value=${form.criterion} onChange=${field('criterion')}>
        ${CRITERIA.map((c) => html`<option key=${c}>${c}</option>`)}</select></label>
      ${form.criterion === 'header' && html`<label class=${cls('header')}>Header field
        <input name="gf-header" placeholder="Subject" value=${form.header} onInput=${field('header')} /></label>`}
      ${form.criterion !== 'all' && html`<label class=${cls('pattern')}>${form.criterion.startsWith('size') ? 'Size (K, M, G)' : 'Matches (a pattern: *@spam.test, *.exe)'}
        <input name="gf-pattern" value=${form.pattern} onInput=${field('pattern')} /></label>`}
      <label class=${cls('action')}>Then <select name="gf-action" value=${form.action} onChange=${field('action')}>
        ${ACTIONS.map((c) => html`<option key=${c}>${c}</option>`)}</select></label>
      ${['add-header', 'redirect', 'copy'].includes(form.action) && html`<label class=${cls('argument')}>${form.action === 'add-header' ? "Header ('Name: value')" : 'Address'}
        <input name="gf-argument" value=${form.argument} onInput=${field('argument')} /></label>`}
      <label class=${cls('position')}>Position <input name="gf-position" type="number" min="1" placeholder="last"
        value=${form.position} onInput=${field('position')} /></label>
      <button type="submit">Add rule</button>
    </form>
    ${confirm && html`<${Confirm} text=${`Delete rule ${confirm.position} (${confirm.criterion} ${confirm.pattern} → ${confirm.action})?`}
      onYes=${() => { const r = confirm; setConfirm(null); act(() => api.setOne('GlobalFilter', 'destroy', r.id), 'Rule deleted.'); }}
      onNo=${() => setConfirm(null)} />`}
  </section>`;
}

export function PopRetrieval({ me }) {
  const [page, setPage] = useState(0);
  const [res, setRes] = useState({ list: [], total: 0 });
  const [error, setError] = useState('');
  const [ok, setOk] = useState('');
  const load = useCallback(() => {
    api.call('PopRetrieval/query', { position: page * PAGE, limit: PAGE })
      .then(setRes).catch((e) => setError(e.message));
  }, [page]);
  useEffect(() => { load(); }, [load]);
  const run = async (ids) => {
    setError('');
    setOk('');
    try {
      const r = await api.call('PopRetrieval/run', ids ? { ids } : {});
      const failed = Object.entries(r.notStarted || {});
      if (failed.length) setError(failed.map(([k, v]) => `${k}: ${v.description || v.type}`).join('; '));
      else setOk(`The POP retrieval service fetches ${ids ? 'that account' : 'every account'} now; reload for the outcome.`);
    } catch (e) {
      setError(e.message);
    }
  };
  const pages = Math.max(1, Math.ceil(res.total / PAGE));
  return html`<section>
    <h2>POP retrieval <span class="muted">(${res.total})</span></h2>
    <p class="muted">Remote POP3 mailboxes fetched into local mailboxes (add them on a mailbox's page).</p>
    <div class="toolbar">
      <button onClick=${() => run(null)} disabled=${res.total === 0}>Fetch all now</button>
      <button onClick=${load}>Reload</button>
    </div>
    <${Notice} error=${error} ok=${ok} />
    <table class="list" data-test="pop-accounts">
      <thead><tr><th>Mailbox</th><th>Server</th><th>User</th><th>On</th><th>Last run</th><th>Outcome</th><th></th></tr></thead>
      <tbody>${res.list.length === 0 && html`<tr><td colspan="7">No account${me.postOffice ? ' in your post office' : ''}.</td></tr>`}
        ${res.list.map((a) => html`<tr key=${a.id}>
        <td data-label="Mailbox"><a href=${`#/mailboxes/${encodeURIComponent(a.mailbox.split('@').pop())}`}>${a.mailbox}</a></td>
        <td data-label="Server">${a.host}:${a.port} (${a.tls})</td>
        <td data-label="User">${a.username}</td>
        <td data-label="On">${a.enabled ? 'yes' : html`<span class="badge bad">off</span>`}</td>
        <td data-label="Last run">${a.lastRun ? when(a.lastRun) : 'never'}</td>
        <td data-label="Outcome">${a.lastStatus || (a.lastRun ? "" : "not run yet")}</td>
        <td class="row-actions"><button onClick=${() => run([a.id])}>Fetch now</button></td></tr>`)}</tbody>
    </table>
    <nav class="pager">
      <button disabled=${page === 0} onClick=${() => setPage(page - 1)}>Previous</button>
      <span>Page ${page + 1} of ${pages}</span>
      <button disabled=${page + 1 >= pages} onClick=${() => setPage(page + 1)}>Next</button>
    </nav>
  </section>`;
}

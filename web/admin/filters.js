// filters.js - a mailbox's Sieve filters in its details (MailboxFilter/
// get and /set, docs/API.md): the scripts, which one runs, an editor.
// The server compiles a script before storing it and says where it is
// wrong (line:column); the scripts are the ones the webmail's rules,
// ManageSieve clients and `postern filter` edit.
import { useState, useEffect, useCallback } from './vendor/hooks.js';
import * as api from './api.js';
import { html, Notice } from './ui.js';

const NEW = { name: 'postern-admin', script: 'require ["fileinto"];\n\n# if header :contains "subject" "[list]" { fileinto "Lists"; }\nkeep;\n' };

export function Filters({ mailbox }) {
  const [data, setData] = useState(null);
  const [edit, setEdit] = useState(null);     // {name, script}
  const [error, setError] = useState('');
  const [ok, setOk] = useState('');
  const load = useCallback(() => {
    api.call('MailboxFilter/get', { mailbox }).then(setData).catch((e) => setError(e.message));
  }, [mailbox]);
  useEffect(() => { load(); }, [load]);
  const run = async (args, msg, after) => {
    setError('');
    setOk('');
    try {
      await api.call('MailboxFilter/set', Object.assign({ mailbox }, args));
      setOk(msg);
      if (after) after();
      load();
    } catch (e) {
      setError(e.message);
    }
  };
  if (!data) return html`<div data-test="filters"><h4>Filters</h4><${Notice} error=${error} /></div>`;
  return html`<div data-test="filters">
    <h4>Filters (Sieve)</h4>
    <${Notice} error=${error} ok=${ok} />
    ${data.list.length === 0 ? html`<p class="muted">No filters: mail goes to the inbox.</p>`
      : html`<table class="list"><thead><tr><th>Script</th><th>State</th><th></th></tr></thead>
      <tbody>${data.list.map((f) => html`<tr key=${f.name}>
        <td data-label="Script">${f.name}</td>
        <td data-label="State">${f.active ? html`<span class="badge good">runs</span>` : 'off'}</td>
        <td class="row-actions"><button onClick=${() => setEdit({ name: f.name, script: f.script || '' })}>Edit</button>
          ${f.active ? html`<button onClick=${() => run({ activate: null }, 'No filter runs now.')}>Turn off</button>`
            : html`<button onClick=${() => run({ activate: f.name }, `${f.name} runs now.`)}>Run this</button>`}
          ${!f.active && html`<button class="danger" onClick=${() => run({ destroy: [f.name] }, `${f.name} deleted.`)}>Delete</button>`}</td>
      </tr>`)}</tbody></table>`}
    ${edit ? html`<form onSubmit=${(e) => { e.preventDefault(); run({ put: { name: edit.name.trim(), script: edit.script, activate: true } }, `${edit.name.trim()} saved; it runs now.`, () => setEdit(null)); }}>
      <label>Name <input name="filter-name" value=${edit.name} required onInput=${(e) => setEdit(Object.assign({}, edit, { name: e.target.value }))} /></label>
      <label>Sieve (RFC 5228) <textarea name="filter-script" class="code" rows="10" spellcheck="false" value=${edit.script}
        onInput=${(e) => setEdit(Object.assign({}, edit, { script: e.target.value }))} /></label>
      <div class="toolbar"><button type="submit" data-test="filter-save">Save and run</button>
        <button type="button" class="link" onClick=${() => setEdit(null)}>Cancel</button></div>
    </form>` : html`<button type="button" data-test="filter-new" onClick=${() => setEdit(NEW)}>New filter</button>`}
  </div>`;
}

// users.js - users import and export of a post office in the web admin
// (manual 5.3.9.2, 5.3.9.4) on Users/import and Users/export: a file is
// sent in chunks of rows, one request each, with the progress shown
// between them (so a large import never meets the request size limit).
import { useState } from './vendor/hooks.js';
import * as api from './api.js';
import { html, Notice } from './ui.js';

const CHUNK = 200;

export function Users({ me }) {
  const [po, setPo] = useState(me.postOffice || '');
  const [text, setText] = useState('');
  const [done, setDone] = useState(null);     // { rows, sent }
  const [result, setResult] = useState(null);
  const [exported, setExported] = useState(null);
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const exportCsv = async () => {
    setError('');
    try {
      const r = await api.call('Users/export', { postOffice: po.trim() || undefined });
      const url = URL.createObjectURL(new Blob([r.csv], { type: 'text/csv' }));
      const a = document.createElement('a');
      a.href = url;
      a.download = `${r.postOffice}-users.csv`;
      a.click();
      setTimeout(() => URL.revokeObjectURL(url), 10000);
      setExported(r.csv.split('\n').filter(Boolean).length - 1);
    } catch (err) {
      setError(err.message);
    }
  };
  const importCsv = async (e) => {
    e.preventDefault();
    setError('');
    setResult(null);
    const rows = text.split(/\r?\n/).filter((l) => l.trim() && !/^emailaddress\b/.test(l));
    if (!rows.length) {
      setError('There are no rows to import.');
      return;
    }
    setBusy(true);
    const sum = { total: 0, imported: 0, failed: 0, errors: [], generated: [] };
    setDone({ rows: rows.length, sent: 0 });
    try {
      for (let i = 0; i < rows.length; i += CHUNK) {
        const part = rows.slice(i, i + CHUNK);
        const r = await api.call('Users/import', { postOffice: po.trim() || undefined, csv: `${part.join('\n')}\n` });
        sum.total += r.total;
        sum.imported += r.imported;
        sum.failed += r.failed;
        sum.errors.push(...r.errors.map((x) => ({ line: x.line + i, message: x.message })));
        sum.generated.push(...r.generated);
        setDone({ rows: rows.length, sent: Math.min(rows.length, i + CHUNK) });
      }
      setResult(sum);
    } catch (err) {
      setError(err.message);
    }
    setBusy(false);
  };
  return html`<section>
    <h2>Users import and export</h2>
    ${!me.postOffice && html`<label>Post office <input name="users-po" value=${po}
      onInput=${(e) => setPo(e.target.value)} required /></label>`}
    <div class="card">
      <h3>Export</h3>
      <p class="muted">One line per mailbox: address, ${me.role === 'SYSADMIN' ? 'password hash, ' : ''}quota, name.</p>
      <button data-test="users-export" onClick=${exportCsv} disabled=${!po.trim()}>Download CSV</button>
      ${exported !== null && html`<p class="notice ok" data-test="exported">${exported} mailboxes exported.</p>`}
    </div>
    <form class="card" onSubmit=${importCsv} data-test="users-import">
      <h3>Import</h3>
      <label>Rows: emailaddress[,password[,quota[,friendly name]]]
        <textarea name="users-csv" rows="6" value=${text} onInput=${(e) => setText(e.target.value)} /></label>
      <label>or a file <input type="file" name="users-file" accept=".csv,text/csv,text/plain"
        onChange=${(e) => { const f = e.target.files[0]; if (f) f.text().then(setText); }} /></label>
      <button type="submit" disabled=${busy || !po.trim()}>Import</button>
      ${done && html`<p><progress max=${done.rows} value=${done.sent} data-test="users-progress" />
        ${done.sent} of ${done.rows} rows sent</p>`}
    </form>
    <${Notice} error=${error} />
    ${result && html`<div data-test="users-result">
      <p class=${`notice ${result.failed ? 'error' : 'ok'}`}>${result.imported} of ${result.total} rows imported${result.failed ? `, ${result.failed} failed` : ''}.</p>
      ${result.errors.length > 0 && html`<ul>${result.errors.map((x) => html`<li key=${x.line}>line ${x.line}: ${x.message}</li>`)}</ul>`}
      ${result.generated.length > 0 && html`<p>Passwords made for rows without one (shown once):</p>
        <ul>${result.generated.map((g) => html`<li key=${g.address}><code>${g.address}</code> <code>${g.password}</code></li>`)}</ul>`}
    </div>`}
  </section>`;
}

// tools.js - the SYSADMIN's tools in the web admin: message tracking (one
// message's whole path through the services, from their logs, and where
// it is queued now: `postern track`) and the diagnostic report
// (`postern diag`, manual 4.4.1). Both run on the server (docs/API.md).
import { useState } from './vendor/hooks.js';
import * as api from './api.js';
import { html, Notice } from './ui.js';

export function Track() {
  const [key, setKey] = useState('');
  const [res, setRes] = useState(null);
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const run = async (e) => {
    e.preventDefault();
    setError('');
    setRes(null);
    setBusy(true);
    try {
      const r = await api.call('Track/get', { ids: [key.trim()] });
      if (r.notFound.length) setError(`${key.trim()} was not found: no log line and no queued item mentions it.`);
      else setRes(r.list[0]);
    } catch (err) {
      setError(err.message);
    }
    setBusy(false);
  };
  return html`<section>
    <h2>Track a message</h2>
    <form class="toolbar" onSubmit=${run}>
      <input name="track" type="search" placeholder="Queue id, Message-ID or address" value=${key}
        onInput=${(e) => setKey(e.target.value)} required />
      <button type="submit" disabled=${busy}>Track</button>
    </form>
    <${Notice} error=${error} />
    ${res && html`<div data-test="track">
      <p>Queue ids: ${res.ids.join(', ') || 'none'}</p>
      ${res.queued.length ? html`<p>Now: ${res.queued.map((q) => `${q.id} in ${q.queue} (${q.state})`).join('; ')}</p>`
        : html`<p class="muted">Not queued now.</p>`}
      <ol class="track">${res.log.map((l, i) => html`<li key=${i}><code>${l}</code></li>`)}</ol>
    </div>`}
  </section>`;
}

export function Diagnostic() {
  const [rep, setRep] = useState(null);
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const [net, setNet] = useState(true);
  const run = async () => {
    setError('');
    setBusy(true);
    try {
      const r = await api.call('Diagnostic/get', { dns: net, network: net });
      setRep(r.list[0]);
    } catch (err) {
      setError(err.message);
    }
    setBusy(false);
  };
  return html`<section>
    <h2>Diagnostic report</h2>
    <div class="toolbar">
      <label class="check"><input type="checkbox" name="diag-network" checked=${net}
        onChange=${(e) => setNet(e.target.checked)} /> DNS and network checks (up to a few seconds)</label>
      <button data-test="diag-run" onClick=${run} disabled=${busy}>${busy ? 'Running…' : 'Run the checks'}</button>
    </div>
    <${Notice} error=${error} />
    ${rep && html`<div data-test="diag">
      <p><span class=${`badge ${rep.errors ? 'bad' : 'good'}`}>${rep.errors} errors</span>
        <span class=${`badge ${rep.warnings ? 'bad' : 'good'}`}>${rep.warnings} warnings</span></p>
      ${rep.sections.map((s) => html`<div key=${s.name}><h3>${s.name}</h3>
        <table class="list"><thead><tr><th>Check</th><th>Status</th><th>Found</th><th>Advice</th></tr></thead>
          <tbody>${s.items.map((it, i) => html`<tr key=${i}>
            <td data-label="Check">${it.check}</td>
            <td data-label="Status"><span class=${`badge ${it.status === 'error' || it.status === 'warning' ? 'bad' : 'good'}`}>${it.status}</span></td>
            <td data-label="Found">${it.value}</td><td data-label="Advice">${it.advice || ''}</td></tr>`)}</tbody></table></div>`)}
    </div>`}
  </section>`;
}

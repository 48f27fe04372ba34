// reports.js - what `postern dmarc report`, `postern tls report`,
// `postern tls dns` and `postern welcome` show, in the browser:
//   Reports: the day's DMARC aggregate reports (DmarcReport/query|get)
//     and TLS-RPT reports (TlsReport/query|get), SYSADMIN only;
//   DNS records: the MTA-STS, TLS-RPT and TLSA records each domain
//     publishes and, on request, whether it does (TlsRecord/get);
//   Welcome message: the setting welcome.message new mailboxes get.
// Domains, addresses and report bodies come from other people's DNS and
// mail: Preact renders them as text, never as markup.
import { useState, useEffect, useCallback } from './vendor/hooks.js';
import * as api from './api.js';
import { html, Notice } from './ui.js';

function yesterday() {
  const d = new Date(Date.now() - 86400000);
  return d.toISOString().slice(0, 10);
}

function Body({ title, text, onClose }) {
  return html`<div class="card wide" data-test="report-body">
    <h3>${title} <button class="link" onClick=${onClose}>close</button></h3>
    <pre class="headers" tabindex="0">${text}</pre>
  </div>`;
}

function Dmarc({ day }) {
  const [data, setData] = useState(null);
  const [body, setBody] = useState(null);
  const [error, setError] = useState('');
  useEffect(() => {
    setData(null);
    setBody(null);
    setError('');
    api.call('DmarcReport/query', { date: day }).then(setData).catch((e) => setError(e.message));
  }, [day]);
  const show = async (domain) => {
    try {
      const r = await api.call('DmarcReport/get', { date: day, ids: [domain] });
      if (r.list.length) setBody({ title: `DMARC report for ${domain}`, text: r.list[0].xml });
    } catch (e) {
      setError(e.message);
    }
  };
  return html`<div data-test="dmarc">
    <h3>DMARC aggregate reports <span class="muted">(${data ? data.rows : '…'} results of inbound mail)</span></h3>
    <p class="muted">One report per sending domain whose DMARC record asks for them (rua). posternd sends
      them after midnight UTC (reports.daily); <code>postern dmarc report --send</code> does it by hand.</p>
    <${Notice} error=${error} />
    ${data && data.skipped > 0 && html`<p class="notice error">${data.skipped} malformed line(s) in the day's file were skipped.</p>`}
    <table class="list">
      <thead><tr><th>Policy domain</th><th>Messages</th><th>DMARC pass</th><th>Quarantined</th><th>Rejected</th><th>Sent to</th><th></th></tr></thead>
      <tbody>${!data ? html`<tr><td colspan="7">Loading…</td></tr>`
        : data.list.length === 0 ? html`<tr><td colspan="7">No DMARC results recorded for ${data.day}.</td></tr>`
        : data.list.map((r) => html`<tr key=${r.id}>
          <td data-label="Policy domain">${r.domain}</td>
          <td data-label="Messages">${r.messages}</td>
          <td data-label="DMARC pass">${r.dmarcPass}</td>
          <td data-label="Quarantined">${r.quarantined}</td>
          <td data-label="Rejected">${r.rejected}</td>
          <td data-label="Sent to">${r.rua.length ? r.rua.join(', ') : 'nobody (no rua)'}</td>
          <td class="row-actions"><button data-test="dmarc-show" onClick=${() => show(r.domain)}>Show XML</button></td>
        </tr>`)}</tbody>
    </table>
    ${body && html`<${Body} ...${body} onClose=${() => setBody(null)} />`}
  </div>`;
}

function Tls({ day }) {
  const [data, setData] = useState(null);
  const [body, setBody] = useState(null);
  const [error, setError] = useState('');
  const [lookup, setLookup] = useState(false);
  useEffect(() => {
    setData(null);
    setBody(null);
    setError('');
    api.call('TlsReport/query', { date: day, lookup }).then(setData).catch((e) => setError(e.message));
  }, [day, lookup]);
  const show = async (domain) => {
    try {
      const r = await api.call('TlsReport/get', { date: day, ids: [domain] });
      if (r.list.length) {
        setBody({ title: `TLS-RPT report for ${domain}`, text: JSON.stringify(r.list[0].report, null, 2) });
      }
    } catch (e) {
      setError(e.message);
    }
  };
  return html`<div data-test="tlsrpt">
    <h3>TLS-RPT reports <span class="muted">(${data ? data.sessions : '…'} MTA-STS and DANE sessions)</span></h3>
    <p class="muted">Reports to the domains this server delivered to under MTA-STS or DANE (RFC 8460),
      sent only to domains that publish a _smtp._tls record.</p>
    <div class="toolbar">
      <button type="button" data-test="tls-lookup" disabled=${lookup} onClick=${() => setLookup(true)}>Look up where each goes</button>
    </div>
    <${Notice} error=${error} />
    <table class="list">
      <thead><tr><th>Recipient domain</th><th>Sessions</th><th>Successful</th><th>Failed</th><th>Sent to</th><th></th></tr></thead>
      <tbody>${!data ? html`<tr><td colspan="6">Loading…</td></tr>`
        : data.list.length === 0 ? html`<tr><td colspan="6">No TLS sessions recorded for ${data.day}.</td></tr>`
        : data.list.map((r) => html`<tr key=${r.id}>
          <td data-label="Recipient domain">${r.domain}</td>
          <td data-label="Sessions">${r.sessions}</td>
          <td data-label="Successful">${r.successful}</td>
          <td data-label="Failed">${r.failed ? html`<span class="badge bad">${r.failed}</span>` : 0}</td>
          <td data-label="Sent to" data-test="tls-rua">${r.rua ? r.rua.join(', ') : r.noReport || 'not looked up'}</td>
          <td class="row-actions"><button data-test="tls-show" onClick=${() => show(r.domain)}>Show report</button></td>
        </tr>`)}</tbody>
    </table>
    ${body && html`<${Body} ...${body} onClose=${() => setBody(null)} />`}
  </div>`;
}

export function Reports() {
  const [day, setDay] = useState(yesterday());
  const [text, setText] = useState(day);
  return html`<section>
    <h2>Daily reports</h2>
    <form class="toolbar" onSubmit=${(e) => { e.preventDefault(); setDay(text); }}>
      <label class="inline">UTC day <input name="day" type="date" value=${text} max=${new Date().toISOString().slice(0, 10)}
        onInput=${(e) => setText(e.target.value)} required /></label>
      <button type="submit">Show</button>
    </form>
    <${Dmarc} day=${day} />
    <${Tls} day=${day} />
  </section>`;
}

// ---- the records to publish ----------------------------------------------

function Status({ r }) {
  if (!r.status) return html`<span class="muted">not checked</span>`;
  // ok: published as it should be; info: not published (optional);
  // warning, error: published wrong, or missing where it matters
  const good = r.status === 'ok';
  const cls = good ? 'good' : r.status === 'info' ? 'info' : 'bad';
  const word = good ? 'published' : r.status === 'info' ? 'not published' : r.status;
  return html`<span class=${`badge ${cls}`} data-test="rec-status">${word}</span>
    ${!good && html`<small class="block">${r.found}${r.advice ? ` — ${r.advice}` : ''}</small>`}`;
}

export function DnsRecords() {
  const [data, setData] = useState(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  const load = useCallback(async (check) => {
    setBusy(true);
    setError('');
    try {
      setData(await api.call('TlsRecord/get', { check }));
    } catch (e) {
      setError(e.message);
    }
    setBusy(false);
  }, []);
  useEffect(() => { load(false); }, [load]);
  const zone = data ? [...data.list.flatMap((d) => d.records), ...(data.tlsa && data.tlsa.record ? [data.tlsa] : [])]
    .map((r) => `${r.name}. IN ${r.type} ${r.type === 'TXT' ? `"${r.record}"` : r.record}`).join('\n') : '';
  return html`<section>
    <h2>DNS records for outbound trust</h2>
    <p class="muted">What each domain publishes so that other servers send to it over verified TLS:
      MTA-STS (_mta-sts), TLS-RPT (_smtp._tls) and DANE (the TLSA record of this server's key),
      as <code>postern tls dns</code> prints them. "Check DNS" asks the resolver whether they are published,
      as <code>postern diag</code> does.</p>
    <div class="toolbar">
      <button type="button" data-test="dns-check" disabled=${busy} onClick=${() => load(true)}>${busy ? 'Checking…' : 'Check DNS'}</button>
    </div>
    <${Notice} error=${error} />
    <table class="list" data-test="dns-records">
      <thead><tr><th>Domain</th><th>Name</th><th>Type</th><th>Record</th><th>Published</th></tr></thead>
      <tbody>${!data ? html`<tr><td colspan="5">Loading…</td></tr>`
        : data.list.length === 0 ? html`<tr><td colspan="5">No domain.</td></tr>`
        : data.list.flatMap((d) => [
          ...d.records.map((r) => html`<tr key=${r.name}>
            <td data-label="Domain">${d.id}</td>
            <td data-label="Name"><code>${r.name}</code></td>
            <td data-label="Type">${r.type}</td>
            <td data-label="Record"><code class="token">${r.record}</code></td>
            <td data-label="Published"><${Status} r=${r} /></td></tr>`),
          ...(d.mtaStsError ? [html`<tr key=${`${d.id}-err`}><td data-label="Domain">${d.id}</td>
            <td colspan="4" class="error-text">MTA-STS: ${d.mtaStsError}</td></tr>`] : [])])}
      ${data && data.tlsa && html`<tr key="tlsa" data-test="tlsa">
          <td data-label="Domain"><span class="muted">every domain (this host)</span></td>
          ${data.tlsa.record ? html`<td data-label="Name"><code>${data.tlsa.name}</code></td>
            <td data-label="Type">TLSA</td>
            <td data-label="Record"><code class="token">${data.tlsa.record}</code></td>
            <td data-label="Published"><${Status} r=${data.tlsa} /></td>`
          : html`<td colspan="4" class="error-text">No TLSA record: ${data.tlsa.error}</td>`}</tr>`}
      </tbody>
    </table>
    ${zone && html`<div class="card wide"><h3>Zone file lines</h3><pre class="dns" tabindex="0" data-test="zone">${zone}</pre></div>`}
  </section>`;
}

// ---- the welcome message -----------------------------------------------------

export function Welcome() {
  const [value, setValue] = useState(null);
  const [error, setError] = useState('');
  const [ok, setOk] = useState('');
  useEffect(() => {
    api.call('Setting/get', { ids: ['welcome.message'] })
      .then((r) => setValue(r.list[0].value || '')).catch((e) => setError(e.message));
  }, []);
  const save = async (v) => {
    setError('');
    setOk('');
    try {
      await api.setOne('Setting', 'update', 'welcome.message', { value: v });
      if (v === null) setValue('');
      setOk(v === null ? 'Cleared: new mailboxes get no welcome message.'
        : 'Saved: each new mailbox gets this message in its INBOX.');
    } catch (e) {
      setError(e.message);
    }
  };
  return html`<section>
    <h2>Welcome message</h2>
    <p class="muted">The message put into the INBOX of each new mailbox, made here, by an import
      or by <code>postern mailbox add</code> (manual 5.3.9.9). Plain text is sent from the postmaster with
      the subject "Welcome"; text that starts with header fields (<code>Subject: ...</code>, a blank line,
      the body) is used as the whole message.</p>
    <${Notice} error=${error} ok=${ok} />
    ${value !== null && html`<form class="card wide" onSubmit=${(e) => { e.preventDefault(); save(value); }}>
      <label>Message <textarea name="welcome" rows="12" class="code" value=${value}
        onInput=${(e) => setValue(e.target.value)}></textarea></label>
      <div class="toolbar">
        <button type="submit">Save</button>
        <button type="button" class="danger" onClick=${() => save(null)}>Clear</button>
      </div>
    </form>`}
  </section>`;
}

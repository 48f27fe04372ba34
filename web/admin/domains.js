// domains.js - the web admin's domains screen: the domains of the post
// offices in reach (paged, searched on the server), each with its DKIM
// selectors and the DNS record to publish, and its autodiscover entries
// (manual 5.4.4, 5.4.5), and its blacklist of sender domains (5.4.3).
// The server decides who may change them
// (webadmin_edit_domains); its refusal is shown in its words.
import { useState, useEffect, useCallback } from './vendor/hooks.js';
import * as api from './api.js';
import { html, PAGE, Notice, Confirm, when } from './ui.js';

function DomainDetail({ id, onMsg }) {
  const [d, setD] = useState(null);
  const [error, setError] = useState('');
  const [sel, setSel] = useState({ selector: '', bits: '2048' });
  const [ad, setAd] = useState({ protocol: 'imap', host: '', port: '', security: 'tls' });
  const [bl, setBl] = useState('');
  const load = useCallback(() => {
    api.call('Domain/get', { ids: [id], properties: ['name', 'dkimSelectors', 'autodiscover', 'dkim_enabled', 'blacklist'] })
      .then((r) => setD(r.list[0] || null)).catch((e) => setError(e.message));
  }, [id]);
  useEffect(() => { load(); }, [load]);
  const change = async (patch, msg) => {
    setError('');
    try {
      await api.setOne('Domain', 'update', id, patch);
      onMsg(msg);
      load();
    } catch (err) {
      setError(err.message);
    }
  };
  if (!d) return html`<div class="card"><${Notice} error=${error} /></div>`;
  return html`<div class="card wide" data-test="domain-detail">
    <h3>${d.name}</h3>
    <${Notice} error=${error} />
    <h4>DKIM selectors</h4>
    <label class="check"><input type="checkbox" name="dkim-enabled" checked=${!!d.dkim_enabled}
      onChange=${(e) => change({ dkim_enabled: e.target.checked }, `DKIM signing ${e.target.checked ? 'on' : 'off'} for ${id}.`)} />
      Sign mail from this domain</label>
    ${d.dkimSelectors.length === 0 && html`<p class="muted">No selector yet.</p>`}
    ${d.dkimSelectors.map((s) => html`<div class="selector" key=${s.selector} data-test="selector">
      <p><strong>${s.selector}</strong> ${s.algorithm} ${s.bits} bits
        ${s.active ? html`<span class="badge good">active</span>` : ''}
        ${s.test_mode ? html`<span class="badge bad">test mode</span>` : ''}
        <span class="muted">created ${when(s.created)}</span></p>
      <p>Publish in DNS:</p>
      <pre class="dns" data-test="dns">${s.dns_name}. IN TXT ${s.zone}</pre>
      <div class="row-actions left">
        ${!s.active && html`<button onClick=${() => change({ dkimActivate: s.selector }, `Selector ${s.selector} is now the active one.`)}>Make active</button>`}
        <button class="danger" onClick=${() => change({ dkimRemove: s.selector }, `Selector ${s.selector} removed.`)}>Remove</button>
      </div>
    </div>`)}
    <form class="inline" onSubmit=${(e) => { e.preventDefault(); change({ dkimAdd: { selector: sel.selector.trim(), bits: Number(sel.bits), activate: true } }, `Selector ${sel.selector} made: publish its record.`); }}>
      <label>New selector <input name="selector" value=${sel.selector} required
        onInput=${(e) => setSel(Object.assign({}, sel, { selector: e.target.value }))} /></label>
      <label>Bits <select name="selector-bits" value=${sel.bits}
        onChange=${(e) => setSel(Object.assign({}, sel, { bits: e.target.value }))}>
        <option>1024</option><option>2048</option><option>4096</option></select></label>
      <button type="submit">Make key</button>
    </form>
    <h4>Autodiscover ${d.autodiscoverDerived ? html`<span class="muted">(derived from the listeners)</span>` : ''}</h4>
    <table class="list"><thead><tr><th>Protocol</th><th>Host</th><th>Port</th><th>Security</th><th></th></tr></thead>
      <tbody>${d.autodiscover.map((a) => html`<tr key=${`${a.protocol}${a.host}${a.port}`}>
        <td data-label="Protocol">${a.protocol}</td><td data-label="Host">${a.host}</td>
        <td data-label="Port">${a.port}</td><td data-label="Security">${a.security}</td>
        <td class="row-actions">${!d.autodiscoverDerived && html`<button class="danger"
          onClick=${() => change({ autodiscoverRemove: { protocol: a.protocol, host: a.host, port: a.port } }, 'Entry removed.')}>Remove</button>`}</td></tr>`)}
      </tbody></table>
    <form class="inline" onSubmit=${(e) => { e.preventDefault(); const v = { protocol: ad.protocol, host: ad.host.trim(), security: ad.security }; if (ad.port) v.port = Number(ad.port); change({ autodiscoverAdd: v }, 'Entry added.'); }}>
      <label>Protocol <select name="ad-protocol" value=${ad.protocol} onChange=${(e) => setAd(Object.assign({}, ad, { protocol: e.target.value }))}>
        <option>imap</option><option>pop3</option><option>smtp</option></select></label>
      <label>Host <input name="ad-host" value=${ad.host} required onInput=${(e) => setAd(Object.assign({}, ad, { host: e.target.value }))} /></label>
      <label>Port <input name="ad-port" type="number" min="1" max="65535" placeholder="default" value=${ad.port}
        onInput=${(e) => setAd(Object.assign({}, ad, { port: e.target.value }))} /></label>
      <label>Security <select name="ad-security" value=${ad.security} onChange=${(e) => setAd(Object.assign({}, ad, { security: e.target.value }))}>
        <option>tls</option><option>starttls</option><option>none</option></select></label>
      <button type="submit">Add entry</button>
      <button type="button" onClick=${() => change({ autodiscoverDetect: true }, 'Entries detected from the listeners.')}>Detect</button>
    </form>
    <h4>Blacklisted sender domains</h4>
    <p class="muted">Mail to ${d.name} from these domains is refused.</p>
    <ul class="chips" data-test="blacklist">${d.blacklist.map((b) => html`<li key=${b}>${b}
      <button class="link" aria-label=${`Remove ${b}`} onClick=${() => change({ blacklistRemove: [b] }, `${b} removed from the blacklist.`)}>remove</button></li>`)}
      ${d.blacklist.length === 0 && html`<li class="muted">none</li>`}</ul>
    <form class="inline" data-test="blacklist-add" onSubmit=${(e) => { e.preventDefault(); const v = bl.split(/[\s,]+/).filter(Boolean); change({ blacklistAdd: v }, `Blacklisted: ${v.join(', ')}.`).then(() => setBl('')); }}>
      <label>Sender domain(s) <input name="blacklist-domain" placeholder="spam.example" value=${bl} required
        onInput=${(e) => setBl(e.target.value)} /></label>
      <button type="submit">Blacklist</button>
    </form>
  </div>`;
}

export function Domains({ me }) {
  const [page, setPage] = useState(0);
  const [text, setText] = useState('');
  const [search, setSearch] = useState('');
  const [data, setData] = useState({ ids: [], total: 0, list: [] });
  const [open, setOpen] = useState(null);
  const [confirm, setConfirm] = useState(null);
  const [form, setForm] = useState({ name: '', po: me.postOffice || '' });
  const [error, setError] = useState('');
  const [ok, setOk] = useState('');
  const load = useCallback(async () => {
    try {
      const q = await api.call('Domain/query', {
        filter: search ? { text: search } : {}, position: page * PAGE, limit: PAGE,
        calculateTotal: true,
      });
      const g = q.ids.length ? await api.call('Domain/get', { ids: q.ids, properties: ['name', 'postOffice', 'dkim_enabled'] })
        : { list: [] };
      setData({ ids: q.ids, total: q.total, list: g.list });
    } catch (e) {
      setError(e.message);
    }
  }, [search, page]);
  useEffect(() => { load(); }, [load]);
  const act = async (f, msg) => {
    setError('');
    setOk('');
    try {
      await f();
      setOk(msg);
      load();
    } catch (err) {
      setError(err.message);
    }
  };
  const pages = Math.max(1, Math.ceil(data.total / PAGE));
  return html`<section>
    <h2>Domains <span class="muted">(${data.total})</span></h2>
    <form class="toolbar" onSubmit=${(e) => { e.preventDefault(); setPage(0); setSearch(text.trim()); }}>
      <input name="search" type="search" placeholder="Search domain" value=${text} onInput=${(e) => setText(e.target.value)} />
      <button type="submit">Search</button>
    </form>
    <${Notice} error=${error} ok=${ok} />
    <table class="list" data-test="domains">
      <thead><tr><th>Domain</th><th>Post office</th><th>DKIM</th><th></th></tr></thead>
      <tbody>${data.list.map((d) => html`<tr key=${d.id}>
        <td data-label="Domain">${d.name}</td><td data-label="Post office">${d.postOffice}</td>
        <td data-label="DKIM">${d.dkim_enabled ? 'signing' : 'off'}</td>
        <td class="row-actions"><button onClick=${() => setOpen(open === d.id ? null : d.id)}>DKIM, autodiscover, blacklist</button>
          <button class="danger" onClick=${() => setConfirm(d.id)}>Delete</button></td></tr>`)}</tbody>
    </table>
    <nav class="pager">
      <button disabled=${page === 0} onClick=${() => setPage(page - 1)}>Previous</button>
      <span>Page ${page + 1} of ${pages}</span>
      <button disabled=${page + 1 >= pages} onClick=${() => setPage(page + 1)}>Next</button>
    </nav>
    ${open && html`<${DomainDetail} id=${open} key=${open} onMsg=${(m) => { setError(''); setOk(m); }} />`}
    <form class="card" data-test="domain-create" onSubmit=${(e) => { e.preventDefault(); const v = { name: form.name.trim() }; if (form.po) v.postOffice = form.po.trim(); act(() => api.setOne('Domain', 'create', 'd', v), `Domain ${v.name} added.`); }}>
      <h3>New domain</h3>
      <label>Name <input name="domain-name" placeholder="example.com" value=${form.name} required
        onInput=${(e) => setForm(Object.assign({}, form, { name: e.target.value }))} /></label>
      ${!me.postOffice && html`<label>Post office <input name="domain-po" value=${form.po} required
        onInput=${(e) => setForm(Object.assign({}, form, { po: e.target.value }))} /></label>`}
      <button type="submit">Add domain</button>
    </form>
    ${confirm && html`<${Confirm} text=${`Delete domain ${confirm} and its addresses?`}
      onYes=${() => { const id = confirm; setConfirm(null); act(() => api.setOne('Domain', 'destroy', id), `Domain ${id} deleted.`); }}
      onNo=${() => setConfirm(null)} />`}
  </section>`;
}

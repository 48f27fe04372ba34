// branding.js - the post office's logos in the web admin (Branding/get
// and /set, docs/API.md): the login logo (the login pages of the web
// admin and the webmail) and the banner logo (their headers). PNG, JPEG
// or SVG up to 256 KB; the server checks the type, the content and the
// web admin's right (webadmin_brand) and says what it refused.
import { useState, useEffect, useCallback } from './vendor/hooks.js';
import * as api from './api.js';
import { html, Notice } from './ui.js';

const TYPES = ['image/png', 'image/jpeg', 'image/svg+xml'];
const MAX = 256 * 1024;

function readBase64(file) {
  return new Promise((resolve, reject) => {
    const r = new FileReader();
    r.onload = () => resolve(String(r.result).replace(/^data:[^,]*,/, ''));
    r.onerror = () => reject(new Error(`Cannot read ${file.name}.`));
    r.readAsDataURL(file);
  });
}

function Logo({ kind, title, info, onFile, onRemove, busy }) {
  return html`<div class="logo-slot" data-test=${`logo-${kind}`}>
    <h4>${title}</h4>
    ${info ? html`<img class="logo-preview" src=${info.url} alt=${`${title} (${info.type})`} />
      <p class="muted">${info.type}, ${Math.ceil(info.size / 1024)} KB</p>`
      : html`<p class="muted">None: Postern's name is shown.</p>`}
    <label>Upload PNG, JPEG or SVG (256 KB at most)
      <input type="file" accept=${TYPES.join(',')} data-test=${`file-${kind}`} disabled=${busy}
        onChange=${(e) => { const f = e.target.files[0]; e.target.value = ''; if (f) onFile(f); }} /></label>
    ${info && html`<button type="button" class="danger" data-test=${`remove-${kind}`} disabled=${busy}
      onClick=${onRemove}>Remove</button>`}
  </div>`;
}

export function Branding({ po }) {
  const [b, setB] = useState(null);
  const [error, setError] = useState('');
  const [ok, setOk] = useState('');
  const [busy, setBusy] = useState(false);
  const load = useCallback(() => {
    api.call('Branding/get', { ids: [po] }).then((r) => setB(r.list[0] || null))
      .catch((e) => setError(e.message));
  }, [po]);
  useEffect(() => { setB(null); setError(''); setOk(''); load(); }, [load]);
  const save = async (kind, value, what) => {
    setBusy(true);
    setError('');
    setOk('');
    try {
      await api.setOne('Branding', 'update', po, { [kind]: value });
      setOk(what);
      load();
    } catch (e) {
      setError(e.message);
    }
    setBusy(false);
  };
  const upload = async (kind, file) => {
    if (!TYPES.includes(file.type)) {
      setError(`${file.name}: a logo is PNG, JPEG or SVG.`);
      return;
    }
    if (file.size > MAX) {
      setError(`${file.name}: a logo is at most 256 KB.`);
      return;
    }
    const data = await readBase64(file);
    save(kind, { type: file.type, data }, `The ${kind} logo of ${po} is ${file.name}.`);
  };
  return html`<section class="card wide" data-test="branding">
    <h3>Logos of ${po}</h3>
    <p class="muted">Shown on the login pages of the web admin and the webmail (for logins of this
      post office's domains) and in their banner.</p>
    <${Notice} error=${error} ok=${ok} />
    ${b && html`<div class="logos">
      <${Logo} kind="login" title="Login logo" info=${b.login} busy=${busy}
        onFile=${(f) => upload('login', f)} onRemove=${() => save('login', null, 'The login logo is removed.')} />
      <${Logo} kind="banner" title="Banner logo" info=${b.banner} busy=${busy}
        onFile=${(f) => upload('banner', f)} onRemove=${() => save('banner', null, 'The banner logo is removed.')} />
    </div>`}
  </section>`;
}

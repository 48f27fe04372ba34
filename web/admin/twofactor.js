// twofactor.js - the second step of the login (issue 17; api.c's
// /api/login answers 401 with type ...:totpEnrolment, ...:secondFactorRequired
// or ...:secondFactorFailed when the mailbox has two-factor login on).
// Enrolment shows the QR code the server drew (an SVG as an <img> data
// URL: no markup of ours is injected) and the secret to type by hand;
// after it the recovery codes are shown once. Texts are rendered as text.
// Passkeys: a passwordless login button, a passkey as the second factor
// (the challenge carries "passkey" request options), and the user's list
// of passkeys (add, rename, remove) on the sessions page, with the
// user's recent logins and the failed logins within the admin's reach.

import { useState, useEffect } from './vendor/hooks.js';
import { post, call } from './api.js';

// secondFactor - the challenge of a login error, or null
export function secondFactor(err) {
  const t = (err && err.type) || '';
  if (/:(totpEnrolment|secondFactorRequired|secondFactorFailed)$/.test(t)) {
    return Object.assign({ kind: t.slice(t.lastIndexOf(':') + 1) },
      err.data || {});
  }
  return null;
}

// CodeStep - the code field (and, when enrolling, the QR code and secret)
export function CodeStep({ html, challenge, code, setCode, onPasskey, remember, setRemember }) {
  const enrol = challenge.kind === 'totpEnrolment';
  const qr = enrol && challenge.qrSvg ?
    `data:image/svg+xml;base64,${btoa(challenge.qrSvg)}` : null;
  return html`<div class="second-factor" data-test="second-factor">
    ${enrol && html`<p>Scan this code with an authenticator app, then type the code it shows.</p>`}
    ${qr && html`<img class="qr" alt="QR code of the two-factor secret" src=${qr} data-test="qr" />`}
    ${enrol && html`<p class="muted">Or type the secret: <code data-test="secret">${challenge.secret}</code></p>`}
    ${challenge.codeSentTo && html`<p data-test="code-sent">A login code was mailed to <strong>${challenge.codeSentTo}</strong>.</p>`}
    ${challenge.passkey && onPasskey && passkeysAvailable() && html`<p>
      <button type="button" data-test="use-passkey" onClick=${onPasskey}>Use your passkey</button> or type a code:</p>`}
    <label>Code <input name="code" inputmode="numeric" autocomplete="one-time-code"
      value=${code} onInput=${(e) => setCode(e.target.value)} required /></label>
    ${setRemember && challenge.rememberDays > 0 && html`<label class="check"><input type="checkbox" name="remember"
      checked=${remember} onChange=${(e) => setRemember(e.target.checked)} />
      Remember this browser for ${challenge.rememberDays} day${challenge.rememberDays === 1 ? '' : 's'}</label>`}
  </div>`;
}

// RecoveryCodes - shown once after an enrolment
export function RecoveryCodes({ html, codes, onDone }) {
  return html`<main class="login">
    <h1>Recovery codes</h1>
    <p>Keep these codes somewhere safe. Each one logs you in once when your authenticator app is not at hand.</p>
    <ul data-test="recovery-codes">${codes.map((c) => html`<li><code>${c}</code></li>`)}</ul>
    <button onClick=${onDone}>I have kept them</button>
  </main>`;
}

// ---- passkeys (WebAuthn; lib-admin/passkey.h) ----------------------------------
// The server sends the options with binary fields in base64url and takes
// the credential back the same way; the browser's WebAuthn API wants
// ArrayBuffers.

function fromB64u(s) {
  const b = atob(s.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (s.length % 4)) % 4));
  return Uint8Array.from(b, (c) => c.charCodeAt(0)).buffer;
}

function toB64u(buf) {
  let s = '';
  for (const x of new Uint8Array(buf)) s += String.fromCharCode(x);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

const credList = (l) => (l || []).map((c) => Object.assign({}, c, { id: fromB64u(c.id) }));

// passkeyAssert - navigator.credentials.get with the server's request
// options: the assertion as the server takes it
export async function passkeyAssert(opts) {
  const c = await navigator.credentials.get({ publicKey: Object.assign({}, opts, {
    challenge: fromB64u(opts.challenge), allowCredentials: credList(opts.allowCredentials) }) });
  const r = c.response;
  return { id: c.id, type: c.type, response: {
    clientDataJSON: toB64u(r.clientDataJSON), authenticatorData: toB64u(r.authenticatorData),
    signature: toB64u(r.signature), userHandle: r.userHandle ? toB64u(r.userHandle) : undefined } };
}

// passkeyCreate - navigator.credentials.create with the creation options
export async function passkeyCreate(opts) {
  const c = await navigator.credentials.create({ publicKey: Object.assign({}, opts, {
    challenge: fromB64u(opts.challenge),
    user: Object.assign({}, opts.user, { id: fromB64u(opts.user.id) }),
    excludeCredentials: credList(opts.excludeCredentials) }) });
  return { id: c.id, type: c.type, response: {
    clientDataJSON: toB64u(c.response.clientDataJSON),
    attestationObject: toB64u(c.response.attestationObject) } };
}

export const passkeysAvailable = () => typeof window.PublicKeyCredential === 'function' &&
  window.isSecureContext;

// passkeyLogin - a passwordless login: resolves to the login's answer;
// base is the web admin's /api or the webmail's /jmap/mail
export async function passkeyLogin(base = '/api') {
  const o = await post(`${base}/passkey/options`, { purpose: 'login' });
  return post(`${base}/login`, { passkey: await passkeyAssert(o.publicKey) });
}

// Passkeys - the logged-in user's passkeys: add (named), rename, remove
export function Passkeys({ html }) {
  const [keys, setKeys] = useState(null);
  const [name, setName] = useState('');
  const [error, setError] = useState('');
  const [ok, setOk] = useState('');
  const act = async (f, done) => {
    setError('');
    setOk('');
    try {
      const r = await f();
      if (r && r.passkeys) setKeys(r.passkeys);
      if (done) setOk(done);
    } catch (e) {
      setError(e.message);
    }
  };
  useEffect(() => {
    fetch('/api/passkey/list', { credentials: 'same-origin' }).then((r) => r.json())
      .then((r) => setKeys(r.passkeys || [])).catch((e) => setError(e.message));
  }, []);
  const add = (e) => {
    e.preventDefault();
    act(async () => {
      const o = await post('/api/passkey/options', { purpose: 'register' });
      const credential = await passkeyCreate(o.publicKey);
      const r = await post('/api/passkey/register', { name: name.trim(), credential });
      setName('');
      return r;
    }, 'Passkey added.');
  };
  const rename = (k) => {
    const n = prompt('New name of the passkey', k.name);
    if (n) act(() => post('/api/passkey/rename', { id: k.id, name: n.trim() }));
  };
  return html`<div data-test="passkeys">
    <h2>Your passkeys</h2>
    <p class="muted">A passkey logs you in without a password, and is a second factor when two-factor login is on.</p>
    ${error && html`<p class="notice bad" role="alert">${error}</p>`}
    ${ok && html`<p class="notice ok">${ok}</p>`}
    ${keys && (keys.length === 0 ? html`<p class="muted">No passkeys yet.</p>` :
      html`<table class="list"><thead><tr><th>Name</th><th>Algorithm</th><th>Last used</th><th></th></tr></thead>
      <tbody>${keys.map((k) => html`<tr key=${k.id} data-test="passkey-row">
        <td data-label="Name">${k.name}</td><td data-label="Algorithm">${k.alg}</td>
        <td data-label="Last used">${k.lastUsed ? new Date(k.lastUsed * 1000).toLocaleString() : 'never'}</td>
        <td><button class="link" onClick=${() => rename(k)}>Rename</button>
          <button class="danger" onClick=${() => act(() => post('/api/passkey/remove', { id: k.id }))}>Remove</button></td></tr>`)}
      </tbody></table>`)}
    ${passkeysAvailable() ? html`<form class="card" onSubmit=${add}>
      <label>New passkey's name <input name="passkey-name" value=${name} maxlength="64"
        onInput=${(e) => setName(e.target.value)} required /></label>
      <button type="submit">Add a passkey</button>
    </form>` : html`<p class="muted">This browser offers no passkeys here (they need https or localhost).</p>`}
  </div>`;
}

// RecentLogins - the logged-in user's own recent logins (GET /api/logins:
// time, protocol, address, country), newest first; shown as text
export function RecentLogins({ html }) {
  const [rows, setRows] = useState(null);
  const [error, setError] = useState('');
  useEffect(() => {
    fetch('/api/logins', { credentials: 'same-origin' }).then((r) => r.json())
      .then((r) => {
        if (r.logins) setRows(r.logins);
        else setError(r.detail || 'The logins cannot be shown.');
      }).catch((e) => setError(e.message));
  }, []);
  return html`<div data-test="recent-logins">
    <h2>Your recent logins</h2>
    <p class="muted">Every protocol, one line per program and address. A login from a new country is also mailed to you.</p>
    ${error && html`<p class="notice bad" role="alert">${error}</p>`}
    ${rows && (rows.length === 0 ? html`<p class="muted">None recorded yet.</p>` :
      html`<table class="list"><thead><tr><th>Last</th><th>Protocol</th><th>Address</th><th>Country</th><th>Logins</th></tr></thead>
      <tbody>${rows.map((l) => html`<tr key=${l.protocol + l.address} data-test="recent-login">
        <td data-label="Last">${l.last} UTC</td><td data-label="Protocol">${l.protocol}</td>
        <td data-label="Address">${l.address}</td><td data-label="Country">${l.country || '?'}</td>
        <td data-label="Logins">${l.count}</td></tr>`)}
      </tbody></table>`)}
  </div>`;
}

// FailedLogins - the failed-login statistics within the admin's reach
// (LoginFailure/query, api-admin-loginsec.c): summed per mailbox or per
// client address, or each login name and address with the last reason
const FAIL_VIEWS = {
  mailbox: ['Per mailbox', [['mailbox', 'Mailbox'], ['addresses', 'Addresses'], ['failures', 'Failures'], ['last', 'Last (UTC)']]],
  address: ['Per address', [['address', 'Address'], ['logins', 'Login names'], ['failures', 'Failures'], ['last', 'Last (UTC)']]],
  '': ['Each', [['login', 'Login name'], ['address', 'Address'], ['country', 'Country'], ['protocol', 'Protocol'],
    ['failures', 'Failures'], ['last', 'Last (UTC)'], ['reason', 'Reason']]],
};

export function FailedLogins({ html }) {
  const [by, setBy] = useState('mailbox');
  // the rows of the view they were asked for: another view's rows are
  // never drawn under this one's columns (the render before the effect)
  const [got, setGot] = useState({ by: null, list: null });
  const [error, setError] = useState('');
  useEffect(() => {
    setError('');
    call('LoginFailure/query', by ? { by } : {}).then((r) => setGot({ by, list: r.list }))
      .catch((e) => setError(e.message));
  }, [by]);
  const rows = got.by === by ? got.list : null;
  const cols = FAIL_VIEWS[by][1];
  return html`<div data-test="failed-logins">
    <h2>Failed logins</h2>
    <p class="muted">Every protocol, kept as long as the login record (auth.login_record_days); the most failures first.</p>
    <p role="group" aria-label="Group the failed logins">${Object.entries(FAIL_VIEWS).map(([k, [label]]) => html`
      <button type="button" class=${by === k ? 'current' : 'link'} aria-pressed=${by === k ? 'true' : 'false'}
        data-by=${k || 'each'} onClick=${() => setBy(k)}>${label}</button> `)}</p>
    ${error && html`<p class="notice bad" role="alert">${error}</p>`}
    ${rows && (rows.length === 0 ? html`<p class="muted" data-test="no-failures">None recorded.</p>` :
      html`<table class="list"><thead><tr>${cols.map(([, t]) => html`<th>${t}</th>`)}</tr></thead>
      <tbody>${rows.map((r, i) => html`<tr key=${i} data-test="failed-login">
        ${cols.map(([k, t]) => html`<td data-label=${t} data-key=${k}>${r[k] === '' ? '?' : r[k]}</td>`)}</tr>`)}
      </tbody></table>`)}
  </div>`;
}

// MailboxSecurity - a mailbox's login security for its admin (in the
// mailbox's details): the two-factor state (TwoFactor/get), a reset of
// the enrolment (the next web login enrols again), remembered devices
// forgotten, its passkeys (Passkey/get; one or all removed) and its
// failed logins. Each removal asks a second click.
const CHALLENGES = { never: 'never', always: 'at every web login',
  new_ip: 'from another address than the last web login\'s',
  new_country: 'from another country than the last web login\'s' };

export function MailboxSecurity({ html, mailbox }) {
  const [st, setSt] = useState(null);
  const [keys, setKeys] = useState([]);
  const [fails, setFails] = useState([]);
  const [confirm, setConfirm] = useState('');
  const [error, setError] = useState('');
  const [ok, setOk] = useState('');
  const load = () => Promise.all([
    call('TwoFactor/get', { mailbox }).then(setSt),
    call('Passkey/get', { mailbox }).then((r) => setKeys(r.list)),
    call('LoginFailure/query', { mailbox }).then((r) => setFails(r.list)),
  ]).catch((e) => setError(e.message));
  useEffect(() => { load(); }, [mailbox]);
  const act = async (args, done) => {
    setError('');
    setOk('');
    setConfirm('');
    try {
      await call(args.destroy || args.removeAll ? 'Passkey/set' : 'TwoFactor/set',
        Object.assign({ mailbox }, args.removeAll ? { reset: true } : args));
      setOk(done);
      await load();
    } catch (e) {
      setError(e.message);
    }
  };
  // twice: the first click asks, the second does it
  const twice = (k, label, args, done) => html`<button type="button" class="danger" data-test=${k}
    onClick=${() => (confirm === k ? act(args, done) : setConfirm(k))}>${confirm === k ? `Yes: ${label.toLowerCase()}` : label}</button>`;
  return html`<div data-test="mb-security">
    <h4>Login security</h4>
    ${error && html`<p class="notice bad" role="alert">${error}</p>`}
    ${ok && html`<p class="notice ok" role="status">${ok}</p>`}
    ${st && html`<p data-test="mb-twofactor">Two-factor login: <strong>${CHALLENGES[st.challenge] || st.challenge}</strong>${st.challenge !== 'never' ? ' (mail apps take only app passwords)' : ''};
      ${st.type === 'smtp' ? ` codes mailed to ${st.codeAddress || '(no address)'};` : ` authenticator app ${st.totpEnrolled ? 'set up' : 'not set up'};`}
      ${` ${st.recoveryCodesLeft} recovery codes left, ${st.appPasswords} app passwords, ${st.passkeys} passkeys, ${st.rememberedDevices} remembered devices.`}</p>
    <p class="row-actions">
      ${twice('tf-reset', 'Reset two-factor', { reset: true }, 'Two-factor enrolment reset: the next web login sets it up again.')}
      ${st.rememberedDevices > 0 && twice('tf-forget', 'Forget remembered devices', { forgetDevices: true }, 'Remembered devices forgotten.')}
      ${keys.length > 0 && twice('pk-reset', 'Remove all passkeys', { removeAll: true }, 'Passkeys removed.')}
    </p>`}
    ${keys.length > 0 && html`<table class="list"><thead><tr><th>Passkey</th><th>Algorithm</th><th>Last used</th><th></th></tr></thead>
      <tbody>${keys.map((k) => html`<tr key=${k.id} data-test="mb-passkey">
        <td data-label="Passkey">${k.name}</td><td data-label="Algorithm">${k.alg}</td>
        <td data-label="Last used">${k.lastUsed ? new Date(k.lastUsed * 1000).toLocaleString() : 'never'}</td>
        <td>${twice(`pk-${k.id}`, 'Remove', { destroy: [k.id] }, `Passkey "${k.name}" removed.`)}</td></tr>`)}
      </tbody></table>`}
    <p class="muted">Failed logins: ${fails.length === 0 ? 'none recorded.' : ''}</p>
    ${fails.length > 0 && html`<table class="list"><thead><tr><th>Address</th><th>Country</th><th>Protocol</th><th>Failures</th><th>Last (UTC)</th><th>Reason</th></tr></thead>
      <tbody>${fails.map((f, i) => html`<tr key=${i} data-test="mb-failure">
        <td data-label="Address">${f.address}</td><td data-label="Country">${f.country || '?'}</td>
        <td data-label="Protocol">${f.protocol}</td><td data-label="Failures">${f.failures}</td>
        <td data-label="Last (UTC)">${f.last}</td><td data-label="Reason">${f.reason}</td></tr>`)}
      </tbody></table>`}
  </div>`;
}

// settings-security: password change, app passwords, two-factor login,
// passkeys and recent logins (urn:postern:settings: Password/change,
// AppPassword/*, TwoFactor/*, LoginRecord/get; src/httpd/jmap-settings.c;
// the passkeys on /jmap/mail/passkey/, src/httpd/passkey-http.c).
import { useState, useEffect } from '../common/vendor/hooks.js'
import { html, useAction, Status, setFailure, when } from './settings-ui.js'
import { CodeStep, passkeyCreate, passkeysAvailable } from '../admin/twofactor.js'
import { post } from './jmap.js'

// ---- password -------------------------------------------------------------

export function Password ({ jmap }) {
  const [f, setF] = useState({ old: '', pw: '', again: '' })
  const a = useAction()
  const set = (k) => (e) => setF({ ...f, [k]: e.target.value })
  const save = (e) => {
    e.preventDefault()
    if (f.pw !== f.again) {
      a.setError('The two new passwords differ.')
      return
    }
    a.run(async () => {
      const r = await jmap.call('Password/change', { oldPassword: f.old, newPassword: f.pw })
      setF({ old: '', pw: '', again: '' })
      return r
    }, (r) => `Your password is changed. ${r.sessionsEnded ? `${r.sessionsEnded} other web session${r.sessionsEnded === 1 ? '' : 's'} ended; ` : ''}mail apps using the old password must log in again.`)
  }
  return html`<section id="set-password">
    <h3>Password</h3>
    <form onSubmit=${save} autocomplete="on">
      <label>Current password<input type="password" name="oldPassword" autocomplete="current-password"
        required value=${f.old} onInput=${set('old')} /></label>
      <label>New password<input type="password" name="newPassword" autocomplete="new-password"
        required value=${f.pw} onInput=${set('pw')} /></label>
      <label>New password again<input type="password" name="again" autocomplete="new-password"
        required value=${f.again} onInput=${set('again')} /></label>
      <p class="muted">Your post office's rules apply (length, no names). Your other web sessions end.</p>
      <div class="actions"><button class="primary" disabled=${a.busy}>Change password</button></div>
      <${Status} a=${a} />
    </form>
  </section>`
}

// ---- app passwords ----------------------------------------------------------

export function AppPasswords ({ jmap }) {
  const [list, setList] = useState(null)
  const [name, setName] = useState('')
  const [made, setMade] = useState(null)
  const [confirm, setConfirm] = useState(null)
  const a = useAction()
  const load = async () => setList((await jmap.call('AppPassword/get', {})).list)
  useEffect(() => { a.run(load) }, [])
  const create = (e) => {
    e.preventDefault()
    a.run(async () => {
      const r = await jmap.call('AppPassword/set', { create: { k: { name: name.trim() } } })
      const f = setFailure(r)
      if (f) throw f
      setMade(r.created.k)
      setName('')
      await load()
    })
  }
  const revoke = (p) => a.run(async () => {
    const r = await jmap.call('AppPassword/set', { destroy: [p.id] })
    const f = setFailure(r)
    if (f) throw f
    setConfirm(null)
    if (made && made.id === p.id) setMade(null)
    await load()
  }, `"${p.name}" is revoked: it no longer logs in.`)
  return html`<section id="set-apppasswords">
    <h3>App passwords</h3>
    <p class="muted">A mail app (IMAP, POP3, SMTP, ManageSieve, calendar) logs in with an app password of its own instead of yours. With two-factor login on, mail apps take only app passwords.</p>
    <form class="inline" onSubmit=${create}>
      <label>Name of the app<input name="appName" maxlength="64" required value=${name}
        placeholder="Thunderbird at home" onInput=${(e) => setName(e.target.value)} /></label>
      <button class="primary" disabled=${a.busy || !name.trim()}>Create</button>
    </form>
    ${made && html`<div class="shown-once" role="status" data-test="new-app-password">
      <p>The app password for <strong>${made.name}</strong>. It is shown only now: type it into the app.</p>
      <p><code class="secret" data-test="password">${made.password}</code></p>
      <button onClick=${() => setMade(null)}>Done</button>
    </div>`}
    <${Status} a=${a} />
    ${list === null ? html`<p class="loading">Loading…</p>`
      : list.length === 0 ? html`<p class="empty">No app passwords.</p>`
      : html`<table class="grid">
        <thead><tr><th>Name</th><th>Created</th><th>Last used</th><th><span class="sr-only">Actions</span></th></tr></thead>
        <tbody>${list.map((p) => html`<tr data-name=${p.name}>
          <td data-label="Name">${p.name}</td>
          <td data-label="Created">${when(p.created)}</td>
          <td data-label="Last used">${when(p.lastUsed)}${p.lastUsed && html`<span class="muted"> ${PROTOCOLS[p.lastProtocol] || p.lastProtocol} ${p.lastAddress}</span>`}</td>
          <td>${confirm === p.id
            ? html`<button class="danger" data-test="confirm-revoke" onClick=${() => revoke(p)}>Revoke "${p.name}"</button>
              <button class="link" onClick=${() => setConfirm(null)}>Keep</button>`
            : html`<button class="danger" data-test="revoke" onClick=${() => setConfirm(p.id)}>Revoke</button>`}</td>
        </tr>`)}</tbody>
      </table>`}
  </section>`
}

// ---- two-factor ---------------------------------------------------------------

// factors - what the second factor of a two-factor mailbox is (TwoFactor/get)
function factors (st) {
  const keys = st.passkeys > 0 ? ` Your ${st.passkeys === 1 ? 'passkey is' : `${st.passkeys} passkeys are`} a second factor too.` : ''
  const left = st.recoveryCodesLeft > 0 ? ` ${st.recoveryCodesLeft} recovery codes left.` : ''
  if (st.type === 'smtp') return `Codes are mailed to ${st.codeAddress || '(no address: ask your administrator)'}.${keys}${left}`
  if (st.totpEnrolled) return `Codes come from your authenticator app.${keys}${left}`
  if (st.passkeys > 0) return `Your ${st.passkeys === 1 ? 'passkey is' : `${st.passkeys} passkeys are`} the second factor (no authenticator app set up).${left}`
  return 'The authenticator app is set up at the next login.'
}

export function TwoFactor ({ jmap }) {
  const [st, setSt] = useState(null)
  const [enrol, setEnrol] = useState(null)
  const [code, setCode] = useState('')
  const [codes, setCodes] = useState(null)
  const a = useAction()
  const load = async () => setSt(await jmap.call('TwoFactor/get', {}))
  useEffect(() => { a.run(load) }, [])
  const start = () => a.run(async () => {
    setEnrol(await jmap.call('TwoFactor/set', { action: 'enrol' }))
    setCode('')
  })
  const confirm = (e) => {
    e.preventDefault()
    a.run(async () => {
      const r = await jmap.call('TwoFactor/set', { action: 'confirm', code: code.trim() })
      setEnrol(null)
      setCodes(r.recoveryCodes)
      await load()
    }, 'Two-factor login is on.')
  }
  const disable = () => a.run(async () => {
    await jmap.call('TwoFactor/set', { action: 'disable' })
    setCodes(null)
    await load()
  }, 'Two-factor login is off.')
  if (!st) return html`<section id="set-twofactor"><${Status} a=${a} /><p class="loading">Loading…</p></section>`
  return html`<section id="set-twofactor">
    <h3>Two-factor login</h3>
    <p data-test="twofactor-state">${st.isEnabled
      ? html`<strong>On</strong> (${st.challenge === 'always' ? 'a second factor at every web login' : st.challenge === 'new_ip' ? 'a second factor from another address than your last web login\'s' : 'a second factor from another country than your last web login\'s'}). ${factors(st)}`
      : html`<strong>Off</strong>: your password alone logs you in.`}</p>
    ${st.isEnabled && html`<p class="muted">Mail apps log in only with app passwords while it is on.</p>`}
    ${st.isEnabled && !st.mayDisable && html`<p class="muted">Your post office asks for it: only its administrator can turn it off.</p>`}
    ${codes && html`<div class="shown-once" role="status"><p>Keep these recovery codes somewhere safe; each logs you in once without the app. They are shown only now.</p>
      <ul class="codes" data-test="recovery-codes">${codes.map((c) => html`<li><code>${c}</code></li>`)}</ul></div>`}
    ${enrol ? html`<form onSubmit=${confirm}>
        <${CodeStep} html=${html} challenge=${{ kind: 'totpEnrolment', ...enrol }} code=${code} setCode=${setCode} />
        <div class="actions"><button class="primary" disabled=${a.busy}>Turn on</button>
          <button type="button" class="link" onClick=${() => setEnrol(null)}>Cancel</button></div>
      </form>`
      : html`<div class="actions">
        ${st.mayEnable && html`<button class="primary" onClick=${start} disabled=${a.busy}>Set up an authenticator app</button>`}
        ${st.isEnabled && st.mayDisable && html`<button class="danger" onClick=${disable} disabled=${a.busy}>Turn off</button>`}
      </div>`}
    <${Status} a=${a} />
  </section>`
}

// ---- passkeys ------------------------------------------------------------------

const PK = '/jmap/mail/passkey/'

export function Passkeys () {
  const [keys, setKeys] = useState(null)
  const [name, setName] = useState('')
  const [editing, setEditing] = useState(null)   // {id, name} being renamed
  const [confirm, setConfirm] = useState(null)
  const a = useAction()
  const took = (r) => { if (r && r.passkeys) setKeys(r.passkeys) }
  useEffect(() => {
    a.run(async () => {
      const r = await fetch(PK + 'list', { credentials: 'same-origin' })
      const v = await r.json()
      if (!r.ok) throw new Error(v.detail || `The server answered ${r.status}.`)
      took(v)
    })
  }, [])
  const add = (e) => {
    e.preventDefault()
    a.run(async () => {
      const o = await post(PK + 'options', { purpose: 'register' })
      let credential
      try {
        credential = await passkeyCreate(o.publicKey)
      } catch (err) {
        if (err.name === 'InvalidStateError') throw new Error('This authenticator already holds a passkey of yours.')
        if (err.name === 'NotAllowedError') throw new Error('No passkey was made (cancelled, or the browser refused).')
        throw err
      }
      took(await post(PK + 'register', { name: name.trim(), credential }))
      setName('')
    }, `Passkey "${name.trim()}" added.`)
  }
  const rename = (e) => {
    e.preventDefault()
    a.run(async () => {
      took(await post(PK + 'rename', { id: editing.id, name: editing.name.trim() }))
      setEditing(null)
    }, 'Renamed.')
  }
  const remove = (k) => a.run(async () => {
    took(await post(PK + 'remove', { id: k.id }))
    setConfirm(null)
  }, `"${k.name}" is removed: it no longer logs in.`)
  return html`<section id="set-passkeys">
    <h3>Passkeys</h3>
    <p class="muted">A passkey (your phone, a security key or this computer) logs you in without a password, and is a second factor when two-factor login is on. Add one for each device you use.</p>
    ${passkeysAvailable()
      ? html`<form class="inline" onSubmit=${add}>
        <label>Name of the new passkey<input name="passkeyName" maxlength="64" required value=${name}
          placeholder="Laptop" onInput=${(e) => setName(e.target.value)} /></label>
        <button class="primary" data-test="add-passkey" disabled=${a.busy || !name.trim()}>Add a passkey</button>
      </form>`
      : html`<p class="notice">This browser offers no passkeys here (they need https, or localhost).</p>`}
    <${Status} a=${a} />
    ${keys === null ? html`<p class="loading">Loading…</p>`
      : keys.length === 0 ? html`<p class="empty">No passkeys yet.</p>`
      : html`<table class="grid">
        <thead><tr><th>Name</th><th>Algorithm</th><th>Added</th><th>Last used</th><th><span class="sr-only">Actions</span></th></tr></thead>
        <tbody>${keys.map((k) => html`<tr key=${k.id} data-test="passkey-row" data-name=${k.name}>
          <td data-label="Name">${editing && editing.id === k.id
            ? html`<form class="inline" onSubmit=${rename}>
              <label><span class="sr-only">New name</span><input name="passkeyRename" maxlength="64" required
                value=${editing.name} onInput=${(e) => setEditing({ ...editing, name: e.target.value })} /></label>
              <button class="primary" disabled=${a.busy || !editing.name.trim()}>Save</button>
              <button type="button" class="link" onClick=${() => setEditing(null)}>Cancel</button></form>`
            : k.name}</td>
          <td data-label="Algorithm">${k.alg}</td>
          <td data-label="Added">${stamp(k.created)}</td>
          <td data-label="Last used">${stamp(k.lastUsed)}</td>
          <td>${confirm === k.id
            ? html`<button class="danger" data-test="confirm-remove" onClick=${() => remove(k)}>Remove "${k.name}"</button>
              <button class="link" onClick=${() => setConfirm(null)}>Keep</button>`
            : html`<button class="link" data-test="rename" onClick=${() => setEditing({ id: k.id, name: k.name })}>Rename</button>
              <button class="danger" data-test="remove" onClick=${() => setConfirm(k.id)}>Remove</button>`}</td>
        </tr>`)}</tbody>
      </table>`}
  </section>`
}

// stamp - a time of the passkey list (seconds since the epoch, 0 never)
function stamp (t) {
  return t ? when(new Date(t * 1000).toISOString()) : 'never'
}

// ---- recent logins --------------------------------------------------------------

const PROTOCOLS = { api: 'web / JMAP', web: 'web', imap: 'IMAP', pop3: 'POP3', smtp: 'SMTP', managesieve: 'ManageSieve', xmpp: 'chat' }

export function Logins ({ jmap }) {
  const [list, setList] = useState(null)
  const a = useAction()
  useEffect(() => { a.run(async () => setList((await jmap.call('LoginRecord/get', {})).list)) }, [])
  return html`<section id="set-logins">
    <h3>Recent logins</h3>
    <p class="muted">Where your mailbox logged in from, newest first. Something you do not recognise? Change your password and revoke your app passwords.</p>
    <${Status} a=${a} />
    ${list === null ? html`<p class="loading">Loading…</p>`
      : list.length === 0 ? html`<p class="empty">No logins recorded.</p>`
      : html`<table class="grid">
        <thead><tr><th>Last</th><th>Protocol</th><th>Address</th><th>Country</th><th>Times</th><th>First</th></tr></thead>
        <tbody>${list.map((l) => html`<tr>
          <td data-label="Last">${when(l.last)}</td>
          <td data-label="Protocol">${PROTOCOLS[l.protocol] || l.protocol}</td>
          <td data-label="Address">${l.address}</td>
          <td data-label="Country">${l.country || '—'}</td>
          <td data-label="Times">${l.count}</td>
          <td data-label="First">${when(l.first)}</td>
        </tr>`)}</tbody>
      </table>`}
  </section>`
}

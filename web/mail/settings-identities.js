// settings-identities: the sender identities (Identity/get, /set; the
// server's jmap-identity.c): name, reply-to, plain and HTML signatures,
// the default one. The HTML signature is kept by the server in a safe
// subset of HTML (lib/htmlsafe.c); the page shows what it kept as text.
import { useState, useEffect } from '../common/vendor/hooks.js'
import { html, useAction, Status, setFailure } from './settings-ui.js'
import { addrListFull, parseAddrs, validEmail } from './util.js'

export function Identities ({ jmap }) {
  const [list, setList] = useState(null)
  const [cur, setCur] = useState(null)
  const [f, setF] = useState(null)
  const [kept, setKept] = useState(null)
  const a = useAction()
  const load = async (keep) => {
    const r = await jmap.call('Identity/get', {})
    setList(r.list)
    const id = keep || (r.list.find((i) => i.isDefault) || r.list[0] || {}).id
    pick(r.list.find((i) => i.id === id), r.list)
  }
  const pick = (i) => {
    if (!i) return
    setCur(i.id)
    setKept(null)
    setF({
      name: i.name || '',
      replyTo: addrListFull(i.replyTo || []),
      textSignature: i.textSignature || '',
      htmlSignature: i.htmlSignature || '',
      isDefault: !!i.isDefault
    })
  }
  useEffect(() => { a.run(() => load()) }, [])
  if (!list || !f) return html`<section id="set-identities"><${Status} a=${a} /><p class="loading">Loading…</p></section>`
  const set = (k) => (e) => setF({ ...f, [k]: e.target.type === 'checkbox' ? e.target.checked : e.target.value })
  const save = (e) => {
    e.preventDefault()
    const rt = parseAddrs(f.replyTo)
    const bad = rt.find((x) => !validEmail(x.email))
    if (bad) {
      a.setError(`"${bad.email}" is not an address.`)
      return
    }
    const patch = {
      name: f.name,
      replyTo: rt.length ? rt.map((x) => ({ name: x.name, email: x.email })) : null,
      textSignature: f.textSignature,
      htmlSignature: f.htmlSignature
    }
    if (f.isDefault) patch.isDefault = true
    a.run(async () => {
      const r = await jmap.call('Identity/set', { update: { [cur]: patch } })
      const fail = setFailure(r)
      if (fail) throw fail
      const changed = r.updated && r.updated[cur]
      await load(cur)
      if (changed && changed.htmlSignature !== undefined) setKept(changed.htmlSignature)
    }, 'Saved.')
  }
  return html`<section id="set-identities">
    <h3>Identities and signatures</h3>
    <p class="muted">Your addresses are given by your administrator; here you set how you appear when writing from each.</p>
    <label>Address<select name="identity" value=${cur} onChange=${(e) => pick(list.find((i) => i.id === e.target.value))}>
      ${list.map((i) => html`<option value=${i.id}>${i.email}${i.isDefault ? ' (default)' : ''}</option>`)}
    </select></label>
    <form onSubmit=${save}>
      <label>Your name<input name="name" maxlength="200" value=${f.name} onInput=${set('name')} /></label>
      <label>Reply-To (optional)<input name="replyTo" value=${f.replyTo}
        placeholder="Desk <desk@example.org>" onInput=${set('replyTo')} /></label>
      <label>Signature (plain text)<textarea name="textSignature" rows="4" maxlength="16000"
        value=${f.textSignature} onInput=${set('textSignature')}></textarea></label>
      <label>Signature (HTML)<textarea name="htmlSignature" rows="4" class="code"
        value=${f.htmlSignature} onInput=${set('htmlSignature')}></textarea></label>
      <p class="muted">HTML signatures keep simple formatting and web or mail links; scripts, styles, images and other tags are removed.</p>
      ${kept !== null && html`<p class="notice" role="status" data-test="kept">The server kept the HTML signature as: <code>${kept}</code></p>`}
      <label class="check"><input type="checkbox" name="isDefault" checked=${f.isDefault}
        disabled=${list.find((i) => i.id === cur)?.isDefault} onChange=${set('isDefault')} /> The default identity for new messages</label>
      <div class="actions"><button class="primary" disabled=${a.busy}>Save</button></div>
      <${Status} a=${a} />
    </form>
  </section>`
}

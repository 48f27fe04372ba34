// settings-filters: the rules editor. Rules become one Sieve script
// (settings-sieve.js) stored and activated through SieveScript/set after
// SieveScript/validate (RFC 9661, the server's jmap-sieve.c on the script
// store deliver runs). A script written elsewhere is shown as Sieve with
// a warning and stays until the user saves rules over it.
import { useState, useEffect } from '../common/vendor/hooks.js'
import { html, useAction, Status, setFailure, errorText } from './settings-ui.js'
import * as S from './settings-sieve.js'

const FIELD_LABEL = { from: 'From', to: 'To or Cc', subject: 'Subject', header: 'Header', size: 'Size' }
const OP_LABEL = { contains: 'contains', notContains: 'does not contain', is: 'is', over: 'is over (KB)', under: 'is under (KB)' }
const ACTION_LABEL = { fileinto: 'Move to folder', redirect: 'Forward to', discard: 'Delete', flag: 'Mark as', noautoreply: 'Send no auto reply' }
const FLAG_LABEL = { '\\Seen': 'read', '\\Flagged': 'flagged', '\\Answered': 'answered' }

function newRule () {
  return {
    name: 'New rule',
    enabled: true,
    match: 'all',
    conditions: [{ field: 'subject', op: 'contains', value: '' }],
    actions: [{ type: 'fileinto', folder: '' }],
    stop: true
  }
}

// folderPaths - the mailboxes' full names ("Parent.Child", the store's
// separator), inbox first
function folderPaths (mailboxes) {
  const by = new Map(mailboxes.map((m) => [m.id, m]))
  const path = (m, d = 0) => (m.parentId && by.has(m.parentId) && d < 32
    ? path(by.get(m.parentId), d + 1) + '.' : '') + m.name
  return mailboxes.filter((m) => m.role !== 'inbox').map((m) => path(m)).sort()
}

export function Filters ({ jmap }) {
  const [rules, setRules] = useState(null)
  const [raw, setRaw] = useState(null)
  const [script, setScript] = useState(null)
  const [folders, setFolders] = useState([])
  const a = useAction()

  const load = async () => {
    const [q, boxes] = await jmap.batch([
      ['SieveScript/get', {}], ['Mailbox/get', { properties: ['name', 'parentId', 'role'] }]])
    setFolders(folderPaths(boxes.list))
    const mine = q.list.find((s) => s.name === S.SCRIPT_NAME)
    const active = q.list.find((s) => s.isActive)
    setScript(mine || null)
    const text = async (sc) => (await jmap.blob(sc.blobId, 'text/plain')).text()
    // the editor's own script as rules (or as Sieve when changed elsewhere)
    const got = mine ? S.fromSieve(await text(mine)) : { rules: [] }
    if (active && (!mine || active.id !== mine.id)) {
      // another script is the one deliver runs: shown, and the editor's
      // rules (if any) stay editable; saving makes them the active ones
      setRaw({
        raw: await text(active),
        warning: `Your active filter script "${active.name}" was not written here: it is shown as Sieve. Saving rules makes the rules editor's script the active one instead.`
      })
      setRules(got.rules || [])
    } else if (got.rules) {
      setRaw(null)
      setRules(got.rules)
    } else {
      setRaw(got)
      setRules([])
    }
  }
  useEffect(() => { a.run(load) }, [])

  if (rules === null) return html`<section id="set-filters"><${Status} a=${a} /><p class="loading">Loading…</p></section>`

  const upd = (i, patch) => setRules(rules.map((r, k) => k === i ? { ...r, ...patch } : r))
  const updIn = (i, list, j, patch) => upd(i, { [list]: rules[i][list].map((x, k) => k === j ? { ...x, ...patch } : x) })
  const move = (i, d) => {
    const n = rules.slice()
    const [r] = n.splice(i, 1)
    n.splice(i + d, 0, r)
    setRules(n)
  }

  const save = (e) => {
    e.preventDefault()
    let text
    try {
      text = S.toSieve(rules)
    } catch (err) {
      a.setError(err.message.charAt(0).toUpperCase() + err.message.slice(1) + '.')
      return
    }
    a.run(async () => {
      const up = await jmap.upload(new Blob([text], { type: 'application/sieve' }))
      const v = await jmap.call('SieveScript/validate', { blobId: up.blobId })
      if (v.error) throw new Error(`The server refused the script: ${errorText(v.error)}`)
      const args = script
        ? { update: { [script.id]: { blobId: up.blobId } }, onSuccessActivateScript: script.id }
        : { create: { f: { name: S.SCRIPT_NAME, blobId: up.blobId } }, onSuccessActivateScript: '#f' }
      const r = await jmap.call('SieveScript/set', args)
      const f = setFailure(r)
      if (f) throw f
      await load()
    }, rules.length ? `Saved: ${rules.length} rule${rules.length === 1 ? '' : 's'} active.` : 'Saved: no rules.')
  }

  return html`<section id="set-filters">
    <h3>Filters</h3>
    <p class="muted">Rules run on each message as it arrives, top to bottom.</p>
    ${raw && html`<div class="warning" role="note" data-test="raw-sieve">
      <p>${raw.warning}</p>
      <pre class="sieve">${raw.raw}</pre>
    </div>`}
    <form onSubmit=${save} noValidate>
      <ol class="rules">${rules.map((r, i) => html`<li class="rule" data-rule=${i}>
        <fieldset>
          <legend class="sr-only">Rule ${i + 1}</legend>
          <div class="rule-head">
            <label>Name<input name="ruleName" maxlength="200" value=${r.name} onInput=${(e) => upd(i, { name: e.target.value })} /></label>
            <label class="check"><input type="checkbox" name="enabled" checked=${r.enabled !== false}
              onChange=${(e) => upd(i, { enabled: e.target.checked })} /> On</label>
            <span class="rule-tools">
              <button type="button" aria-label="Move up" disabled=${i === 0} onClick=${() => move(i, -1)}>↑</button>
              <button type="button" aria-label="Move down" disabled=${i === rules.length - 1} onClick=${() => move(i, 1)}>↓</button>
              <button type="button" class="danger" onClick=${() => setRules(rules.filter((_, k) => k !== i))}>Remove rule</button>
            </span>
          </div>
          <label>When<select name="match" value=${r.match} onChange=${(e) => upd(i, { match: e.target.value })}>
            <option value="all">all conditions match</option><option value="any">any condition matches</option>
          </select></label>
          <ul class="conds">${r.conditions.map((c, j) => html`<li class="cond">
            <select name="field" aria-label="Field" value=${c.field} onChange=${(e) => {
              const field = e.target.value
              updIn(i, 'conditions', j, field === 'size' ? { field, op: 'over', value: 1024 }
                : { field, op: c.field === 'size' ? 'contains' : c.op, value: c.field === 'size' ? '' : c.value })
            }}>${S.FIELDS.map((x) => html`<option value=${x}>${FIELD_LABEL[x]}</option>`)}</select>
            ${c.field === 'header' && html`<input name="header" aria-label="Header name" placeholder="List-Id"
              value=${c.header || ''} onInput=${(e) => updIn(i, 'conditions', j, { header: e.target.value })} />`}
            <select name="op" aria-label="Comparison" value=${c.op} onChange=${(e) => updIn(i, 'conditions', j, { op: e.target.value })}>
              ${(c.field === 'size' ? S.OPS.size : S.OPS.text).map((x) => html`<option value=${x}>${OP_LABEL[x]}</option>`)}
            </select>
            ${c.field === 'size'
              ? html`<input name="value" type="number" min="1" aria-label="Size in KB" value=${c.value}
                  onInput=${(e) => updIn(i, 'conditions', j, { value: parseInt(e.target.value, 10) || 0 })} />`
              : html`<input name="value" aria-label="Text" maxlength="1000" value=${c.value}
                  onInput=${(e) => updIn(i, 'conditions', j, { value: e.target.value })} />`}
            <button type="button" class="link" aria-label="Remove condition"
              onClick=${() => upd(i, { conditions: r.conditions.filter((_, k) => k !== j) })}>×</button>
          </li>`)}</ul>
          <button type="button" class="link" onClick=${() => upd(i, { conditions: r.conditions.concat([{ field: 'from', op: 'contains', value: '' }]) })}>+ condition</button>
          ${r.conditions.length === 0 && html`<p class="muted">No condition: the rule applies to every message.</p>`}
          <ul class="acts">${r.actions.map((x, j) => html`<li class="act">
            <select name="action" aria-label="Action" value=${x.type} onChange=${(e) => {
              const type = e.target.value
              updIn(i, 'actions', j, type === 'fileinto' ? { type, folder: folders[0] || '' }
                : type === 'redirect' ? { type, address: '', copy: true } : type === 'flag' ? { type, flag: '\\Seen' } : { type })
            }}>${S.ACTIONS.map((t) => html`<option value=${t}>${ACTION_LABEL[t]}</option>`)}</select>
            ${x.type === 'fileinto' && html`<select name="folder" aria-label="Folder" value=${x.folder}
              onChange=${(e) => updIn(i, 'actions', j, { folder: e.target.value })}>
              <option value="">Choose a folder</option>
              ${folders.map((p) => html`<option value=${p}>${p}</option>`)}
              ${x.folder && !folders.includes(x.folder) && html`<option value=${x.folder}>${x.folder} (new)</option>`}
            </select>`}
            ${x.type === 'redirect' && html`<input name="address" type="email" aria-label="Forward to address"
              placeholder="name@example.org" value=${x.address} onInput=${(e) => updIn(i, 'actions', j, { address: e.target.value.trim() })} />
              <label class="check"><input type="checkbox" name="copy" checked=${!!x.copy}
                onChange=${(e) => updIn(i, 'actions', j, { copy: e.target.checked })} /> keep a copy</label>`}
            ${x.type === 'flag' && html`<select name="flag" aria-label="Flag" value=${x.flag}
              onChange=${(e) => updIn(i, 'actions', j, { flag: e.target.value })}>
              ${S.FLAGS.map((fl) => html`<option value=${fl}>${FLAG_LABEL[fl]}</option>`)}</select>`}
            ${r.actions.length > 1 && html`<button type="button" class="link" aria-label="Remove action"
              onClick=${() => upd(i, { actions: r.actions.filter((_, k) => k !== j) })}>×</button>`}
          </li>`)}</ul>
          <button type="button" class="link" onClick=${() => upd(i, { actions: r.actions.concat([{ type: 'flag', flag: '\\Seen' }]) })}>+ action</button>
          <label class="check"><input type="checkbox" name="stop" checked=${!!r.stop}
            onChange=${(e) => upd(i, { stop: e.target.checked })} /> Stop here (later rules do not run)</label>
        </fieldset>
      </li>`)}</ol>
      ${rules.length === 0 && html`<p class="empty">No rules.</p>`}
      <div class="actions">
        <button type="button" data-test="add-rule" onClick=${() => setRules(rules.concat([newRule()]))}>Add a rule</button>
        <button class="primary" disabled=${a.busy}>Save rules</button>
      </div>
      <${Status} a=${a} />
    </form>
  </section>`
}

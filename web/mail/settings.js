// settings.js - the webmail's settings (issue 16 item 3, issue 17 items 2,
// 3 and 7): auto responder, filters, identities and signatures, password,
// app passwords, two-factor login, passkeys and recent logins. The shell (app.js)
// shows Settings({ jmap, session }) at #/settings; jmap is its JMAP client
// (jmap.js). The server side is src/httpd/jmap-settings.c and
// jmap-identity.c (capability urn:postern:settings, docs/API.md).
//
// #/settings/<tab> names the tab shown (kept up to date with
// history.replaceState). Stable hooks for tests: #settings-nav buttons
// [data-tab], the sections
// #set-vacation, #set-filters, #set-identities, #set-password,
// #set-apppasswords, #set-twofactor, #set-passkeys, #set-logins.
import { useState, useEffect } from '../common/vendor/hooks.js'
import { html, useCaps, useAction, Status } from './settings-ui.js'
import { Filters } from './settings-filters.js'
import { Identities } from './settings-identities.js'
import { Password, AppPasswords, TwoFactor, Passkeys, Logins } from './settings-security.js'

const TABS = [
  ['vacation', 'Auto responder'], ['filters', 'Filters'],
  ['identities', 'Identities'], ['password', 'Password'],
  ['apppasswords', 'App passwords'], ['twofactor', 'Two-factor login'],
  ['passkeys', 'Passkeys'], ['logins', 'Recent logins']
]

// the page's own stylesheet (the CSP allows no inline style), once
function useStyles () {
  useEffect(() => {
    if (document.getElementById('settings-css')) return
    const l = document.createElement('link')
    l.id = 'settings-css'
    l.rel = 'stylesheet'
    l.href = new URL('settings.css', import.meta.url).href
    document.head.appendChild(l)
  }, [])
}

// the tab named by the address (#/settings/<tab>, the shell's route), or
// the first
function tabOfHash () {
  const m = /^#\/settings\/([a-z]+)/.exec(location.hash)
  return m && TABS.some(([k]) => k === m[1]) ? m[1] : TABS[0][0]
}

export function Settings ({ jmap, session }) {
  useCaps()
  useStyles()
  const [tab, setTabState] = useState(tabOfHash)
  // the address names the tab (reload and links keep it) without a
  // hashchange of its own, so the shell stays as it is
  const setTab = (k) => {
    setTabState(k)
    if (/^#\/settings(\/|$)/.test(location.hash)) history.replaceState(null, '', `#/settings/${k}`)
  }
  // the tab list's keys (WAI-ARIA tabs): arrows, Home and End move
  const onKey = (e) => {
    const i = TABS.findIndex(([k]) => k === tab)
    const to = { ArrowRight: i + 1, ArrowLeft: i - 1, Home: 0, End: TABS.length - 1 }[e.key]
    if (to === undefined) return
    e.preventDefault()
    const k = TABS[(to + TABS.length) % TABS.length][0]
    setTab(k)
    const b = e.currentTarget.querySelector(`[data-tab=${k}]`)
    if (b) b.focus()
  }
  // the current tab in sight (a phone's tab list scrolls sideways), also
  // once the page's stylesheet has come
  useEffect(() => {
    const show = () => {
      const b = document.getElementById(`settings-tab-${tab}`)
      if (b && b.scrollIntoView) b.scrollIntoView({ block: 'nearest', inline: 'nearest' })
    }
    show()
    const css = document.getElementById('settings-css')
    if (!css || css.sheet) return undefined
    css.addEventListener('load', show)
    return () => css.removeEventListener('load', show)
  }, [tab])
  const props = { jmap, session }
  const page = {
    vacation: Vacation,
    filters: Filters,
    identities: Identities,
    password: Password,
    apppasswords: AppPasswords,
    twofactor: TwoFactor,
    passkeys: Passkeys,
    logins: Logins
  }[tab]
  return html`<div class="settings">
    <h2>Settings</h2>
    <nav id="settings-nav" aria-label="Settings" role="tablist" onKeyDown=${onKey}>
      ${TABS.map(([k, label]) => html`<button role="tab" data-tab=${k} id=${`settings-tab-${k}`}
        aria-selected=${tab === k ? 'true' : 'false'} aria-controls="settings-panel"
        tabindex=${tab === k ? '0' : '-1'} class=${tab === k ? 'current' : ''}
        onClick=${() => setTab(k)}>${label}</button>`)}
    </nav>
    <div role="tabpanel" id="settings-panel" aria-labelledby=${`settings-tab-${tab}`} class="settings-page">
      <${page} key=${tab} ...${props} />
    </div>
  </div>`
}

// ---- auto responder (VacationResponse, RFC 8621 8) -------------------------

// local - a UTCDate as the value of a datetime-local input (local time)
function local (iso) {
  if (!iso) return ''
  const d = new Date(iso)
  const p = (n) => String(n).padStart(2, '0')
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`
}

function utc (v) {
  if (!v) return null
  const d = new Date(v)
  return isNaN(d) ? null : d.toISOString().replace(/\.\d+Z$/, 'Z')
}

function Vacation ({ jmap }) {
  const [v, setV] = useState(null)
  const [kept, setKept] = useState(null)
  const a = useAction()
  useEffect(() => {
    a.run(async () => {
      const r = await jmap.call('VacationResponse/get', { ids: ['singleton'] })
      const s = r.list[0] || {}
      setV({
        isEnabled: !!s.isEnabled,
        subject: s.subject || '',
        textBody: s.textBody || '',
        htmlBody: s.htmlBody || '',
        fromDate: local(s.fromDate),
        toDate: local(s.toDate)
      })
    })
  }, [])
  if (!v) return html`<section id="set-vacation"><${Status} a=${a} /><p class="loading">Loading…</p></section>`
  const set = (k) => (e) => setV({ ...v, [k]: e.target.type === 'checkbox' ? e.target.checked : e.target.value })
  const save = (e) => {
    e.preventDefault()
    if (v.fromDate && v.toDate && utc(v.fromDate) >= utc(v.toDate)) {
      a.setError('The end comes before the start.')
      return
    }
    a.run(async () => {
      const r = await jmap.call('VacationResponse/set', {
        update: {
          singleton: {
            isEnabled: v.isEnabled,
            subject: v.subject || null,
            textBody: v.textBody || null,
            htmlBody: v.htmlBody.trim() ? v.htmlBody : null,
            fromDate: utc(v.fromDate),
            toDate: utc(v.toDate)
          }
        }
      })
      const f = r.notUpdated && r.notUpdated.singleton
      if (f) throw f
      // the server keeps HTML in a safe subset and says so when it cut
      const changed = r.updated && r.updated.singleton
      if (changed && typeof changed.htmlBody === 'string') {
        setV({ ...v, htmlBody: changed.htmlBody })
        setKept(changed.htmlBody)
      } else {
        setKept(null)
      }
    }, v.isEnabled ? 'Saved: the auto responder is on.' : 'Saved: the auto responder is off.')
  }
  return html`<section id="set-vacation">
    <h3>Auto responder</h3>
    <p class="muted">Replies once per sender to mail you receive while it is on; never to lists or automatic mail.</p>
    <form onSubmit=${save}>
      <label class="check"><input type="checkbox" name="isEnabled" checked=${v.isEnabled}
        onChange=${set('isEnabled')} /> Send automatic replies</label>
      <div class="row2">
        <label>From (optional)<input type="datetime-local" name="fromDate" value=${v.fromDate} onInput=${set('fromDate')} /></label>
        <label>Until (optional)<input type="datetime-local" name="toDate" value=${v.toDate} onInput=${set('toDate')} /></label>
      </div>
      <label>Subject<input name="subject" maxlength="200" value=${v.subject}
        placeholder="Auto: the subject of the message" onInput=${set('subject')} /></label>
      <label>Message (plain text)<textarea name="textBody" rows="7" maxlength="20000"
        value=${v.textBody} onInput=${set('textBody')}></textarea></label>
      <label>Message as HTML (optional)<textarea name="htmlBody" rows="4" class="code" maxlength="60000"
        value=${v.htmlBody} onInput=${set('htmlBody')}></textarea></label>
      <p class="muted">With an HTML message, replies carry both and the recipient's mail program picks one. HTML keeps simple formatting and web or mail links; scripts, styles, images and other tags are removed.</p>
      ${kept !== null && html`<p class="notice" role="status" data-test="kept">The server kept the HTML message as: <code>${kept}</code></p>`}
      <div class="actions"><button class="primary" disabled=${a.busy}>Save</button></div>
      <${Status} a=${a} />
    </form>
  </section>`
}

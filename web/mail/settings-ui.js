// settings-ui: what the settings pages share: the JMAP calls (through the
// webmail's client, jmap.js), error texts, dates and a saving state.
// Everything typed by a user or sent by the server is rendered as text.
import { useState, useCallback } from '../common/vendor/hooks.js';
import { html } from '../common/html.js';
import { USING } from './jmap.js';

export { html };

// the capabilities the settings pages call on: the webmail's client sends
// the one "using" list it exports, so they are added to it (the server
// has them all: /jmap/mail/session)
export const CAPS = ['urn:ietf:params:jmap:vacationresponse',
  'urn:ietf:params:jmap:sieve', 'urn:postern:settings']
export function useCaps () {
  for (const c of CAPS) if (!USING.includes(c)) USING.push(c)
}

// errorText - a readable sentence for a JmapError or a SetError
export function errorText (e) {
  if (!e) return ''
  const d = e.description || (e.data && e.data.description) || e.message
  const t = e.type ? String(e.type) : ''
  if (d && d !== t) return d.charAt(0).toUpperCase() + d.slice(1) + (/[.!?]$/.test(d) ? '' : '.')
  return ({
    forbidden: 'Not allowed.',
    notFound: 'It no longer exists.',
    alreadyExists: 'That name is taken.',
    stateMismatch: 'Changed elsewhere meanwhile: reload the page.',
    overQuota: 'Too many of them.'
  })[t] || `The server refused it (${t || 'error'}).`
}

// setFailure - the first SetError of a /set answer, or null
export function setFailure (r) {
  for (const k of ['notCreated', 'notUpdated', 'notDestroyed']) {
    const v = r && r[k]
    if (v && Object.keys(v).length) return v[Object.keys(v)[0]]
  }
  return null
}

export function when (iso) {
  if (!iso) return 'never'
  const d = new Date(iso)
  return isNaN(d) ? iso : d.toLocaleString([], { dateStyle: 'medium', timeStyle: 'short' })
}

// useAction - run an async action with busy/error/ok state
export function useAction () {
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState('')
  const [ok, setOk] = useState('')
  const run = useCallback(async (fn, okText) => {
    setBusy(true)
    setError('')
    setOk('')
    try {
      const r = await fn()
      if (okText) setOk(typeof okText === 'function' ? okText(r) : okText)
      return r
    } catch (e) {
      setError(errorText(e))
      return undefined
    } finally {
      setBusy(false)
    }
  }, [])
  return { busy, error, ok, run, setError, setOk }
}

export function Status ({ a }) {
  if (a.error) return html`<p class="notice error" role="alert" data-test="error">${a.error}</p>`
  if (a.ok) return html`<p class="notice ok" role="status" data-test="ok">${a.ok}</p>`
  return null
}

let uid = 0
export function fieldId (name) {
  uid += 1
  return `set-${name}-${uid}`
}

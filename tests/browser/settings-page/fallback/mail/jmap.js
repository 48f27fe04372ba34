// Used by webmail-settings.mjs only while this tree has no
// web/mail/jmap.js (the webmail's JMAP client, another branch): the part
// of its contract the settings pages use: USING (the "using" list every
// request sends), getSession(), and Jmap's call, batch, upload and blob
// on the cookie session (every POST with X-Postern-CSRF).
export const USING = ['urn:ietf:params:jmap:core', 'urn:ietf:params:jmap:mail',
  'urn:ietf:params:jmap:submission']
const MAIL = 'urn:ietf:params:jmap:mail'
const CSRF = { 'X-Postern-CSRF': '1' }

export class JmapError extends Error {
  constructor (message, status, type, data) {
    super(message)
    Object.assign(this, { status, type, data: data || null })
  }
}

async function post (url, body, type) {
  const r = await fetch(url, {
    method: 'POST',
    credentials: 'same-origin',
    headers: { ...CSRF, 'Content-Type': type || 'application/json' },
    body: type ? body : JSON.stringify(body)
  })
  const data = await r.json().catch(() => null)
  if (!r.ok) {
    throw new JmapError((data && (data.detail || data.description)) || `The server answered ${r.status}.`,
      r.status, data && data.type, data)
  }
  return data
}

export async function getSession () {
  const r = await fetch('/jmap/mail/session', { credentials: 'same-origin', headers: CSRF })
  if (r.status === 401 || r.status === 403) return null
  if (!r.ok) throw new JmapError(`The server answered ${r.status}.`, r.status)
  return r.json()
}

export class Jmap {
  constructor (session) {
    this.session = session
    this.accountId = session.primaryAccounts[MAIL]
  }

  async batch (calls) {
    const methodCalls = calls.map(([name, args], i) =>
      [name, { accountId: this.accountId, ...(args || {}) }, `c${i}`])
    const out = await post(this.session.apiUrl, { using: USING, methodCalls })
    const res = []
    for (const [name, r, tag] of out.methodResponses) {
      if (name === 'error') throw new JmapError(r.description || r.type, 200, r.type, r)
      res[Number(tag.slice(1))] = r
    }
    return res
  }

  async call (name, args) {
    return (await this.batch([[name, args]]))[0]
  }

  downloadUrl (blobId, name, type) {
    return this.session.downloadUrl
      .replace('{accountId}', encodeURIComponent(this.accountId))
      .replace('{blobId}', encodeURIComponent(blobId))
      .replace('{name}', encodeURIComponent(name || 'download'))
      .replace('{type}', encodeURIComponent(type || 'application/octet-stream'))
  }

  async blob (blobId, type) {
    const r = await fetch(this.downloadUrl(blobId, 'blob', type), { credentials: 'same-origin', headers: CSRF })
    if (!r.ok) throw new JmapError(`The download failed (${r.status}).`, r.status)
    return new Blob([await r.blob()], { type })
  }

  async upload (file) {
    return post(this.session.uploadUrl.replace('{accountId}', encodeURIComponent(this.accountId)),
      file, file.type || 'application/octet-stream')
  }
}

// jmap.js - the webmail's JMAP client (RFC 8620, RFC 8621) on the mail
// endpoints of postern-httpd (src/httpd/jmap-http.c): the login sets the
// postern_session cookie; every POST carries X-Postern-CSRF. One Jmap
// object per session: call() and batch() send method calls in one
// request (back-references with '#' arguments work as the RFC says),
// upload() a blob, downloadUrl() for a blob, events() the push stream.

export const USING = ['urn:ietf:params:jmap:core', 'urn:ietf:params:jmap:mail',
  'urn:ietf:params:jmap:submission'];
const MAIL = 'urn:ietf:params:jmap:mail';

export class JmapError extends Error {
  constructor(message, status, type, data) {
    super(message);
    this.status = status;
    this.type = type;
    this.data = data || null;
  }
}

// post - a POST to the server (JSON unless headers say otherwise); a
// refusal rejects with a JmapError carrying the server's words
export async function post(path, body, headers) {
  const r = await fetch(path, {
    method: 'POST',
    credentials: 'same-origin',
    headers: Object.assign({ 'X-Postern-CSRF': '1' }, headers ||
      { 'Content-Type': 'application/json' }),
    body: headers ? body : JSON.stringify(body),
  });
  let data = null;
  try {
    data = await r.json();
  } catch (e) {
    data = null;
  }
  if (!r.ok) {
    const msg = (data && (data.detail || data.description)) ||
      `The server answered ${r.status}.`;
    throw new JmapError(msg, r.status, data && data.type, data);
  }
  return data;
}

// login - resolves on success; a second factor's challenge comes back as
// a JmapError of status 401 whose type ends in :totpEnrolment,
// :secondFactorRequired or :secondFactorFailed
// (see ../admin/twofactor.js); passkey: an assertion (the second factor,
// or with no user and password a passwordless login); remember: keep
// this browser as a known device when the server allows
export function login(user, password, code, passkey, remember) {
  const body = { login: user, password };
  if (code) body.code = code;
  if (passkey) body.passkey = passkey;
  if (remember) body.remember = true;
  return post('/jmap/mail/login', body);
}

// oidcOffer - whether the post office of a login name (by its domain or
// post office after '@', never by the mailbox) offers the login through
// its OpenID Connect provider: {postoffice, provider, start} or null
export async function oidcOffer(user) {
  const r = await fetch(`/jmap/mail/oidc/offer?login=${encodeURIComponent(user)}`,
    { credentials: 'same-origin' });
  if (!r.ok) return null;
  const o = await r.json();
  if (!o || !o.postoffice) return null;
  return Object.assign({
    start: `/jmap/mail/oidc/start?postoffice=${encodeURIComponent(o.postoffice)}`,
  }, o);
}

export function logout() {
  return post('/jmap/mail/logout', {});
}

// getSession - the Session resource, or null when not logged in
export async function getSession() {
  // the header also spares us a Basic challenge (the browser's own
  // password dialog) when the cookie is missing or stale
  const r = await fetch('/jmap/mail/session', {
    credentials: 'same-origin', headers: { 'X-Postern-CSRF': '1' },
  });
  if (r.status === 401 || r.status === 403) return null;
  if (!r.ok) throw new JmapError(`The server answered ${r.status}.`, r.status);
  return r.json();
}

export class Jmap {
  constructor(session) {
    this.session = session;
    this.accountId = session.primaryAccounts[MAIL];
    this.onAuthLost = null;
  }

  // batch - [[name, args], ...] in one request; resolves to the results
  // in order (accountId filled in); a method error rejects
  async batch(calls) {
    const methodCalls = calls.map(([name, args], i) =>
      [name, Object.assign({ accountId: this.accountId }, args || {}), `c${i}`]);
    let out;
    try {
      out = await post(this.session.apiUrl, { using: USING, methodCalls });
    } catch (e) {
      if (e.status === 401 && this.onAuthLost) this.onAuthLost();
      throw e;
    }
    const res = [];
    for (const [rname, r, tag] of out.methodResponses) {
      if (rname === 'error') {
        throw new JmapError(r.description || r.type, 200, r.type, r);
      }
      res[Number(tag.slice(1))] = r;
    }
    return res;
  }

  async call(name, args) {
    return (await this.batch([[name, args]]))[0];
  }

  downloadUrl(blobId, name, type) {
    return this.session.downloadUrl
      .replace('{accountId}', encodeURIComponent(this.accountId))
      .replace('{blobId}', encodeURIComponent(blobId))
      .replace('{name}', encodeURIComponent(name || 'download'))
      .replace('{type}', encodeURIComponent(type || 'application/octet-stream'));
  }

  // limits - what the session says one upload and one message's
  // attachments may weigh (bytes; Infinity when it says nothing)
  limits() {
    const core = this.session.capabilities['urn:ietf:params:jmap:core'] || {};
    const acct = this.session.accounts && this.session.accounts[this.accountId];
    const mail = (acct && acct.accountCapabilities && acct.accountCapabilities[MAIL]) || {};
    return {
      upload: core.maxSizeUpload || Infinity,
      attachments: mail.maxSizeAttachmentsPerEmail || Infinity,
    };
  }

  // blob - a blob fetched into the page, typed as asked
  async blob(blobId, type) {
    const r = await fetch(this.downloadUrl(blobId, 'blob', type),
      { credentials: 'same-origin', headers: { 'X-Postern-CSRF': '1' } });
    if (!r.ok) throw new JmapError(`The download failed (${r.status}).`, r.status);
    const b = await r.blob();
    return type ? new Blob([b], { type }) : b;
  }

  // upload - a File or Blob; resolves to { blobId, type, size }
  async upload(file) {
    const url = this.session.uploadUrl.replace('{accountId}',
      encodeURIComponent(this.accountId));
    return post(url, file, { 'Content-Type': file.type || 'application/octet-stream' });
  }

  // events - the push stream (RFC 8620 7.3): onChange() on every state
  // change; when the stream ends for good, onChange() is driven by
  // polling instead (the caller's poll() compares Email/changes). Returns
  // a function that stops both.
  events(onChange, poll) {
    let es = null;
    let timer = null;
    let stopped = false;
    const startPolling = () => {
      if (timer || stopped) return;
      timer = setInterval(async () => {
        try {
          if (await poll()) onChange();
        } catch (e) { /* the next round tries again */ }
      }, 30000);
    };
    if (typeof EventSource === 'function' && this.session.eventSourceUrl) {
      const url = this.session.eventSourceUrl.replace('{types}', '*')
        .replace('{closeafter}', 'no').replace('{ping}', '60');
      es = new EventSource(url, { withCredentials: true });
      // each (re)connection starts with the current states: only a
      // change from the last one seen is news (the first one too: what
      // changed between the first load and the stream)
      let last = null;
      es.addEventListener('state', (ev) => {
        if (ev.data === last) return;
        last = ev.data;
        onChange();
      });
      es.onerror = () => {
        // the browser reconnects by itself unless the stream is closed
        if (es.readyState === EventSource.CLOSED) startPolling();
      };
    } else {
      startPolling();
    }
    return () => {
      stopped = true;
      if (es) es.close();
      if (timer) clearInterval(timer);
    };
  }
}

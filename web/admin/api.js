// api.js - the JMAP client of the web admin (docs/API.md): one request per
// call list, the session cookie sent by the browser, the CSRF header on
// every POST. Errors come back as exceptions carrying the server's words.

export const USING = ['urn:ietf:params:jmap:core', 'urn:postern:admin'];

export class ApiError extends Error {
  constructor(message, status, type, properties) {
    super(message);
    this.status = status;
    this.type = type;
    this.properties = properties || [];
  }
}

export async function post(path, body) {
  const r = await fetch(path, {
    method: 'POST',
    credentials: 'same-origin',
    headers: { 'Content-Type': 'application/json', 'X-Postern-CSRF': '1' },
    body: JSON.stringify(body),
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
    const e = new ApiError(msg, r.status, data && data.type);
    e.data = data;   // a second-factor challenge's fields (twofactor.js)
    throw e;
  }
  return data;
}

export function login(user, password, code, passkey, remember) {
  const body = { login: user, password };
  if (code) body.code = code;
  if (remember) body.remember = true;
  if (passkey) body.passkey = passkey;
  return post('/api/login', body);
}

export function logout() {
  return post('/api/logout', {});
}

export async function session() {
  const r = await fetch('/jmap/session', { credentials: 'same-origin' });
  if (r.status === 401) return null;
  if (!r.ok) throw new ApiError(`The server answered ${r.status}.`, r.status);
  return r.json();
}

// call - one method; resolves to its result, rejects with a method error
export async function call(name, args) {
  const out = await post('/jmap/api', {
    using: USING,
    methodCalls: [[name, args || {}, 'c0']],
  });
  const [rname, res] = out.methodResponses[0];
  if (rname === 'error') {
    throw new ApiError(res.description || res.type, 200, res.type,
      res.properties);
  }
  return res;
}

// setOne - a /set of one object: the created/updated result or the
// SetError as an ApiError naming the properties at fault
export async function setOne(type, kind, id, value, extra) {
  const args = Object.assign({}, extra || {});
  if (kind === 'create') args.create = { [id]: value };
  else if (kind === 'update') args.update = { [id]: value };
  else args.destroy = [id];
  const res = await call(`${type}/set`, args);
  const failed = kind === 'create' ? res.notCreated :
    kind === 'update' ? res.notUpdated : res.notDestroyed;
  if (failed && failed[id]) {
    const e = failed[id];
    throw new ApiError(e.description || e.type, 200, e.type, e.properties);
  }
  return kind === 'create' ? res.created[id] : true;
}

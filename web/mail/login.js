// login.js - the webmail's login page (issue 17): the password, then the
// second factor when the mailbox has two-factor login on (TOTP
// enrolment with its QR code, a code from the app, by mail or a
// recovery code, or a passkey), a passwordless login with a passkey,
// and "Sign in with <provider>" when the name's post office offers its
// OpenID Connect login. The steps and the passkey calls are the web
// admin's (../admin/twofactor.js); the server side is the one web login
// of src/lib-admin/weblogin.c at POST /jmap/mail/login.
// Stable hooks for tests: #login, input[name=login|password|code],
// [data-test=second-factor|qr|secret|use-passkey|passkey-login|
// recovery-codes], button[type=submit], a.oidc-start.
import { useState, useEffect } from '../common/vendor/hooks.js';
import { html } from '../common/html.js';
import { secondFactor, CodeStep, RecoveryCodes, passkeyAssert, passkeyLogin,
  passkeysAvailable } from '../admin/twofactor.js';
import * as J from './jmap.js';
import { Notice } from './util.js';

const BASE = '/jmap/mail';

export function Login({ onLogin }) {
  const [user, setUser] = useState('');
  const [pw, setPw] = useState('');
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const [challenge, setChallenge] = useState(null);
  const [code, setCode] = useState('');
  const [recovery, setRecovery] = useState(null);
  const [remember, setRemember] = useState(false);
  const [oidc, setOidc] = useState(null);
  // "Sign in with <provider>" when the name's post office offers it
  useEffect(() => {
    const u = user.trim();
    if (!/@[^@\s]+$/.test(u)) { setOidc(null); return undefined; }
    let live = true;
    const t = setTimeout(() => {
      J.oidcOffer(u).then((o) => { if (live) setOidc(o); }).catch(() => {});
    }, 300);
    return () => { live = false; clearTimeout(t); };
  }, [user]);
  const failed = (err) => {
    const c = secondFactor(err);
    if (c) setChallenge(c);
    setCode('');
    if (!c || c.kind === 'secondFactorFailed' || challenge) setError(err.message);
  };
  const submit = async (e) => {
    e.preventDefault();
    setBusy(true);
    setError('');
    try {
      const r = await J.login(user.trim(), pw, challenge ? code.trim() : '', null,
        challenge && remember);
      setPw('');
      if (r && r.recoveryCodes) setRecovery(r.recoveryCodes);
      else onLogin();
    } catch (err) {
      failed(err);
    }
    setBusy(false);
  };
  // a passkey: passwordless, or the second factor of the challenge
  const withPasskey = async () => {
    setBusy(true);
    setError('');
    try {
      if (challenge && challenge.passkey) {
        await J.login(user.trim(), pw, '', await passkeyAssert(challenge.passkey), remember);
        setPw('');
      } else {
        await passkeyLogin(BASE);
      }
      onLogin();
    } catch (err) {
      const c = secondFactor(err);
      if (c) setChallenge(c);
      // the browser's own refusal (cancelled, no key for this site)
      setError(err && err.name === 'NotAllowedError' ?
        'No passkey was used (cancelled, or none is kept for this site).' : err.message);
    }
    setBusy(false);
  };
  if (recovery) return html`<${RecoveryCodes} html=${html} codes=${recovery} onDone=${onLogin} />`;
  return html`<main class="login" id="login">
    <h1>Postern mail</h1>
    <form onSubmit=${submit}>
      <label>Login <input name="login" autocomplete="username webauthn" placeholder="you@example.org"
        value=${user} onInput=${(e) => setUser(e.target.value)} required autofocus
        readonly=${!!challenge} /></label>
      <label>Password <input name="password" type="password" autocomplete="current-password"
        value=${pw} onInput=${(e) => setPw(e.target.value)} required=${!challenge}
        readonly=${!!challenge} /></label>
      ${challenge && html`<${CodeStep} html=${html} challenge=${challenge} code=${code} setCode=${setCode}
        onPasskey=${withPasskey} remember=${remember} setRemember=${setRemember} />`}
      <${Notice} error=${error} />
      <button type="submit" disabled=${busy}>Log in</button>
    </form>
    ${challenge && html`<p class="again"><button type="button" class="link" data-test="start-over"
      onClick=${() => { setChallenge(null); setCode(''); setPw(''); setError(''); }}>Start over</button></p>`}
    ${!challenge && passkeysAvailable() && html`<p class="passkey"><button type="button" class="link"
      data-test="passkey-login" disabled=${busy} onClick=${withPasskey}>Log in with a passkey</button></p>`}
    ${oidc && !challenge && html`<p class="oidc"><a class="button oidc-start" href=${oidc.start}>
      Sign in with ${oidc.provider}</a></p>`}
  </main>`;
}

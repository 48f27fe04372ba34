// twofactor.js - the second step of the login (issue 17; api.c's
// /api/login answers 401 with type ...:totpEnrolment, ...:secondFactorRequired
// or ...:secondFactorFailed when the mailbox has two-factor login on).
// Enrolment shows the QR code the server drew (an SVG as an <img> data
// URL: no markup of ours is injected) and the secret to type by hand;
// after it the recovery codes are shown once. Texts are rendered as text.

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
export function CodeStep({ html, challenge, code, setCode }) {
  const enrol = challenge.kind === 'totpEnrolment';
  const qr = enrol && challenge.qrSvg ?
    `data:image/svg+xml;base64,${btoa(challenge.qrSvg)}` : null;
  return html`<div class="second-factor" data-test="second-factor">
    ${enrol && html`<p>Scan this code with an authenticator app, then type the code it shows.</p>`}
    ${qr && html`<img class="qr" alt="QR code of the two-factor secret" src=${qr} data-test="qr" />`}
    ${enrol && html`<p class="muted">Or type the secret: <code data-test="secret">${challenge.secret}</code></p>`}
    <label>Code <input name="code" inputmode="numeric" autocomplete="one-time-code"
      value=${code} onInput=${(e) => setCode(e.target.value)} required /></label>
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

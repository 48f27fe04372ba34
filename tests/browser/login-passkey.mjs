// login-passkey.mjs - passkeys at the web admin's login in a real browser
// (Debian's chromium driven by playwright-core) with Chromium's virtual
// authenticator (DevTools protocol WebAuthn.enable and
// WebAuthn.addVirtualAuthenticator: CTAP2, resident keys, user
// verification), run by tests/integration/test_login_passkey_browser.py:
//   BASE     http://localhost:PORT (a host name: passkeys need one)
//   USER_PW  login:password of an ADMIN without two-factor
//   CLI      the postern binary and its -d root, space separated
//   SHOTS    directory for the screenshots
// A password login, a passkey added on the sessions page (listed by
// name), logout, a passwordless login with the passkey, then two-factor
// turned on with the CLI and the password login finished with the
// passkey as the second factor. The authenticator's sign counter moves
// with each use. The sessions page also lists the user's recent logins
// and the failed logins (the test made three from 127.0.0.77 before the
// run), and in another mailbox's details (MEMBER) its two-factor state,
// its passkey removed and its enrolment reset. Any console error other than the 401/403 answers of
// the login steps fails the run.
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import assert from 'node:assert/strict';
import {
  BASE, SHOTS, errors, launch,
} from './webadmin-lib.mjs';

const [USER, PW] = process.env.USER_PW.split(':');
const CLI = process.env.CLI.split(' ');
const MEMBER = process.env.MEMBER;

const cli = (...args) => execFileSync(CLI[0], [...CLI.slice(1), ...args]).toString();

const browser = await launch();
try {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await ctx.newPage();
  page.setDefaultTimeout(15000);
  page.on('console', (m) => {
    if (m.type() === 'error' && !/status of 40[13]/.test(m.text())) errors.push(m.text());
  });
  page.on('pageerror', (e) => errors.push(e.message));
  const cdp = await ctx.newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true,
      hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true },
  });
  const creds = async () => (await cdp.send('WebAuthn.getCredentials', { authenticatorId })).credentials;

  // a password login, then a passkey added on the sessions page
  await page.goto(`${BASE}/admin/`);
  await page.waitForSelector('[data-test=passkey-login]');
  await page.fill('input[name=login]', USER);
  await page.fill('input[name=password]', PW);
  await page.click('button[type=submit]');
  await page.waitForSelector('header .who');
  await page.goto(`${BASE}/admin/#/access`);
  await page.waitForSelector('[data-test=passkeys] input[name=passkey-name]');
  await page.fill('input[name=passkey-name]', 'Laptop <b>key</b>');
  await page.click('[data-test=passkeys] button[type=submit]');
  await page.waitForSelector('[data-test=passkey-row]');
  const row = await page.textContent('[data-test=passkey-row]');
  assert.ok(row.includes('Laptop <b>key</b>'), `the name shows as text: ${row}`);
  assert.ok(row.includes('ES256'), row);
  assert.equal(await page.$('[data-test=passkey-row] b'), null, 'markup injected');
  let c = await creds();
  assert.equal(c.length, 1);
  assert.equal(c[0].isResidentCredential, true);
  await page.screenshot({ path: path.join(SHOTS, 'passkey-list.png'), fullPage: true });

  // log out, then a passwordless login
  await page.click('header button.link');
  await page.waitForSelector('[data-test=passkey-login]');
  await page.click('[data-test=passkey-login]');
  await page.waitForSelector('header .who');
  assert.ok((await page.textContent('header .who')).includes(USER));
  c = await creds();
  assert.ok(c[0].signCount >= 1, `sign count ${c[0].signCount}`);
  const afterLogin = c[0].signCount;

  // the sessions page lists the user's own recent logins (GET /api/logins)
  await page.goto(`${BASE}/admin/#/access`);
  await page.waitForSelector('[data-test=recent-login]');
  const logins = await page.$$eval('[data-test=recent-login]', (rs) => rs.map((r) => r.textContent));
  assert.ok(logins.some((t) => t.includes('web') && /127\.0\.0\.1|::1/.test(t)), `recent logins: ${logins}`);

  // and the failed logins within the admin's reach (the test's three
  // wrong passwords from 127.0.0.77): per mailbox, per address, each
  await page.waitForSelector('[data-test=failed-login]');
  const cells = async (key) => page.$$eval(`[data-test=failed-login] td[data-key=${key}]`,
    (l) => l.map((d) => d.textContent));
  let names = await cells('mailbox');
  let counts = await cells('failures');
  const i = names.indexOf(USER);
  assert.ok(i >= 0 && Number(counts[i]) >= 3, `per mailbox: ${names} ${counts}`);
  await page.click('[data-test=failed-logins] button[data-by=address]');
  await page.waitForSelector('[data-test=failed-login] td[data-key=logins]');
  names = await cells('address');
  counts = await cells('failures');
  const j = names.indexOf('127.0.0.77');
  assert.ok(j >= 0 && Number(counts[j]) >= 3, `per address: ${names} ${counts}`);
  await page.click('[data-test=failed-logins] button[data-by=each]');
  await page.waitForSelector('[data-test=failed-login] td[data-key=reason]');
  const reasons = await cells('reason');
  assert.ok(reasons.some((r) => r.length > 0 && r !== '?'), `reasons: ${reasons}`);
  await page.screenshot({ path: path.join(SHOTS, 'failed-logins.png'), fullPage: true });

  // two-factor on: the password, then the passkey as the second factor
  cli('mailbox', 'set', USER, 'twofactor_mode=always');
  await page.click('header button.link');
  await page.waitForSelector('input[name=login]');
  await page.fill('input[name=login]', USER);
  await page.fill('input[name=password]', PW);
  await page.click('button[type=submit]');
  await page.waitForSelector('[data-test=use-passkey]');
  assert.equal(await page.$('[data-test=qr]'), null, 'TOTP enrolment asked of a passkey owner');
  await page.screenshot({ path: path.join(SHOTS, 'passkey-second-factor.png'), fullPage: true });
  await page.click('[data-test=use-passkey]');
  await page.waitForSelector('header .who');
  c = await creds();
  assert.ok(c[0].signCount > afterLogin, 'the counter moved');

  // another mailbox's login security in its details (MEMBER: two-factor
  // always, enrolled, one passkey): the passkey removed, the enrolment
  // reset, each with a second click
  await page.click('a[href="#/mailboxes"]');
  await page.fill('input[name=search]', MEMBER.split('@')[0]);
  await page.click('.toolbar button[type=submit]');
  const mrow = page.locator('[data-test=mailboxes] tr', { hasText: MEMBER });
  await mrow.waitFor();
  await mrow.locator('button', { hasText: 'Details' }).click();
  await page.waitForSelector('[data-test=mb-security] [data-test=mb-passkey]');
  const state = () => page.textContent('[data-test=mb-twofactor]');
  assert.match(await state(), /at every web login.*authenticator app set up.*10 recovery codes left.*1 passkeys/s);
  assert.equal(await page.locator('[data-test=mb-failure]').count(), 1, 'the failed login of the member');
  await page.screenshot({ path: path.join(SHOTS, 'mailbox-security.png'), fullPage: true });
  await page.click('[data-test=mb-passkey] button.danger');
  await page.click('[data-test=mb-passkey] button.danger');
  await page.waitForFunction(() => !document.querySelector('[data-test=mb-passkey]'));
  await page.click('[data-test=tf-reset]');
  assert.match(await page.textContent('[data-test=tf-reset]'), /^Yes/);
  await page.click('[data-test=tf-reset]');
  await page.waitForSelector('[data-test=mb-security] .notice.ok');
  assert.match(await state(), /authenticator app not set up.*0 recovery codes left.*0 passkeys/s);
  assert.deepEqual(errors, []);
  console.log('login passkey browser test: ok');
} finally {
  await browser.close();
}

// webmail-oidc.mjs - the webmail's "Sign in with <provider>" button in a
// real browser (Debian's chromium, playwright-core), run by
// tests/integration/test_login_oidc.py against its own OpenID provider:
//   BASE        http://127.0.0.1:PORT of postern-httpd
//   USER_LOGIN  an address of a mailbox of a post office with the login
//   OTHER       an address whose post office has no such login
//   PROVIDER    the provider's host:port the button must name
//   SHOTS, WEB_MODULES as for webmail-lib.mjs
// The button appears for USER_LOGIN's post office and not for OTHER's;
// clicking it goes through the provider and back to the webmail, which
// shows the mailbox list of USER_LOGIN's mailbox, no password typed.
import assert from 'node:assert/strict';
import { BASE, USER, errors, launch, watch, shot, shotAll } from './webmail-lib.mjs';

const OTHER = process.env.OTHER;
const PROVIDER = process.env.PROVIDER;

const browser = await launch();
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  watch(page, 'oidc');
  await page.goto(`${BASE}/`);
  assert.match(page.url(), /\/mail\/$/);
  await page.waitForSelector('input[name=login]');
  // a post office without the outside login: no button
  const none = page.waitForResponse((r) => r.url().includes('/jmap/mail/oidc/offer?') &&
    r.url().includes(encodeURIComponent(OTHER)));
  await page.fill('input[name=login]', OTHER);
  assert.deepEqual(await (await none).json(), {});
  assert.equal(await page.locator('a.oidc-start').count(), 0);
  // the post office with it: the button names the provider
  await page.fill('input[name=login]', USER);
  const btn = page.locator('a.oidc-start');
  await btn.waitFor();
  assert.equal((await btn.textContent()).trim(), `Sign in with ${PROVIDER}`);
  await shot(page, 'webmail-oidc-login');
  await btn.click();
  // provider, callback, "/" and back to the webmail, logged in
  await page.waitForSelector('#folders .folder[data-role=inbox]', { state: 'attached' });
  await page.waitForSelector('#messages');
  assert.match(page.url(), /\/mail\/(#.*)?$/);
  const who = await page.locator('header .who').textContent();
  assert.ok(who.trim().startsWith(`${USER.split('@')[0]}@`), who);
  await shot(page, 'webmail-oidc-mailboxes');
} catch (e) {
  await shotAll(browser);
  throw e;
} finally {
  await browser.close();
}
assert.deepEqual(errors, []);
console.log('webmail-oidc: ok');

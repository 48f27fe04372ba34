// login-totp.mjs - the web admin's two-factor login step in a real
// browser (Debian's chromium driven by playwright-core), run by
// tests/integration/test_login_browser.py:
//   BASE   http://127.0.0.1:PORT
//   USER   login:password of an ADMIN whose twofactor_mode is always
//   SHOTS  directory for the screenshots
// The first login shows the QR code (an image that loads under the CSP)
// and the secret; a code made by oathtool enrols and the recovery codes
// are shown once; the next login asks for a code only, refuses a wrong
// one with a message and takes the right one. Any console error other
// than the 401 answers of the login fails the run.
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import assert from 'node:assert/strict';
import {
  BASE, SHOTS, errors, launch,
} from './webadmin-lib.mjs';

const [USER, PW] = process.env.USER_PW.split(':');

function totp(secret, offset) {
  const at = Math.floor(Date.now() / 1000) + (offset || 0);
  return execFileSync('oathtool', ['--totp', '-b', secret, '-N', `@${at}`])
    .toString().trim();
}

const browser = await launch();
try {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await ctx.newPage();
  page.setDefaultTimeout(15000);
  page.on('console', (m) => {
    if (m.type() === 'error' && !/status of 401/.test(m.text())) errors.push(m.text());
  });
  page.on('pageerror', (e) => errors.push(e.message));

  await page.goto(`${BASE}/admin/`);
  await page.fill('input[name=login]', USER);
  await page.fill('input[name=password]', PW);
  await page.click('button[type=submit]');
  await page.waitForSelector('[data-test=second-factor]');
  const qrWidth = await page.$eval('[data-test=qr]', (i) => i.naturalWidth);
  assert.ok(qrWidth > 50, `QR code image did not load (${qrWidth})`);
  const secret = (await page.textContent('[data-test=secret]')).trim();
  assert.match(secret, /^[A-Z2-7]{32}$/);
  await page.screenshot({ path: path.join(SHOTS, 'totp-enrol.png'), fullPage: true });
  await page.fill('input[name=code]', totp(secret));
  await page.click('button[type=submit]');
  await page.waitForSelector('[data-test=recovery-codes]');
  const codes = await page.$$eval('[data-test=recovery-codes] li', (l) => l.length);
  assert.equal(codes, 10);
  await page.click('main.login button');
  await page.waitForSelector('header .who');

  await page.click('header button.link');
  await page.waitForSelector('input[name=login]');
  await page.fill('input[name=login]', USER);
  await page.fill('input[name=password]', PW);
  await page.click('button[type=submit]');
  await page.waitForSelector('input[name=code]');
  assert.equal(await page.$('[data-test=qr]'), null, 'QR code shown again');
  await page.fill('input[name=code]', totp(secret, 30) === '000000' ? '111111' : '000000');
  await page.click('button[type=submit]');
  await page.waitForSelector('[data-test=error]');
  await page.fill('input[name=code]', totp(secret, 30));
  await page.click('button[type=submit]');
  await page.waitForSelector('header .who');
  assert.deepEqual(errors, []);
  console.log('login totp browser test: ok');
} finally {
  await browser.close();
}

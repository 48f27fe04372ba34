// webmail-lib.mjs - what the webmail's browser scripts share (webmail.mjs,
// webmail-hostile.mjs): Debian's chromium through playwright-core, the
// console watch, screenshots, login and the list/reader helpers. The
// scripts read their environment (set by tests/integration/webmail_util.py):
//   BASE         http://127.0.0.1:PORT of postern-httpd
//   USER_LOGIN   USER_PW   the mailbox (alice@acme)
//   SHOTS        directory for the screenshots
//   WEB_MODULES  web/node_modules (playwright-core)
import { createRequire } from 'node:module';
import path from 'node:path';
import assert from 'node:assert/strict';

const require = createRequire(import.meta.url);
export const { chromium } = require(path.resolve(process.env.WEB_MODULES, 'playwright-core'));

export const BASE = process.env.BASE;
export const USER = process.env.USER_LOGIN;
export const PW = process.env.USER_PW;
export const SHOTS = process.env.SHOTS;
const T = 20000;
export const errors = [];
const t0 = Date.now();

// step - the time each part took, in the test's output
export const step = (what) => console.log(`${((Date.now() - t0) / 1000).toFixed(1)}s ${what}`);

export function launch() {
  return chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
}

// watch - console errors, page errors and dialogs of a page become
// failures (in errors), but for the expected ones
export function watch(page, label) {
  page.on('console', (m) => {
    const t = m.text();
    const url = (m.location() && m.location().url) || '';
    // expected: the session probe before login (401), the wrong password
    // (401), settings.js when the settings pages are not installed (404),
    // and what the reader frame's CSP refuses once images are allowed
    // (fonts, imports: reported as CSP violations)
    if (m.type() !== 'error') return;
    if (/status of 401/.test(t)) return;
    if (/settings\.js/.test(url) || /settings\.js/.test(t)) return;
    if (page.allowCsp && /Content Security Policy/.test(t)) return;
    // the app parses a message's HTML in inert documents (DOMPurify's,
    // reader.js's) that inherit the app's CSP: the inline styles,
    // handlers and <base> of a mail are reported as blocked there, which
    // is how it should be; they never reach a live document unsanitised
    if (/Content Security Policy/.test(t) && /\/(mail\/reader|common\/vendor\/purify)\.js$/.test(url)) return;
    errors.push(`${label}: ${t} ${url}`);
  });
  page.on('pageerror', (e) => errors.push(`${label}: ${e.message}`));
  page.on('dialog', (d) => { errors.push(`${label}: unexpected dialog ${d.message()}`); d.dismiss(); });
  page.setDefaultTimeout(T);
}

export async function shot(page, name) {
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`) });
}

// shotAll - every open page, after a failure
export async function shotAll(browser) {
  for (const c of browser.contexts()) {
    for (const [i, pg] of c.pages().entries()) {
      await pg.screenshot({ path: path.join(SHOTS, `webmail-failed-${i}.png`) }).catch(() => {});
    }
  }
}

export async function login(page) {
  await page.goto(`${BASE}/`);
  assert.match(page.url(), /\/mail\/$/);
  await page.fill('input[name=login]', USER);
  await page.fill('input[name=password]', PW);
  await page.click('button[type=submit]');
  await page.waitForSelector('header button.logout');
  await page.waitForSelector('#folders .folder[data-role=inbox]', { state: 'attached' });
}

export async function openFolder(page, role) {
  await page.click(`#folders .folder[data-role=${role}]`);
  await page.waitForFunction((r) => document.querySelector('#folders .folder.current')?.dataset.role === r, role);
}

export async function openSubject(page, subject) {
  const row = page.locator('#messages .msg', { hasText: subject }).first();
  await row.click();
  await page.waitForSelector(`#reader .reader-top h2:has-text(${JSON.stringify(subject)})`);
}

export async function search(page, text) {
  await page.fill('#q', text);
  await page.press('#q', 'Enter');
}

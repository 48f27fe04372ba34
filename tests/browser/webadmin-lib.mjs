// webadmin-lib.mjs - what the web admin's browser scripts share
// (webadmin*.mjs): Debian's chromium through playwright-core, the console
// watch, full-page screenshots, login and logout. The scripts read their
// environment (set by their tests/integration/test_*browser*.py):
//   BASE         http://127.0.0.1:PORT of postern-httpd
//   SHOTS        directory for the screenshots
//   WEB_MODULES  web/node_modules (playwright-core)
// (the webmail's scripts share webmail-lib.mjs)
import { createRequire } from 'node:module';
import path from 'node:path';

const require = createRequire(import.meta.url);
export const { chromium } = require(path.resolve(process.env.WEB_MODULES, 'playwright-core'));

export const BASE = process.env.BASE;
export const SHOTS = process.env.SHOTS;
export const T = 15000;
export const errors = [];

// cred - 'login:password' of an environment variable as [login, password]
export const cred = (name) => process.env[name].split(':');

export function launch() {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
}

// watch - console errors, page errors and dialogs of a page become
// failures (in errors); the session probe before login and a wrong
// password answer 401 by design (a refused request of an ADMIN is a 200
// with a method error, not logged)
export function watch(page, label) {
  page.on('console', (m) => {
    if (m.type() === 'error' && !/status of 401/.test(m.text())) {
      errors.push(`${label}: ${m.text()}`);
    }
  });
  page.on('pageerror', (e) => errors.push(`${label}: ${e.message}`));
  page.on('dialog', (d) => { errors.push(`${label}: unexpected dialog ${d.message()}`); d.dismiss(); });
  page.setDefaultTimeout(T);
}

export async function shot(page, name) {
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
}

export async function login(page, user, pw) {
  await page.goto(`${BASE}/admin/`);
  await page.fill('input[name=login]', user);
  await page.fill('input[name=password]', pw);
  await page.click('button[type=submit]');
  await page.waitForSelector('header .who');
}

export async function logout(page) {
  await page.click('header .who button.link');
  await page.waitForSelector('input[name=login]');
}

// navTo - follow the top navigation's link to #/route as a person does:
// on a phone the links are behind the menu button (aria-expanded), which
// is opened first
export async function navTo(page, route) {
  const toggle = page.locator('header .menu-toggle');
  if (await toggle.isVisible() && (await toggle.getAttribute('aria-expanded')) !== 'true') {
    await toggle.click();
  }
  await page.click(`header nav a[href="#/${route}"]`);
}

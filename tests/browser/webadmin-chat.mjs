// webadmin-chat.mjs - the web admin's chat page in a real browser
// (chromium by playwright-core), run by
// tests/integration/test_admin_chat.py::test_chat_page_in_chromium:
//   BASE, ADMIN (login:password of post office acme's ADMIN), SHOTS,
//   WEB_MODULES
// The ADMIN makes a members-only room whose name is markup (shown as
// text), invites an outside address for alice, revokes the invitation
// after confirming, and is told why a bad invitation is refused; desktop
// and 390 px phone screenshots; any console error fails.
import { createRequire } from 'node:module';
import path from 'node:path';
import assert from 'node:assert/strict';

const require = createRequire(import.meta.url);
const { chromium } = require(path.resolve(process.env.WEB_MODULES, 'playwright-core'));

const BASE = process.env.BASE;
const [ADM, ADMPW] = process.env.ADMIN.split(':');
const SHOTS = process.env.SHOTS;
const errors = [];
const T = 15000;
const EVIL = '<b>Board</b><img src=x onerror="window.__xss=1">';

function watch(page, label) {
  page.on('console', (m) => {
    if (m.type() === 'error' && !/status of 401/.test(m.text())) {
      errors.push(`${label}: ${m.text()}`);
    }
  });
  page.on('pageerror', (e) => errors.push(`${label}: ${e.message}`));
  page.on('dialog', (d) => { errors.push(`${label}: unexpected dialog ${d.message()}`); d.dismiss(); });
  page.setDefaultTimeout(T);
}

async function shot(page, name) {
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
}

async function login(page) {
  await page.goto(`${BASE}/admin/`);
  await page.fill('input[name=login]', ADM);
  await page.fill('input[name=password]', ADMPW);
  await page.click('button[type=submit]');
  await page.waitForSelector('header .who');
}

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--no-first-run'],
});
try {
  const desk = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await desk.newPage();
  watch(page, 'desktop');
  await login(page);
  await page.click('header nav a:has-text("Chat")');
  await page.waitForSelector('[data-test=chat-rooms]');

  // a room whose name is markup
  await page.fill('input[name=room-jid]', 'board@conference.acme.test');
  await page.fill('input[name=room-owner]', 'alice@acme');
  await page.fill('input[name=room-name]', EVIL);
  await page.check('input[name=room-members-only]');
  await page.click('[data-test=room-form] button[type=submit]');
  await page.waitForSelector('[data-test=chat-rooms] td:has-text("board@conference.acme.test")');
  const row = await page.textContent('[data-test=chat-rooms] tbody');
  assert.ok(row.includes(EVIL), 'the name is shown as typed');
  assert.equal(await page.evaluate(() => window.__xss), undefined);
  assert.equal(await page.locator('[data-test=chat-rooms] tbody b').count(), 0);

  // a bad invitation: told why
  await page.fill('input[name=guest-address]', 'bob@acme.test');
  await page.fill('input[name=guest-inviter]', 'alice@acme.test');
  await page.click('[data-test=guest-form] button[type=submit]');
  await page.waitForSelector('[data-test=chat-guests] [data-test=error]');
  assert.match(await page.textContent('[data-test=chat-guests] [data-test=error]'),
    /domain of this server/);

  // an invitation, then its revocation
  await page.fill('input[name=guest-address]', 'client@outside.example');
  await page.fill('input[name=guest-inviter]', 'alice@acme.test');
  await page.fill('input[name=guest-days]', '3');
  await page.click('[data-test=guest-form] button[type=submit]');
  await page.waitForSelector('[data-test=chat-guests] [data-test=ok]');
  assert.match(await page.textContent('[data-test=chat-guests] [data-test=ok]'),
    /client@outside\.example was mailed a temporary login as guest~/);
  await page.waitForSelector('[data-test=chat-guests] td:has-text("client@outside.example")');
  await shot(page, 'chat-desktop');
  await page.click('[data-test=chat-guests] button:has-text("Revoke")');
  await page.click('[data-test=confirm-yes]');
  await page.waitForSelector('[data-test=chat-guests] .badge:has-text("revoked")');
  await shot(page, 'chat-revoked');

  // the phone width: nothing wider than the screen
  const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true });
  const pp = await phone.newPage();
  watch(pp, 'phone');
  await login(pp);
  await pp.goto(`${BASE}/admin/#/chat`);
  await pp.waitForSelector('[data-test=chat-guests] td:has-text("client@outside.example")');
  const wide = await pp.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(wide <= 390, `the chat page is ${wide}px wide on a 390px phone`);
  await shot(pp, 'phone-chat');

  assert.deepEqual(errors, []);
  console.log('webadmin chat browser test: ok');
} finally {
  await browser.close();
}

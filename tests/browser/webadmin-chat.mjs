// webadmin-chat.mjs - the web admin's chat page in a real browser
// (chromium by playwright-core), run by
// tests/integration/test_admin_chat.py::test_chat_page_in_chromium:
//   BASE, ADMIN (login:password of post office acme's ADMIN), SHOTS,
//   WEB_MODULES
// The ADMIN makes a members-only room whose name is markup (shown as
// text), invites an outside address for alice, revokes the invitation
// after confirming, and is told why a bad invitation is refused; desktop
// and 390 px phone screenshots; any console error fails.
import assert from 'node:assert/strict';
import {
  BASE, SHOTS, errors, watch, shot, login as loginAs, launch,
} from './webadmin-lib.mjs';

const [ADM, ADMPW] = process.env.ADMIN.split(':');
const EVIL = '<b>Board</b><img src=x onerror="window.__xss=1">';

const login = (page) => loginAs(page, ADM, ADMPW);

const browser = await launch();
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

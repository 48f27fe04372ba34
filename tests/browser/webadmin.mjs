// webadmin.mjs - the web admin in a real browser (Debian's chromium driven
// by playwright-core), run by tests/integration/test_webadmin_browser.py:
//   BASE     http://127.0.0.1:PORT
//   SYS      login:password of a SYSADMIN
//   SHOTS    directory for the screenshots
// A SYSADMIN logs in and creates a post office with a web admin limit of
// 3 mailboxes; its ADMIN logs in and creates mailboxes until the limit
// refuses one with a clear message, edits and deletes one (with the
// confirmation), sees only its own post office, and a display name with
// markup shows as text. Desktop and phone widths, screenshots of each
// screen. Any console error (a CSP violation included) fails the run.
import assert from 'node:assert/strict';
import {
  BASE, SHOTS, errors, watch, shot, login, logout, launch,
  navTo,
} from './webadmin-lib.mjs';

const [SYS, SYSPW] = process.env.SYS.split(':');
const PO = 'delta';
const POPW = 'Dl-Secret-4417';

async function createMailbox(page, name, pw, friendly) {
  await page.fill('input[name=mb-name]', name);
  await page.fill('input[name=mb-password]', pw);
  if (friendly) await page.fill('input[name=mb-friendly]', friendly);
  await page.click('[data-test=mb-create] button[type=submit]');
  await page.waitForSelector('[data-test=ok], [data-test=error]');
  const err = await page.$('[data-test=error]');
  const text = await (err || await page.$('[data-test=ok]')).textContent();
  return { ok: !err, text };
}

const browser = await launch();
try {
  // ---- SYSADMIN, desktop -------------------------------------------------
  const desk = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  let page = await desk.newPage();
  watch(page, 'desktop');
  await page.goto(`${BASE}/admin/`);
  await page.waitForSelector('input[name=login]');
  await shot(page, 'desktop-login');
  // a wrong password is told in words
  await page.fill('input[name=login]', SYS);
  await page.fill('input[name=password]', 'not-the-password');
  await page.click('button[type=submit]');
  await page.waitForSelector('[data-test=error]');
  assert.match(await page.textContent('[data-test=error]'), /Wrong login or password/);
  await login(page, SYS, SYSPW);
  await page.waitForSelector('[data-test=services] td');
  assert.match(await page.textContent('[data-test=services]'), /httpd/);
  assert.equal(await page.locator('text=posternd not running').count(), 0);
  await shot(page, 'desktop-dashboard');

  await navTo(page, 'postoffices');
  await page.fill('input[name=po-name]', PO);
  await page.fill('input[name=po-password]', POPW);
  await page.fill('input[name=po-max]', '3');
  await page.click('[data-test=po-create] button[type=submit]');
  await page.waitForSelector('[data-test=ok]');
  assert.match(await page.textContent('[data-test=ok]'), /Post office delta created/);
  await page.waitForSelector(`[data-test=postoffices] a[href="#/mailboxes/${PO}"]`);
  await shot(page, 'desktop-postoffices');

  await navTo(page, 'settings');
  await page.waitForSelector('input[name="http.max_body"]');
  await page.fill('input[name=settings-filter]', 'http.');
  await shot(page, 'desktop-settings');
  // a value out of range is refused, naming the setting; nothing saved
  await page.fill('input[name="http.listen"]', 'not-an-address');
  await page.click('[data-test=settings] button[type=submit]');
  await page.waitForSelector('.setting.invalid');
  assert.match(await page.textContent('.setting.invalid'), /http.listen/);
  assert.match(await page.textContent('[data-test=error]'), /Nothing was saved/);
  await shot(page, 'desktop-settings-invalid');
  await logout(page);

  // ---- the post office's ADMIN, desktop ------------------------------------
  await login(page, `postmaster@${PO}`, POPW);
  await navTo(page, 'mailboxes');
  await page.waitForSelector('[data-test=mailboxes] tbody tr');
  const evil = '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>';
  const made = [];
  let refused = null;
  for (let i = 0; i < 5 && !refused; i++) {
    const r = await createMailbox(page, `user${i}`, `User-${i}-Secret-xy`, i === 0 ? evil : '');
    if (r.ok) made.push(i); else refused = r.text;
  }
  assert.deepEqual(made, [0, 1], `created ${made}`);
  assert.match(refused, /at most 3 mailboxes/);
  assert.match(refused, /webadmin_max_mailboxes/);
  await shot(page, 'desktop-mailbox-limit');
  // markup typed by a user is text
  const cell = page.locator('[data-test=mailboxes] tr', { hasText: `user0@${PO}` }).locator('td[data-label=Name]');
  assert.equal(await cell.textContent(), evil);
  assert.equal(await page.evaluate(() => window.__xss), undefined);
  assert.equal(await page.locator('[data-test=mailboxes] img').count(), 0);
  // only its own post office
  const table = await page.textContent('[data-test=mailboxes]');
  assert.ok(!table.includes('@hq'), 'an ADMIN sees another post office');
  assert.equal(await page.locator('select[name=po-filter]').count(), 0);
  // edit: quota and disable
  const row1 = page.locator('[data-test=mailboxes] tr', { hasText: `user1@${PO}` });
  await row1.locator('button', { hasText: 'Edit' }).click();
  await page.fill('input[name=edit-quota]', '50');
  await page.check('input[name=edit-disabled]');
  await page.click('[data-test=mb-edit] button[type=submit]');
  await page.waitForSelector(`text=Mailbox user1@${PO} saved.`);
  const row1b = page.locator('[data-test=mailboxes] tr', { hasText: `user1@${PO}` });
  // the list reloads from the server with the new values
  await row1b.filter({ hasText: '50 MB' }).waitFor();
  assert.match(await row1b.textContent(), /50 MB/);
  assert.match(await row1b.textContent(), /disabled/);
  // delete: asks first; Cancel keeps it, Delete removes it
  await row1b.locator('button', { hasText: 'Delete' }).click();
  await page.waitForSelector('[role=dialog]');
  await shot(page, 'desktop-delete-confirm');
  await page.click('[role=dialog] button:has-text("Cancel")');
  assert.equal(await page.locator(`[data-test=mailboxes] tr:has-text("user1@${PO}")`).count(), 1);
  await row1b.locator('button', { hasText: 'Delete' }).click();
  await page.click('[data-test=confirm-yes]');
  await page.waitForSelector(`text=Mailbox user1@${PO} deleted.`);
  // the list reloads from the server: the row goes
  await page.locator(`[data-test=mailboxes] tr:has-text("user1@${PO}")`).waitFor({ state: 'detached' });
  await page.waitForSelector('[data-test=mb-total]:has-text("(2)")');
  // search on the server
  await page.fill('input[name=search]', 'user0');
  await page.click('.toolbar button[type=submit]');
  await page.waitForSelector('[data-test=mb-total]:has-text("(1)")');
  await desk.close();

  // ---- phone width ---------------------------------------------------------
  const phone = await browser.newContext({
    viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true,
  });
  page = await phone.newPage();
  watch(page, 'phone');
  await page.goto(`${BASE}/admin/`);
  await page.waitForSelector('input[name=login]');
  await shot(page, 'phone-login');
  await login(page, `postmaster@${PO}`, POPW);
  await navTo(page, 'mailboxes');
  await page.waitForSelector('[data-test=mailboxes] tbody tr');
  await shot(page, 'phone-mailboxes');
  // nothing wider than the screen
  const wide = await page.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(wide <= 390, `page is ${wide}px wide on a 390px phone`);
  await logout(page);
  await login(page, SYS, SYSPW);
  await shot(page, 'phone-dashboard');
  await navTo(page, 'settings');
  await page.waitForSelector('input[name="http.max_body"]');
  await page.fill('input[name=settings-filter]', 'http.');
  await shot(page, 'phone-settings');
  const wide2 = await page.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(wide2 <= 390, `settings are ${wide2}px wide on a 390px phone`);
  await phone.close();
} finally {
  await browser.close();
}
assert.deepEqual(errors, [], `console errors:\n${errors.join('\n')}`);
console.log('webadmin browser test: ok');

// webadmin-quarantine.mjs - the quarantine page and the sending limits
// panel of the web admin in a real browser (chromium by playwright-core),
// run by tests/integration/test_webadmin_browser.py::
// test_webadmin_quarantine:
//   BASE, SYS (login:password of a SYSADMIN), SUBJECT (the subject of
//   the one quarantined message: markup), REASON (the suspended
//   mailbox's reason: markup), SHOTS, WEB_MODULES
// The SYSADMIN finds the quarantined message listed with its subject as
// text, opens its details (the virus name, the header), deletes nothing,
// releases it through the confirm step and sees the quarantine empty;
// the queue page's panel shows the suspended mailbox with its reason as
// text, releases the mail the suspension held (after a confirm step)
// and unsuspends the mailbox. Desktop and 390 px phone screenshots; any console error fails.
import assert from 'node:assert/strict';
import {
  BASE, errors, SHOTS, watch, shot, login as loginAs, launch,
  navTo,
} from './webadmin-lib.mjs';

const [SYS, SYSPW] = process.env.SYS.split(':');
const { SUBJECT, REASON } = process.env;

const login = (page) => loginAs(page, SYS, SYSPW);

async function noMarkup(page, where) {
  // the markup was not made into elements, and nothing ran
  assert.equal(await page.locator(`${where} img, ${where} b`).count(), 0, `markup rendered in ${where}`);
  assert.equal(await page.evaluate(() => window.__xss), undefined);
}

const browser = await launch();
try {
  // phone first: the list and the details fit 390 px
  const phone = await browser.newContext({
    viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true,
  });
  let page = await phone.newPage();
  watch(page, 'phone');
  await login(page);
  await page.goto(`${BASE}/admin/#/quarantine`);
  await page.waitForSelector('[data-test=q-open]');
  assert.equal(await page.textContent('[data-test=q-open]'), SUBJECT);
  await page.click('[data-test=q-open]');
  await page.waitForSelector('[data-test=q-reason]');
  const wide = await page.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(wide <= 390, `the quarantine page is ${wide}px wide on a 390px phone`);
  await shot(page, 'phone-quarantine');
  await page.goto(`${BASE}/admin/#/queue`);
  await page.waitForSelector('[data-test=held-release]');
  const wideq = await page.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(wideq <= 390, `the sending limits panel is ${wideq}px wide on a 390px phone`);
  await shot(page, 'phone-sendlimits');
  await phone.close();

  const desk = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  page = await desk.newPage();
  watch(page, 'desktop');
  await login(page);
  await navTo(page, 'quarantine');
  await page.waitForSelector('[data-test=q-open]');
  assert.equal(await page.locator('[data-test=quarantine] tbody tr').count(), 1);
  assert.equal(await page.textContent('[data-test=q-open]'), SUBJECT);
  assert.match(await page.textContent('[data-test=quarantine-total]'), /\(1\)/);
  await page.click('[data-test=q-open]');
  await page.waitForSelector('[data-test=q-reason]');
  assert.match(await page.textContent('[data-test=q-reason]'), /PosternTest\.Marker/);
  assert.ok((await page.textContent('[data-test=quarantine-item] pre.headers')).includes(SUBJECT));
  await noMarkup(page, 'main');
  await shot(page, 'quarantine');
  // Release asks first; Cancel leaves it there
  await page.click('[data-test=q-release]');
  await page.waitForSelector('.modal');
  assert.match(await page.textContent('.modal'), /without the virus and spam checks/);
  await page.click('.modal button:has-text("Cancel")');
  assert.equal(await page.locator('[data-test=quarantine] tbody tr [data-test=q-open]').count(), 1);
  await page.click('[data-test=q-release]');
  await page.click('[data-test=confirm-yes]');
  await page.waitForSelector('[data-test=quarantine] td:has-text("The quarantine is empty.")');
  await shot(page, 'quarantine-released');

  // the sending limits panel on the queue page
  await navTo(page, 'queue');
  await page.waitForSelector('[data-test=sendlimit-rows] td:has-text("spam@acme")');
  const row = page.locator('[data-test=sendlimit-rows] tr:has-text("spam@acme")');
  assert.ok((await row.textContent()).includes(REASON));
  await noMarkup(page, '[data-test=sendlimits]');
  await shot(page, 'queue-sendlimits');
  // the held mail is listed; its release asks first
  await page.waitForSelector('[data-test=held-release]');
  assert.match(await page.textContent('[data-test=sendlimit-held]'), /spam@acme\.test/);
  await page.click('[data-test=held-release]');
  assert.match(await page.textContent('.modal'), /without the sending limits/);
  await page.click('[data-test=confirm-yes]');
  await page.waitForSelector('[data-test=sendlimits] [data-test=ok]:has-text("without the limits")');
  await page.waitForSelector('[data-test=sendlimit-held] td:has-text("No mail is held.")');
  await row.locator('button:has-text("Unsuspend")').click();
  await page.waitForSelector('[data-test=sendlimits] [data-test=ok]:has-text("may send again")');
  await desk.close();
} finally {
  await browser.close();
}
assert.deepEqual(errors, [], `console errors:\n${errors.join('\n')}`);
console.log('webadmin quarantine browser test: ok');

// webadmin-coverage.mjs - the CLI tasks the web admin gained in issue 15's
// coverage pass, done in a real browser (chromium by playwright-core),
// run by tests/integration/test_webadmin_coverage.py::test_pages_in_chromium:
//   BASE, SYS (login:password of a SYSADMIN), SHOTS, WEB_MODULES
// A SYSADMIN blacklists a sender domain, imports group members from a
// file (a bad line reported by number), adds, moves and deletes global
// filter rules (a bad size named), fetches a POP retrieval account now,
// sees the chat sessions and archive, deletes a post office keeping its
// mail; at 390 px the navigation is a menu button (aria-expanded, opened
// and closed from the keyboard). Markup typed shows as text; any console
// error fails. Screenshots at 1280 and 390 px.
import assert from 'node:assert/strict';
import {
  BASE, SHOTS, errors, watch, shot, launch, cred, login, navTo,
} from './webadmin-lib.mjs';

const [SYS, SYSPW] = cred('SYS');
const EVIL = 'X-Tag: <img src=x onerror="window.__xss=1">';

const browser = await launch();
try {
  const desk = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  let page = await desk.newPage();
  watch(page, 'desktop');
  await login(page, SYS, SYSPW);
  // the menu button is for phones only
  assert.equal(await page.locator('header .menu-toggle').isVisible(), false);

  // a domain's blacklist (manual 5.4.3)
  await navTo(page, 'domains');
  await page.locator('[data-test=domains] tr', { hasText: 'alpha.test' })
    .locator('button', { hasText: 'blacklist' }).click();
  await page.fill('input[name=blacklist-domain]', 'bad1.example, bad2.example');
  await page.click('[data-test=blacklist-add] button[type=submit]');
  await page.waitForSelector('[data-test=blacklist] li:has-text("bad2.example")');
  await page.fill('input[name=blacklist-domain]', 'not a domain');
  await page.click('[data-test=blacklist-add] button[type=submit]');
  await page.waitForSelector('[data-test=domain-detail] [data-test=error]');
  assert.match(await page.textContent('[data-test=domain-detail] [data-test=error]'),
    /blacklistAdd\[0\]/);
  await shot(page, 'coverage-blacklist');

  // group members from a file
  await navTo(page, 'groups');
  await page.locator('[data-test=groups] tr', { hasText: 'crew@alpha.test' })
    .locator('button', { hasText: 'Members' }).click();
  await page.setInputFiles('input[name=import-file]', {
    name: 'members.csv', mimeType: 'text/csv',
    buffer: Buffer.from('one@ext.example\nnot an address\ntwo@ext.example\n'),
  });
  await page.click('[data-test=member-import] button[type=submit]');
  await page.waitForSelector('[data-test=import-errors] li');
  assert.match(await page.textContent('[data-test=import-errors]'), /line 2/);
  await page.waitForSelector('[data-test=members] li:has-text("two@ext.example")');
  assert.match(await page.textContent('main [data-test=ok]'), /2 members imported, 1 refused/);
  await shot(page, 'coverage-group-import');

  // global filters: a bad size is named, then two rules, one moved up
  await navTo(page, 'filters');
  await page.waitForSelector('[data-test=global-filters]');
  await page.selectOption('select[name=gf-criterion]', 'size-over');
  await page.fill('input[name=gf-pattern]', 'big');
  await page.selectOption('select[name=gf-action]', 'quarantine');
  await page.click('[data-test=global-filter-add] button[type=submit]');
  await page.waitForSelector('main [data-test=error]');
  assert.match(await page.textContent('main [data-test=error]'), /pattern: 'big' is not a size/);
  await page.fill('input[name=gf-pattern]', '20M');
  await page.click('[data-test=global-filter-add] button[type=submit]');
  await page.waitForSelector('[data-test=global-filters] td:has-text("size-over")');
  await page.selectOption('select[name=gf-criterion]', 'sender');
  await page.fill('input[name=gf-pattern]', '*@spam.example');
  await page.selectOption('select[name=gf-action]', 'add-header');
  await page.fill('input[name=gf-argument]', EVIL);
  await page.click('[data-test=global-filter-add] button[type=submit]');
  await page.waitForSelector('[data-test=global-filters] td:has-text("*@spam.example")');
  assert.ok((await page.textContent('[data-test=global-filters] tbody')).includes(EVIL));
  assert.equal(await page.locator('[data-test=global-filters] img').count(), 0);
  const rule = page.locator('[data-test=global-filters] tbody tr', { hasText: '*@spam.example' });
  const was = Number(await rule.locator('td[data-label="#"]').textContent());
  await rule.locator('button', { hasText: 'Up' }).click();
  await page.waitForFunction((b) => [...document.querySelectorAll('[data-test=global-filters] tbody tr')]
    .some((tr) => tr.textContent.includes('*@spam.example') && tr.cells[0].textContent === String(b - 1)), was);
  await shot(page, 'coverage-global-filters');

  // POP retrieval: the status and fetch now
  await navTo(page, 'pop');
  await page.waitForSelector('[data-test=pop-accounts] td:has-text("pop.example")');
  assert.match(await page.textContent('[data-test=pop-accounts]'), /never/);
  await page.click('[data-test=pop-accounts] button:has-text("Fetch now")');
  await page.waitForSelector('main [data-test=ok]');
  await shot(page, 'coverage-pop');

  // chat: sessions (xmppd not running here) and the archive
  await navTo(page, 'chat');
  await page.waitForSelector('[data-test=chat-sessions] p:has-text("not running")');
  await page.waitForSelector('[data-test=chat-archive] p:has-text("0 messages")');
  await page.click('[data-test=chat-archive] button[type=submit]');
  await page.click('[data-test=confirm-yes]');
  await page.waitForSelector('[data-test=chat-archive] [data-test=ok]');

  // a post office deleted, its mail kept
  await navTo(page, 'postoffices');
  await page.locator('[data-test=postoffices] tr', { hasText: 'omega' })
    .locator('[data-test=po-delete]').click();
  await page.check('input[name=keep-data]');
  await shot(page, 'coverage-po-delete');
  await page.click('[data-test=confirm-yes]');
  await page.waitForSelector('main [data-test=ok]:has-text("omega deleted; its mail stays")');
  // (the notice comes with the answer; the list is read again after it)
  await page.waitForFunction(() => ![...document.querySelectorAll('[data-test=postoffices] tr')]
    .some((tr) => tr.textContent.includes('omega')));
  assert.equal(await page.evaluate(() => window.__xss), undefined);
  await desk.close();

  // ---- the phone: a menu button, usable from the keyboard -----------------
  const phone = await browser.newContext({
    viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true,
  });
  page = await phone.newPage();
  watch(page, 'phone');
  await login(page, SYS, SYSPW);
  const toggle = page.locator('header .menu-toggle');
  assert.equal(await toggle.getAttribute('aria-expanded'), 'false');
  assert.equal(await toggle.getAttribute('aria-controls'), 'main-nav');
  assert.equal(await page.locator('header nav a[href="#/domains"]').isVisible(), false);
  // the content starts near the top: the header is one row, not nine
  const top = await page.evaluate(() => document.querySelector('main h2').getBoundingClientRect().top);
  assert.ok(top < 160, `the dashboard starts ${top}px down on a 390px phone`);
  await shot(page, 'phone-menu-closed');
  await toggle.focus();
  await page.keyboard.press('Enter');
  assert.equal(await toggle.getAttribute('aria-expanded'), 'true');
  await page.waitForSelector('header nav a[href="#/filters"]', { state: 'visible' });
  await shot(page, 'phone-menu-open');
  // Tab reaches the links; Escape closes and gives the focus back
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement.closest('nav') !== null), true);
  await page.keyboard.press('Escape');
  assert.equal(await toggle.getAttribute('aria-expanded'), 'false');
  assert.equal(await page.evaluate(() => document.activeElement.classList.contains('menu-toggle')), true);
  // a link closes the menu and opens its page
  await navTo(page, 'filters');
  await page.waitForSelector('[data-test=global-filters] tbody tr');
  assert.equal(await toggle.getAttribute('aria-expanded'), 'false');
  const wide = await page.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(wide <= 390, `the global filters are ${wide}px wide on a 390px phone`);
  await shot(page, 'phone-global-filters');
  await navTo(page, 'pop');
  await page.waitForSelector('[data-test=pop-accounts] td:has-text("pop.example")');
  const wide2 = await page.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(wide2 <= 390, `POP retrieval is ${wide2}px wide on a 390px phone`);
  await shot(page, 'phone-pop');
  await phone.close();
} finally {
  await browser.close();
}
assert.deepEqual(errors, [], `console errors:\n${errors.join('\n')}`);
console.log('webadmin coverage browser test: ok');

// webadmin-ops.mjs - the operations screens of the web admin in a real
// browser (chromium by playwright-core), run by
// tests/integration/test_webadmin_browser.py::test_webadmin_operations:
//   BASE, SYS (login:password of a SYSADMIN), ADMIN (of post office
//   alpha), QID (a deferred item in smtp/outgoing), SHOTS, WEB_MODULES
// The SYSADMIN retries the queue item from the queue page and opens its
// (a mailbox's details: a redirect, its messages, a Sieve filter),
// details, changes http.max_body in the settings page (the Python side
// checks the running httpd applies it), creates a group whose name is
// markup (shown as text) and a list, and finds its changes in the audit
// log. The ADMIN of alpha sees alpha's group and not beta's, has no queue
// or audit screens, and is refused by the server when it opens them by
// address. Desktop and 390 px phone screenshots; any console error fails.
import assert from 'node:assert/strict';
import {
  BASE, SHOTS, errors, watch, shot, login, logout, launch,
  navTo,
} from './webadmin-lib.mjs';

const [SYS, SYSPW] = process.env.SYS.split(':');
const [ADM, ADMPW] = process.env.ADMIN.split(':');
const QID = process.env.QID;
const EVIL = '<b>Team</b><img src=x onerror="window.__xss=1">';

async function narrow(page, what) {
  const wide = await page.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(wide <= 390, `${what} is ${wide}px wide on a 390px phone`);
}

const browser = await launch();
try {
  const desk = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  let page = await desk.newPage();
  watch(page, 'desktop');
  await login(page, SYS, SYSPW);
  // the dashboard counts the queues
  await page.waitForSelector('[data-test=queue-sizes] tr:has-text("smtp/outgoing")');
  assert.match(await page.textContent('[data-test=queue-sizes]'), /smtp\/outgoing\s*1/);
  await shot(page, 'ops-dashboard');

  // ---- the queue: retry and the item's details ----------------------------
  await navTo(page, 'queue');
  const row = page.locator('[data-test=queue] tr', { hasText: QID });
  await row.waitFor();
  assert.match(await row.textContent(), /deferred/);
  await shot(page, 'ops-queue');
  await row.locator('[data-test=retry]').click();
  await page.waitForSelector(`[data-test=ok]:has-text("${QID}: retry now.")`);
  await row.locator('button.link', { hasText: QID }).click();
  await page.waitForSelector('[data-test=queue-item] pre.headers');
  assert.match(await page.textContent('[data-test=queue-item]'), /Subject: queued for the page/);
  await shot(page, 'ops-queue-item');

  // ---- a setting the running httpd applies ---------------------------------
  await navTo(page, 'settings');
  await page.fill('input[name=settings-filter]', 'http.max_body');
  await page.fill('input[name="http.max_body"]', '16');
  await page.click('[data-test=settings] button[type=submit]');
  await page.waitForSelector('[data-test=ok]:has-text("http.max_body")');

  // ---- groups and lists -------------------------------------------------------
  await navTo(page, 'groups');
  await page.waitForSelector('[data-test=groups]');
  await page.fill('input[name=group-address]', 'team@alpha.test');
  await page.fill('input[name=group-name]', EVIL);
  await page.fill('input[name=group-po]', 'alpha');
  await page.click('[data-test=group-create] button[type=submit]');
  await page.waitForSelector('[data-test=ok]:has-text("Group team@alpha.test created.")');
  const grow = page.locator('[data-test=groups] tr', { hasText: 'team@alpha.test' });
  await grow.waitFor();
  assert.equal(await grow.locator('td[data-label=Name]').textContent(), EVIL);
  assert.equal(await page.locator('[data-test=groups] img').count(), 0);
  await grow.locator('button', { hasText: 'Members' }).click();
  await page.fill('textarea[name=add-members]', 'carol@alpha.test\nfriend@remote.test');
  await page.click('[data-test=members] button[type=submit]');
  await page.waitForSelector('[data-test=members] li:has-text("friend@remote.test")');
  // a bad address is refused with the server's words, naming it
  await page.fill('textarea[name=add-members]', 'not an address');
  await page.click('[data-test=members] button[type=submit]');
  await page.waitForSelector('[data-test=members] [data-test=error]');
  assert.match(await page.textContent('[data-test=members] [data-test=error]'), /addMembers\[0\]/);
  await shot(page, 'ops-groups');

  await navTo(page, 'lists');
  await page.fill('input[name=list-address]', 'news@alpha.test');
  await page.fill('input[name=list-owner]', 'carol@alpha.test');
  await page.fill('input[name=list-description]', '<script>window.__xss=3</script>');
  await page.fill('input[name=list-po]', 'alpha');
  await page.click('[data-test=list-create] button[type=submit]');
  await page.waitForSelector('[data-test=ok]:has-text("List news@alpha.test created.")');
  const lrow = page.locator('[data-test=lists] tr', { hasText: 'news@alpha.test' });
  await lrow.waitFor();
  assert.equal(await lrow.locator('td[data-label=Description]').textContent(),
    '<script>window.__xss=3</script>');
  await lrow.locator('button', { hasText: 'Open' }).click();
  await page.waitForSelector('[data-test=members]');
  await shot(page, 'ops-lists');
  assert.equal(await page.evaluate(() => window.__xss), undefined);

  // ---- a domain's DKIM key and the DNS text to publish ----------------------------
  await navTo(page, 'domains');
  const drow = page.locator('[data-test=domains] tr', { hasText: 'alpha.test' });
  await drow.locator('button', { hasText: 'DKIM' }).click();
  await page.waitForSelector('[data-test=domain-detail]');
  await page.fill('input[name=selector]', 'web1');
  await page.selectOption('select[name=selector-bits]', '1024');
  await page.click('[data-test=domain-detail] form.inline button[type=submit] >> nth=0');
  await page.waitForSelector('[data-test=dns]:has-text("web1._domainkey.alpha.test.")');
  assert.match(await page.textContent('[data-test=dns]'), /v=DKIM1;/);
  await shot(page, 'ops-domain-dkim');

  // ---- a mailbox's details: a redirect ---------------------------------------------
  await navTo(page, 'mailboxes');
  await page.fill('input[name=search]', 'carol');
  await page.click('.toolbar button[type=submit]');
  const mrow = page.locator('[data-test=mailboxes] tr', { hasText: 'carol@alpha' });
  await mrow.waitFor();
  await mrow.locator('button', { hasText: 'Details' }).click();
  await page.waitForSelector('[data-test=mb-detail]');
  await page.fill('input[name=mb-redirect]', 'carol@elsewhere.test');
  await page.click('[data-test=mb-detail] form.inline:has(input[name=mb-redirect]) button[type=submit]');
  await page.waitForSelector('[data-test=mb-detail] li:has-text("carol@elsewhere.test")');
  // its messages (manual 5.5.7): markup in a subject is text
  await page.click('[data-test=show-messages]');
  await page.waitForSelector('[data-test=messages] td[data-label=Subject]');
  assert.equal(await page.textContent('[data-test=messages] td[data-label=Subject]'),
    '<script>window.__xss=9</script>');
  assert.equal(await page.evaluate(() => window.__xss), undefined);
  await shot(page, 'ops-mailbox-detail');
  // its Sieve filters: a wrong script is refused with its place, a good
  // one stored and run (the Python side reads it with postern filter)
  await page.click('[data-test=filter-new]');
  await page.fill('input[name=filter-name]', 'from-admin');
  await page.fill('textarea[name=filter-script]', 'require ["fileinto"];\nfileinto ;\n');
  await page.click('[data-test=filter-save]');
  await page.waitForSelector('[data-test=filters] [data-test=error]');
  assert.match(await page.textContent('[data-test=filters] [data-test=error]'), /^2:/);
  await page.fill('textarea[name=filter-script]',
    'require ["fileinto"];\nif header :contains "subject" "<b>x</b>" { fileinto "X"; }\n');
  await page.click('[data-test=filter-save]');
  await page.waitForSelector('[data-test=filters] tr:has-text("from-admin") .badge.good');
  await page.locator('[data-test=filters]').scrollIntoViewIfNeeded();
  await shot(page, 'ops-mailbox-filters');

  // ---- tracking and the diagnostic report ---------------------------------------------
  await navTo(page, 'track');
  await page.fill('input[name=track]', QID);
  await page.click('.toolbar button[type=submit]');
  await page.waitForSelector('[data-test=track]');
  assert.match(await page.textContent('[data-test=track]'), new RegExp(`${QID} in smtp/outgoing`));
  await navTo(page, 'diag');
  await page.uncheck('input[name=diag-network]');
  await page.click('[data-test=diag-run]');
  await page.waitForSelector('[data-test=diag] table', { timeout: 60000 });
  await shot(page, 'ops-diag');

  // ---- the audit log names who did it --------------------------------------------
  await navTo(page, 'audit');
  await page.waitForSelector('[data-test=audit] tbody tr');
  const audit = await page.textContent('[data-test=audit]');
  for (const want of ['Queue retry', 'Group create', 'List create', 'Setting update', QID,
    'Domain update', 'Mailbox update']) {
    assert.ok(audit.includes(want), `the audit log lacks ${want}`);
  }
  assert.ok(audit.includes(SYS));
  await shot(page, 'ops-audit');
  await logout(page);

  // ---- an ADMIN: its own post office only ------------------------------------------
  await login(page, ADM, ADMPW);
  assert.equal(await page.locator('a[href="#/queue"]').count(), 0);
  assert.equal(await page.locator('a[href="#/audit"]').count(), 0);
  await navTo(page, 'groups');
  await page.waitForSelector('[data-test=groups] tr:has-text("team@alpha.test")');
  assert.ok(!(await page.textContent('[data-test=groups]')).includes('crew@beta.test'),
    'an ADMIN sees another post office\'s group');
  // by address: the server refuses, the page says so
  await page.goto(`${BASE}/admin/#/queue`);
  await page.waitForSelector('[data-test=error]');
  assert.match(await page.textContent('[data-test=error]'), /SYSADMIN/);
  assert.equal(await page.locator(`[data-test=queue] tr:has-text("${QID}")`).count(), 0);
  await page.goto(`${BASE}/admin/#/audit`);
  await page.waitForSelector('[data-test=error]');
  assert.match(await page.textContent('[data-test=error]'), /SYSADMIN/);
  await shot(page, 'ops-admin-refused');
  // users import with progress, then the export as a download
  await page.goto(`${BASE}/admin/#/users`);
  await page.fill('textarea[name=users-csv]',
    'imp1@alpha.test,Im-Secret-51101\nimp2@alpha.test,Im-Secret-51102\nnot-an-address\n');
  await page.click('[data-test=users-import] button[type=submit]');
  await page.waitForSelector('[data-test=users-result]');
  assert.match(await page.textContent('[data-test=users-result]'), /2 of 3 rows imported, 1 failed/);
  assert.equal(await page.getAttribute('[data-test=users-progress]', 'value'), '3');
  const [dl] = await Promise.all([page.waitForEvent('download'), page.click('[data-test=users-export]')]);
  assert.equal(dl.suggestedFilename(), 'alpha-users.csv');
  await page.waitForSelector('[data-test=exported]');
  assert.match(await page.textContent('[data-test=users-result]'), /2 of 3 rows imported/);
  await shot(page, 'ops-users-import');
  await desk.close();

  // ---- phone width ------------------------------------------------------------------
  const phone = await browser.newContext({
    viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true,
  });
  page = await phone.newPage();
  watch(page, 'phone');
  await login(page, SYS, SYSPW);
  await navTo(page, 'queue');
  await page.waitForSelector(`[data-test=queue] tr:has-text("${QID}")`);
  await shot(page, 'phone-queue');
  await narrow(page, 'the queue');
  await navTo(page, 'groups');
  await page.waitForSelector('[data-test=groups] tr:has-text("team@alpha.test")');
  await shot(page, 'phone-groups');
  await narrow(page, 'the groups');
  await navTo(page, 'audit');
  await page.waitForSelector('[data-test=audit] tbody tr');
  await shot(page, 'phone-audit');
  await narrow(page, 'the audit log');
  await navTo(page, 'domains');
  await page.locator('[data-test=domains] tr', { hasText: 'alpha.test' }).locator('button', { hasText: 'DKIM' }).click();
  await page.waitForSelector('[data-test=dns]');
  await shot(page, 'phone-domain-dkim');
  await narrow(page, 'a domain\'s DKIM record');
  await phone.close();
} finally {
  await browser.close();
}
assert.deepEqual(errors, [], `console errors:\n${errors.join('\n')}`);
console.log('webadmin operations browser test: ok');

// webadmin-reports.mjs - the Reports, DNS records and Welcome message
// pages of the web admin in a real browser (chromium by playwright-core),
// run by tests/integration/test_admin_reports.py::
// test_reports_pages_in_chromium:
//   BASE, SYS and ADMIN (login:password), DAY (the day with rows),
//   WELCOME (a message to type: markup), SHOTS, WEB_MODULES
// The SYSADMIN picks the day, sees the DMARC and TLS-RPT tables, opens a
// DMARC report's XML and a TLS report whose failure detail is markup
// (shown as text), looks up where the TLS reports go, lists the DNS
// records and checks them, types the welcome message and saves it; the
// ADMIN sees no Reports or Welcome entry and only its own domain's
// records. Desktop (1280) and 390 px phone screenshots, the page never
// wider than the phone, the pages usable by keyboard (Tab reaches the
// buttons, Enter presses them); any console error fails.
import { createRequire } from 'node:module';
import path from 'node:path';
import assert from 'node:assert/strict';

const require = createRequire(import.meta.url);
const { chromium } = require(path.resolve(process.env.WEB_MODULES, 'playwright-core'));

const { BASE, DAY, WELCOME, SHOTS } = process.env;
const [SYS, SYSPW] = process.env.SYS.split(':');
const [ADM, ADMPW] = process.env.ADMIN.split(':');
const errors = [];
const T = 30000;

function watch(page, label) {
  page.on('console', (m) => {
    if (m.type() === 'error' && !/status of 401/.test(m.text())) errors.push(`${label}: ${m.text()}`);
  });
  page.on('pageerror', (e) => errors.push(`${label}: ${e.message}`));
  page.on('dialog', (d) => { errors.push(`${label}: unexpected dialog ${d.message()}`); d.dismiss(); });
  page.setDefaultTimeout(T);
}

async function shot(page, name) {
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
}

async function login(page, who, pw) {
  await page.goto(`${BASE}/admin/`);
  await page.fill('input[name=login]', who);
  await page.fill('input[name=password]', pw);
  await page.click('button[type=submit]');
  await page.waitForSelector('header .who');
}

async function narrow(page, what) {
  const wide = await page.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(wide <= 390, `${what} is ${wide}px wide on a 390px phone`);
}

// the whole SYSADMIN walk, at one size
async function sysadmin(browser, ctxOpts, tag) {
  const ctx = await browser.newContext(ctxOpts);
  const page = await ctx.newPage();
  watch(page, tag);
  await login(page, SYS, SYSPW);
  const phone = tag === 'phone';

  // reports of DAY: typed into the date field, sent by Enter
  await page.goto(`${BASE}/admin/#/reports`);
  await page.waitForSelector('[data-test=dmarc] table');
  await page.fill('input[name=day]', DAY);
  await page.press('input[name=day]', 'Enter');
  await page.waitForSelector('[data-test=dmarc-show]');
  const dmarcRows = await page.locator('[data-test=dmarc] tbody tr').count();
  assert.equal(dmarcRows, 2, 'two DMARC reports');
  assert.match(await page.textContent('[data-test=dmarc]'), /mailto:agg@sender\.example/);
  // by keyboard: focus the first "Show XML" and press Enter
  await page.focus('[data-test=dmarc-show]');
  await page.keyboard.press('Enter');
  await page.waitForSelector('[data-test=report-body] pre');
  assert.match(await page.textContent('[data-test=report-body] pre'), /<feedback/);
  if (phone) await narrow(page, 'the DMARC report');
  await shot(page, `${tag}-reports-dmarc`);
  await page.click('[data-test=report-body] button.link');

  // TLS: the report with the markup failure detail, as text
  await page.waitForSelector('[data-test=tls-show]');
  assert.equal(await page.locator('[data-test=tlsrpt] tbody tr').count(), 2);
  await page.click('[data-test=tlsrpt] tbody tr:first-child [data-test=tls-show]');
  await page.waitForSelector('[data-test=report-body] pre');
  assert.match(await page.textContent('[data-test=report-body] pre'), /<img src=x onerror/);
  assert.equal(await page.locator('[data-test=report-body] img, [data-test=report-body] b').count(), 0);
  await page.click('[data-test=tls-lookup]');
  await page.waitForFunction(() => {
    const tds = [...document.querySelectorAll('[data-test=tls-rua]')];
    return tds.length === 2 && tds.every((td) => td.textContent && td.textContent !== 'not looked up');
  });
  // no report without a _smtp._tls record, and the page says why
  assert.match(await page.textContent('[data-test=tls-rua]'), /_smtp\._tls\.far\.example/);
  if (phone) await narrow(page, 'the TLS report');
  await shot(page, `${tag}-reports-tls`);

  // the records to publish, then checked
  await page.goto(`${BASE}/admin/#/dns`);
  await page.waitForSelector('[data-test=zone]');
  const zone = await page.textContent('[data-test=zone]');
  assert.match(zone, /_smtp\._tls\.acme\.test\. IN TXT "v=TLSRPTv1; rua=/);
  assert.match(zone, /_smtp\._tls\.beta\.test\./);
  await page.click('[data-test=dns-check]');
  await page.waitForSelector('[data-test=rec-status]', { timeout: 60000 });
  if (phone) await narrow(page, 'the DNS records page');
  await shot(page, `${tag}-dns-records`);

  // the welcome message: typed, saved, read back after a reload
  await page.goto(`${BASE}/admin/#/welcome`);
  await page.waitForSelector('textarea[name=welcome]');
  await page.fill('textarea[name=welcome]', WELCOME);
  await page.click('form button[type=submit]');
  await page.waitForSelector('[data-test=ok]');
  await page.reload();
  await page.waitForSelector('textarea[name=welcome]');
  assert.equal(await page.inputValue('textarea[name=welcome]'), WELCOME);
  assert.equal(await page.evaluate(() => window.__xss), undefined);
  if (phone) await narrow(page, 'the welcome page');
  await shot(page, `${tag}-welcome`);

  // a post office's own settings, a form from the field table
  await page.goto(`${BASE}/admin/#/postoffices`);
  await page.click('[data-test=postoffices] tr:has-text("acme") [data-test=po-settings-open]');
  await page.waitForSelector('[data-test=po-settings] input[name=webadmin_max_mailboxes]');
  await page.fill('[data-test=po-settings] input[name=webadmin_max_mailboxes]', '7');
  await page.fill('[data-test=po-settings] textarea[name=footer_text]', 'Sent by <b>acme</b>');
  await page.click('[data-test=po-settings] button[type=submit]');
  await page.waitForSelector('[data-test=po-settings] [data-test=ok]');
  // the list shows the new limit
  await page.waitForFunction(() => /\b7\b/.test(document.querySelector(
    '[data-test=postoffices] tr:nth-child(1) td:nth-child(4)')?.textContent || ''));
  if (phone) await narrow(page, 'the post office settings');
  await shot(page, `${tag}-po-settings`);
  await page.click('[data-test=po-settings] button.link');

  // post office actions: email every user, then delete their INBOX
  // messages after the count and the confirm step
  await page.click('[data-test=postoffices] tr:has-text("acme") [data-test=po-act]');
  await page.waitForSelector('[data-test=po-email]');
  await page.fill('input[name=mail-subject]', 'Hello <img src=x onerror="window.__xss=3">');
  await page.fill('textarea[name=mail-body]', 'The server moves tonight.');
  await page.click('[data-test=po-email] button[type=submit]');
  await page.waitForSelector('[data-test=po-actions] [data-test=ok]');
  assert.match(await page.textContent('[data-test=po-actions] [data-test=ok]'), /Sent to \d+ mailbox/);
  await page.check('input[name=purge-how][value=all]');
  await page.click('[data-test=po-purge] button[type=submit]');
  await page.waitForSelector('[data-test=confirm-yes]');
  assert.match(await page.textContent('.modal-box'), /Delete \d+ messages? .* from \d+ INBOX/);
  if (phone) await narrow(page, 'the post office actions');
  await shot(page, `${tag}-po-actions-confirm`);
  await page.click('[data-test=confirm-yes]');
  await page.waitForFunction(() => /deleted from/.test(
    document.querySelector('[data-test=po-actions] [data-test=ok]')?.textContent || ''));
  assert.equal(await page.evaluate(() => window.__xss), undefined);
  await shot(page, `${tag}-po-actions`);
  await ctx.close();
}

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--no-first-run'],
});
try {
  await sysadmin(browser, { viewport: { width: 1280, height: 900 } }, 'desktop');
  await sysadmin(browser, {
    viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true,
  }, 'phone');

  // an ADMIN: no reports nor welcome message; its own domain's records
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await ctx.newPage();
  watch(page, 'admin');
  await login(page, ADM, ADMPW);
  const nav = await page.textContent('header nav');
  assert.ok(!/Reports|Welcome/.test(nav), `an ADMIN's menu: ${nav}`);
  assert.match(nav, /DNS records/);
  await page.goto(`${BASE}/admin/#/dns`);
  await page.waitForSelector('[data-test=zone]');
  const zone = await page.textContent('[data-test=zone]');
  assert.match(zone, /acme\.test/);
  assert.ok(!/beta\.test/.test(zone), 'an ADMIN sees another post office\'s domain');
  await shot(page, 'admin-dns-records');
  // the API refuses the reports even when the page is asked for them
  await page.goto(`${BASE}/admin/#/reports`);
  await page.waitForSelector('[data-test=dmarc] [data-test=error]');
  assert.match(await page.textContent('[data-test=dmarc] [data-test=error]'), /SYSADMIN/);
  await ctx.close();
} finally {
  await browser.close();
}
assert.deepEqual(errors, []);
console.log('webadmin reports browser test: ok');

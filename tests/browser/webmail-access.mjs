// webmail-access.mjs - the webmail with the keyboard, at the server's
// limits and with a 50 MB attachment, in a real browser (Debian's
// chromium driven by playwright-core), run by
// tests/integration/test_webmail_access.py. Environment: that of
// webmail-lib.mjs and
//   MAX_UPLOAD   the session's maxSizeUpload (bytes)
//   MAX_ATTACH   its maxSizeAttachmentsPerEmail (bytes)
// Checked: the focus goes into the compose form (To, or the body of a
// reply) and back to where it was when the form closes; an attachment
// preview takes the focus and Escape closes only the preview; on a phone
// an opened message's heading takes the focus and Back gives it to the
// message's row; "?" lists the keys; a file over maxSizeUpload, or one that would take the
// attachments over maxSizeAttachmentsPerEmail, is refused before any of
// it is sent; the 50 MB attachment lists, opens, shows its own size and
// downloads whole; a message of 10,000 parts lists and opens.
import assert from 'node:assert/strict';
import {
  errors, step, launch, watch, shot, shotAll, login, openSubject,
} from './webmail-lib.mjs';

const MAX_UPLOAD = Number(process.env.MAX_UPLOAD);
const MAX_ATTACH = Number(process.env.MAX_ATTACH);
const active = (page) => page.evaluate(() => {
  const e = document.activeElement;
  return { tag: e.tagName, name: e.getAttribute('name'), cls: e.className, text: e.textContent.slice(0, 40) };
});
const file = (name, size) => ({ name, mimeType: 'application/octet-stream', buffer: Buffer.alloc(size, 7) });

const browser = await launch();
try {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 860 } });
  const page = await ctx.newPage();
  watch(page, 'desktop');
  const uploads = [];
  page.on('request', (r) => { if (/\/jmap\/mail\/upload\//.test(r.url())) uploads.push(r.url()); });
  await login(page);
  step('logged in');

  // the 50 MB attachment: listed, opened, its decoded size shown
  await openSubject(page, 'Fifty megabytes');
  const big = page.locator('#reader .attachment', { hasText: 'holiday.mp4' });
  await big.waitFor();
  assert.equal(await big.locator('.att-size').textContent(), '50.0 MB');
  const href = await big.locator('a.download').getAttribute('href');
  const got = await ctx.request.get(new URL(href, page.url()).href, { timeout: 120000 });
  assert.equal(got.status(), 200);
  assert.equal((await got.body()).length, 50 * 1024 * 1024, 'the whole attachment downloads');
  step('50 MB attachment');
  // 10,000 parts: listed and opened, the first attachments listed
  await openSubject(page, 'Ten thousand parts');
  await page.waitForSelector('#reader .more-atts');
  assert.equal(await page.locator('#reader .attachment').count(), 200);
  assert.match(await page.textContent('#reader .more-atts'), /^and \d+ more attachments/);
  step('10,000 parts');

  // a reply: the focus in its body, then back on the Reply button
  await page.click('#reader .message.open button.reply');
  await page.waitForSelector('#compose textarea[name=body]');
  await page.waitForFunction(() => document.activeElement?.getAttribute('name') === 'body');
  await page.keyboard.type('typed at once');
  assert.match(await page.inputValue('#compose textarea[name=body]'), /^typed at once\n/);
  await page.click('#compose button.discard');
  await page.waitForSelector('#compose', { state: 'detached' });
  await page.waitForFunction(() => document.activeElement?.classList.contains('reply'));

  // a new message by the key: the focus in To
  await page.locator('#reader h2').click();
  await page.keyboard.press('c');
  await page.waitForSelector('#compose input[name=to]');
  await page.waitForFunction(() => document.activeElement?.getAttribute('name') === 'to');
  step('focus in compose');

  // over maxSizeUpload: refused here, nothing sent
  await page.setInputFiles('#compose input[name=attach]', file('huge.bin', MAX_UPLOAD + 1));
  await page.waitForSelector('#compose .notice.error:has-text("huge.bin")');
  assert.match(await page.textContent('#compose .notice.error'), /files up to/);
  assert.deepEqual(uploads, [], 'the file over the limit was not uploaded');
  // one that fits, then one that would take the total over the attachments' limit
  const part = Math.floor(MAX_ATTACH * 0.6);
  await page.setInputFiles('#compose input[name=attach]', file('first.bin', part));
  await page.waitForSelector('#compose .att:has-text("first.bin")');
  assert.equal(uploads.length, 1);
  await page.setInputFiles('#compose input[name=attach]', file('second.bin', part));
  await page.waitForSelector('#compose .notice.error:has-text("second.bin")');
  assert.match(await page.textContent('#compose .notice.error'), /does not fit/);
  assert.equal(uploads.length, 1, 'the file that does not fit was not uploaded');
  assert.equal(await page.locator('#compose .att').count(), 1);
  await shot(page, 'webmail-access-limits');
  await page.click('#compose button.discard');
  await page.waitForSelector('#compose', { state: 'detached' });
  step('limits');

  // the image preview: focus on its Close button; Escape closes it, not the message
  await openSubject(page, 'Green picture');
  await page.click('#reader .attachment:has-text("green.png") button.preview');
  await page.waitForFunction(() => document.querySelector('.modal img')?.naturalWidth === 32);
  await page.waitForFunction(() => document.activeElement?.classList.contains('close-preview'));
  await shot(page, 'webmail-access-preview');
  const hash = await page.evaluate(() => location.hash);
  await page.keyboard.press('Escape');
  await page.waitForSelector('.modal', { state: 'detached' });
  assert.equal(await page.evaluate(() => location.hash), hash, 'the message is still open');
  assert.equal(await page.locator('#reader .message.open').count(), 1);
  await page.waitForFunction(() => document.activeElement?.classList.contains('preview'));
  // a PDF's preview: the browser's PDF viewer in a new tab
  const popup = ctx.waitForEvent('page');
  await page.click('#reader .attachment:has-text("plan.pdf") button.preview');
  const pdfTab = await popup;
  await pdfTab.waitForLoadState();
  assert.match(pdfTab.url(), /^blob:/);
  assert.equal(await pdfTab.evaluate(() => document.contentType), 'application/pdf');
  await pdfTab.close();
  step('preview');

  // the keys: "?" lists them (focus on its Close), Esc closes the list
  // alone; the header's Keys button opens it too
  await page.locator('#reader h2').click();
  await page.keyboard.press('?');
  await page.waitForSelector('.modal[role=dialog]:has-text("Keyboard shortcuts")');
  await page.waitForFunction(() => document.activeElement?.classList.contains('close-keys'));
  const listed = await page.locator('.keys dt').allTextContents();
  for (const k of ['j', 'k', 'r', 'a', 'f', 'c', '/', 's', 'u', '?']) assert.ok(listed.includes(k), `key ${k} listed`);
  await shot(page, 'webmail-access-keys');
  await page.keyboard.press('c');          // the keys of the page sleep meanwhile
  assert.equal(await page.locator('#compose').count(), 0);
  await page.keyboard.press('Escape');
  await page.waitForSelector('.modal', { state: 'detached' });
  assert.equal(await page.evaluate(() => location.hash), hash, 'the message is still open');
  await page.click('header button.keys-link');
  await page.waitForSelector('.modal:has-text("Keyboard shortcuts")');
  await page.click('.modal button.close-keys');
  await page.waitForSelector('.modal', { state: 'detached' });
  step('keys');
  await ctx.close();

  // ---- phone: the heading of an opened message, the row after Back ----
  const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
  const pp = await phone.newPage();
  watch(pp, 'phone');
  await login(pp);
  await openSubject(pp, 'Green picture');
  await pp.waitForFunction(() => document.activeElement?.tagName === 'H2' &&
    document.activeElement.closest('#reader') !== null);
  await shot(pp, 'webmail-access-phone-reader');
  await pp.click('#reader button.back');
  await pp.waitForSelector('#messages', { state: 'visible' });
  await pp.waitForFunction(() => document.activeElement?.matches('#messages .msg.selected'));
  assert.match((await active(pp)).text, /Green picture/);
  await phone.close();
  step('phone');

  assert.deepEqual(errors, [], 'console errors');
  console.log('webmail access test: ok');
} catch (e) {
  await shotAll(browser);
  console.error(e);
  console.error('console errors:', errors);
  process.exitCode = 1;
} finally {
  await browser.close();
}

// webmail.mjs - the webmail in a real browser (Debian's chromium driven by
// playwright-core), run by tests/integration/test_webmail_browser.py; the
// hostile HTML mails are webmail-hostile.mjs's. Environment: that of
// webmail-lib.mjs and
//   SMTP_PORT    smtpd, for the mail that must appear without a reload
//   FILLER       how many filler messages the INBOX has
//   MAILS        how many messages came over SMTP before the run
//   UPLOAD       a file to attach to the reply
// Any console error other than the expected ones fails the run.
import net from 'node:net';
import assert from 'node:assert/strict';
import {
  BASE, USER, PW, errors, step, launch, watch, shot, shotAll, login, openFolder,
  openSubject, search,
} from './webmail-lib.mjs';

// smtp - one message over plain SMTP (no auth: alice is local)
function smtp(port, from, to, data) {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    const steps = [`EHLO browser.test`, `MAIL FROM:<${from}>`, `RCPT TO:<${to}>`, 'DATA',
      `${data.replace(/\r?\n/g, '\r\n')}\r\n.`, 'QUIT'];
    let buf = '';
    s.setTimeout(30000, () => { s.destroy(); reject(new Error('smtp timeout')); });
    s.on('data', (d) => {
      buf += d.toString();
      const lines = buf.split('\r\n');
      buf = lines.pop();
      for (const l of lines) {
        if (/^\d{3} /.test(l)) {
          if (!/^[23]/.test(l)) { s.destroy(); reject(new Error(`smtp: ${l}`)); return; }
          const next = steps.shift();
          if (next === undefined) { s.end(); resolve(); return; }
          s.write(`${next}\r\n`);
        }
      }
    });
    s.on('error', reject);
    s.on('close', resolve);
  });
}

const browser = await launch();
try {
  // ---- desktop ------------------------------------------------------------------
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 860 } });
  const page = await ctx.newPage();
  watch(page, 'desktop');

  await page.goto(`${BASE}/mail/`);
  await page.waitForSelector('input[name=login]');
  await page.fill('input[name=login]', USER);
  await page.fill('input[name=password]', 'wrong-password-1');
  await page.click('button[type=submit]');
  await page.waitForSelector('.notice.error');
  await shot(page, 'webmail-login');
  await login(page);

  step('logged in');
  // folders with unread counts, the list paged by window
  const total = Number(process.env.FILLER) + Number(process.env.MAILS);
  const count = Number(await page.textContent('#folders .folder[data-role=inbox] .count'));
  assert.equal(count, total, 'the unread count of the inbox');
  for (const r of ['drafts', 'sent', 'trash', 'junk']) await page.waitForSelector(`#folders .folder[data-role=${r}]`);
  await page.waitForFunction((n) => document.querySelector('#messages .range')?.textContent === `1–50 of ${n}`, total);
  assert.equal(await page.locator('#messages .msg').count(), 50);
  await shot(page, 'webmail-list');
  await page.click('#messages button.next');
  await page.waitForFunction((n) => document.querySelector('#messages .range')?.textContent === `51–${n} of ${n}`, total);
  // sorted by subject on the server: Filler 000 first
  await page.selectOption('select[name=sort]', 'subject');
  await page.waitForFunction(() => document.querySelector('#messages .range')?.textContent.startsWith('1–50'));
  await page.waitForFunction(() => document.querySelector('#messages .msg .subject')?.textContent.includes('Filler number 000'));
  await page.selectOption('select[name=sort]', 'date');

  step('list paged and sorted');
  // plain text: escaped, links made links
  await openSubject(page, 'Plans for the shed');
  const pre = page.locator('#reader pre.plain');
  assert.match(await pre.textContent(), /<b>not bold<\/b> & not markup/);
  assert.equal(await page.locator('#reader pre.plain b').count(), 0);
  assert.equal(await page.locator('#reader pre.plain a[href="https://example.org/shed?x=1&y="]').count(), 1);

  // HTML with an inline cid: image and attachments
  await openSubject(page, 'Photo report with pictures');
  const frame = page.frameLocator('#reader iframe.html-body');
  await frame.locator('h1', { hasText: 'Photo report' }).waitFor();
  await page.waitForFunction(() => {
    const f = document.querySelector('#reader iframe.html-body');
    const img = f && f.contentDocument && f.contentDocument.getElementById('inline');
    return img && img.src.startsWith('blob:') && img.complete && img.naturalWidth === 24;
  });
  const sandbox = await page.getAttribute('#reader iframe.html-body', 'sandbox');
  assert.doesNotMatch(sandbox, /allow-scripts/);
  const names = await page.locator('#reader .attachment .att-name').allTextContents();
  assert.deepEqual(names.sort(), ['green.png', 'report.pdf']);
  const pdfHref = await page.getAttribute('#reader .attachment:has-text("report.pdf") a.download', 'href');
  const pdf = await ctx.request.get(`${BASE}${pdfHref}`);
  assert.equal(pdf.status(), 200);
  assert.match((await pdf.body()).toString('latin1'), /^%PDF-1\.4/);
  await page.click('#reader .attachment:has-text("green.png") button.preview');
  await page.waitForFunction(() => {
    const i = document.querySelector('.modal img');
    return i && i.complete && i.naturalWidth === 32;
  });
  await shot(page, 'webmail-html');
  await page.click('.modal button');

  step('read plain and HTML');
  // reply with an attachment (found at bob's and in Sent by the pytest)
  await openSubject(page, 'Plans for the shed');
  await page.click('#reader .message.open button.reply');
  await page.waitForSelector('#compose textarea[name=body]');
  assert.equal(await page.inputValue('#compose input[name=to]'), 'Bob Builder <bob@acme.test>');
  assert.equal(await page.inputValue('#compose input[name=subject]'), 'Re: Plans for the shed');
  const quoted = await page.inputValue('#compose textarea[name=body]');
  assert.match(quoted, /wrote:\n> Hello Alice,/);
  await page.locator('#compose textarea[name=body]').press('Control+Home');
  await page.keyboard.type('Thanks, the shed plans look good.');
  await page.setInputFiles('#compose input[name=attach]', process.env.UPLOAD);
  await page.waitForSelector('#compose .att:has-text("notes.txt")');
  await page.waitForSelector('#compose .status:has-text("Draft saved")');
  await shot(page, 'webmail-compose');
  await page.click('#compose button.send');
  await page.waitForSelector('.notice.ok:has-text("Message sent.")');
  await page.waitForSelector('#compose', { state: 'detached' });
  await openFolder(page, 'sent');
  await page.waitForSelector('#messages .msg:has-text("Re: Plans for the shed")');

  // forward with the original's attachments
  await openFolder(page, 'inbox');
  await openSubject(page, 'Photo report with pictures');
  await page.click('#reader .message.open button.forward');
  await page.waitForSelector('#compose input[name=to]');
  assert.equal(await page.inputValue('#compose input[name=subject]'), 'Fwd: Photo report with pictures');
  await page.waitForSelector('#compose .att:has-text("report.pdf")');
  await page.waitForSelector('#compose .att:has-text("green.png")');
  await page.fill('#compose input[name=to]', 'bob@acme.test');
  await page.click('#compose button.send');
  await page.waitForSelector('.notice.ok:has-text("Message sent.")');
  await page.waitForSelector('#compose', { state: 'detached' });
  step('reply and forward sent');
  // a draft saved as you type, then discarded; address completion from Sent
  await page.keyboard.press('c');
  await page.waitForSelector('#compose input[name=to]');
  await page.type('#compose input[name=to]', 'bo');
  await page.waitForSelector('#compose .suggest li:has-text("bob@acme.test")');
  await page.keyboard.press('Enter');
  assert.match(await page.inputValue('#compose input[name=to]'), /bob@acme\.test>?, $/);
  await page.fill('#compose input[name=subject]', 'Half-written thought');
  await page.waitForSelector('#compose .status:has-text("Draft saved")');
  await openFolder(page, 'drafts');
  await page.waitForSelector('#messages .msg:has-text("Half-written thought")');
  await page.click('#compose button.discard');
  await page.waitForSelector('#messages .msg:has-text("Half-written thought")', { state: 'detached' });

  // rich text (Squire): bold and a list, sent as HTML with a text part
  await page.keyboard.press('c');
  await page.waitForSelector('#compose input[name=to]');
  await page.fill('#compose input[name=to]', 'bob@acme.test');
  await page.fill('#compose input[name=subject]', 'Rich greetings');
  await page.check('#compose input[name=rich]');
  await page.click('#compose .rich-body');
  await page.click('#compose .rich-tools button[aria-label=Bold]');
  await page.keyboard.type('Bold hello');
  await page.keyboard.press('Enter');
  await page.click('#compose .rich-tools button[aria-label=Bold]');
  await page.keyboard.type('plain after <script>');
  await page.waitForSelector('#compose .rich-body b:has-text("Bold hello")');
  await shot(page, 'webmail-compose-rich');
  await page.click('#compose button.send');
  await page.waitForSelector('.notice.ok:has-text("Message sent.")');
  await page.waitForSelector('#compose', { state: 'detached' });

  step('draft, rich text');
  // move: by the menu (to Junk) and by drag and drop (onto Trash)
  await openFolder(page, 'inbox');
  await search(page, 'Filler number 059');
  await page.waitForSelector('#messages .msg:has-text("Filler number 059")');
  await openSubject(page, 'Filler number 059');
  const junkId = await page.getAttribute('#folders .folder[data-role=junk]', 'data-id');
  await page.selectOption('#reader .message.open select[name=move]', junkId);
  await page.waitForSelector('.notice.ok:has-text("Moved to Junk")');
  await search(page, 'Filler number 058');
  await page.waitForSelector('#messages .msg:has-text("Filler number 058")');
  await page.dragAndDrop('#messages .msg:has-text("Filler number 058")', '#folders .folder[data-role=trash]');
  await page.waitForSelector('.notice.ok:has-text("Moved to Trash")');
  await page.waitForSelector('#messages .msg:has-text("Filler number 058")', { state: 'detached' });

  // flag, then delete by the button (to Trash, the flag kept)
  await search(page, 'Filler number 057');
  await openSubject(page, 'Filler number 057');
  await page.click('#reader .message.open button.flag');
  await page.waitForSelector('#reader .message.open button.flag[aria-pressed=true]');
  await page.waitForSelector('#messages .msg.selected .flag');
  await page.click('#reader .message.open button.delete');
  await page.waitForSelector('.notice.ok:has-text("Moved to Trash")');
  await page.waitForSelector('#messages .msg:has-text("Filler number 057")', { state: 'detached' });
  step('moved');
  // search (text, on the server) and the keyboard
  await search(page, 'zebrafinch');
  await page.waitForFunction(() => {
    const rows = document.querySelectorAll('#messages .msg');
    return rows.length === 1 && rows[0].textContent.includes('Photo report');
  });
  await search(page, '');
  await page.waitForFunction((n) => document.querySelector('#messages .range')?.textContent === `1–50 of ${n}`,
    total - 3);
  await page.locator('#messages .msg').first().focus();
  await page.waitForSelector('#messages .msg.selected:first-child');
  const second = await page.locator('#messages .msg').nth(1).getAttribute('data-id');
  // j and Enter at once: the keys must act on the state j made, even before
  // the page has rendered it (an Enter right after j opened the first row)
  await page.keyboard.press('j');
  await page.keyboard.press('Enter');
  await page.waitForFunction((id) => location.hash.endsWith(`/${id}`), second)
    .catch(async (e) => {
      throw new Error(`${e.message}\nwanted #…/${second}, page at ${await page.evaluate(() => location.hash)}`);
    });
  await page.waitForFunction((id) => document.activeElement.dataset.id === id, second);
  await page.waitForSelector(`#messages .msg.selected[data-id="${second}"]`);
  await page.keyboard.press('Escape');
  await page.keyboard.press('/');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'q');
  await page.keyboard.press('Escape');

  step('searched, keys');
  // new mail appears without a reload (push)
  await smtp(Number(process.env.SMTP_PORT), 'bob@acme.test', 'alice@acme.test',
    'From: bob@acme.test\nTo: alice@acme.test\nSubject: Pushed while looking\n\nhello\n');
  await page.waitForSelector('#messages .msg:has-text("Pushed while looking")', { timeout: 45000 });

  step('pushed');
  // the settings route: the settings pages, or the message that they are missing
  await page.goto(`${BASE}/mail/#/settings`);
  await page.waitForSelector('#settings');
  await page.waitForFunction(() => !/Loading…/.test(document.querySelector('#settings').textContent));
  await page.goto(`${BASE}/mail/#/`);

  // logout
  await page.click('header button.logout');
  await page.waitForSelector('input[name=login]');
  await ctx.close();

  step('desktop done');
  // ---- phone ----------------------------------------------------------------------
  const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
  const pp = await phone.newPage();
  watch(pp, 'phone');
  await login(pp);
  await pp.waitForSelector('#messages .msg');
  assert.equal(await pp.isVisible('#folders'), false, 'folders hidden beside the list on a phone');
  assert.equal(await pp.isVisible('#reader'), false);
  await shot(pp, 'webmail-phone-list');
  await pp.click('header button.menu');
  await pp.waitForSelector('#folders', { state: 'visible' });
  await shot(pp, 'webmail-phone-folders');
  await pp.click('#folders .folder[data-role=inbox]');
  await pp.waitForSelector('#messages', { state: 'visible' });
  await openSubject(pp, 'Photo report with pictures');
  assert.equal(await pp.isVisible('#messages'), false, 'one pane at a time');
  await pp.frameLocator('#reader iframe.html-body').locator('h1').waitFor();
  const width = await pp.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(width <= 392, `no sideways scrolling (${width}px)`);
  await shot(pp, 'webmail-phone-reader');
  await pp.click('#reader button.back');
  await pp.waitForSelector('#messages', { state: 'visible' });
  await pp.click('header button.compose');
  await pp.waitForSelector('#compose input[name=to]');
  await shot(pp, 'webmail-phone-compose');
  await pp.click('#compose button.discard');
  await phone.close();

  step('phone done');
  assert.deepEqual(errors, [], 'console errors');
  console.log('webmail browser test: ok');
} catch (e) {
  await shotAll(browser);
  console.error(e);
  console.error('console errors:', errors);
  process.exitCode = 1;
} finally {
  await browser.close();
}

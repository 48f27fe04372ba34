// webmail-hostile.mjs - the hostile HTML mails of
// tests/integration/test_webmail_hostile.py in a real browser (Debian's
// chromium driven by playwright-core): none of their scripts, event
// handlers, javascript: links, SVG scripts, forms, meta refreshes,
// <base>, frames or objects may run or navigate, and nothing remote
// (images, CSS url(), image-set() and @import, fonts, links, frames,
// pings) is requested: counted both by the browser's requests and by the
// loopback "remote" server this script runs. After "Show images" only
// images are fetched. Environment: that of webmail-lib.mjs and
//   REMOTE_PORT  the port of the "remote" host (http://localhost:PORT)
//   MANY         how many attachments the message "Many parts" has
import http from 'node:http';
import assert from 'node:assert/strict';
import {
  BASE, errors, step, launch, watch, shot, shotAll, login, openSubject, search,
} from './webmail-lib.mjs';

const SUBJECTS = ['Hostile script', 'Hostile handlers', 'Hostile links', 'Hostile CSS',
  'Hostile SVG', 'Hostile remote', 'Hostile form', 'Hostile tricks', 'Hostile frames'];
const IMAGES = new Set(['/img.png', '/table.png', '/bg.png', '/inline-bg.png']);

async function frameDoc(page) {
  return page.waitForFunction(() => {
    // the frame's document exists before its body is parsed: wait for both
    const f = document.querySelector('#reader iframe.html-body');
    return f && f.contentDocument && /reader(-remote)?\.html$/.test(f.contentDocument.location.pathname) &&
      f.contentDocument.body !== null && f.contentDocument.body.childNodes.length > 0;
  });
}

async function hostile(page, remoteHits, pageRemote) {
  await search(page, 'Hostile');
  await page.waitForFunction((n) => document.querySelectorAll('#messages .msg').length === n, SUBJECTS.length);
  for (const s of SUBJECTS) {
    await openSubject(page, s);
    await frameDoc(page);
    // try what a reader would do: hover, click the links and the button
    const f = page.frameLocator('#reader iframe.html-body');
    if (s === 'Hostile links') {
      for (const id of ['js', 'jsent', 'data']) {
        const href = await f.locator(`#${id}`).getAttribute('href');
        assert.equal(href, null, `${id}: the dangerous href is gone`);
        await f.locator(`#${id}`).click();
      }
    }
    if (s === 'Hostile handlers') await f.locator('div', { hasText: 'hover me' }).hover();
    if (s === 'Hostile form') assert.equal(await f.locator('form, input, button').count(), 0);
    if (s === 'Hostile tricks') {
      assert.equal(await f.locator('#ping').getAttribute('ping'), null, 'no ping attribute');
      await f.locator('#ping').hover();
    }
    const inside = await page.evaluate(() => {
      const d = document.querySelector('#reader iframe.html-body').contentDocument;
      return {
        scripts: d.querySelectorAll('script, iframe, object, embed, form, meta, base, link').length,
        handlers: [...d.querySelectorAll('*')].filter((e) => [...e.attributes].some((a) => /^on/i.test(a.name))).length,
      };
    });
    assert.deepEqual(inside, { scripts: 0, handlers: 0 }, s);
  }
  // a script that ran would have had a moment; the page is still ours
  await page.waitForTimeout(500);
  assert.equal(await page.evaluate(() => window.__pwned), undefined, 'no hostile script ran');
  assert.match(page.url(), /\/mail\/#\/mailbox\//, 'no navigation');
  assert.deepEqual(remoteHits, [], 'nothing remote was requested (the remote server)');
  assert.deepEqual(pageRemote, [], 'nothing remote was requested (the browser)');
  await shot(page, 'webmail-hostile');

  // allowing images for one message loads its images, nothing else
  await openSubject(page, 'Hostile remote');
  await page.click('#reader .images-bar button.show-images');
  page.allowCsp = true;
  await page.waitForFunction(() => {
    const f = document.querySelector('#reader iframe.html-body');
    const i = f && f.contentDocument && f.contentDocument.getElementById('remote');
    return i && i.complete && i.naturalWidth === 1;
  });
  await openSubject(page, 'Hostile CSS');
  await page.click('#reader .images-bar button.show-images');
  await frameDoc(page);
  await page.waitForTimeout(500);
  assert.ok(remoteHits.includes('/img.png'), `the allowed image was loaded: ${remoteHits}`);
  for (const h of remoteHits) assert.ok(IMAGES.has(h), `only images once allowed, not ${h}`);
  assert.equal(await page.evaluate(() => window.__pwned), undefined);
  page.allowCsp = false;
  remoteHits.length = 0;
  pageRemote.length = 0;
}

// the "remote" host: counts what it is asked for
const remoteHits = [];
const remote = http.createServer((req, res) => {
  remoteHits.push(req.url);
  res.writeHead(200, { 'Content-Type': req.url.endsWith('.png') ? 'image/png' : 'text/plain' });
  res.end(req.url.endsWith('.png') ? Buffer.from(
    'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==', 'base64') : 'x');
});
await new Promise((ok) => remote.listen(Number(process.env.REMOTE_PORT), '127.0.0.1', ok));

const browser = await launch();
try {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 860 } });
  const page = await ctx.newPage();
  watch(page, 'hostile');
  const pageRemote = [];
  page.on('request', (r) => {
    if (!r.url().startsWith(BASE) && !/^(blob|data):/.test(r.url())) pageRemote.push(r.url());
  });

  // the CSP of the app and of its reader frames
  const resp = await page.goto(`${BASE}/mail/`);
  const csp = resp.headers()['content-security-policy'];
  assert.match(csp, /script-src 'self'/);
  assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|https?:/);
  for (const f of ['reader.html', 'reader-remote.html']) {
    const h = (await ctx.request.get(`${BASE}/mail/${f}`)).headers();
    const rcsp = h['content-security-policy'];
    assert.match(rcsp, /default-src 'none'/, f);
    assert.match(rcsp, /sandbox/, f);
    assert.doesNotMatch(rcsp, /script-src|connect-src|font-src|form-action 'self'/, f);
    assert.match(rcsp, f === 'reader.html' ? /img-src blob: data:$/ : /img-src blob: data: http: https:$/, f);
    assert.equal(h['x-frame-options'], 'SAMEORIGIN', f);
  }
  await login(page);
  step('logged in');

  page.allowCsp = false;
  await hostile(page, remoteHits, pageRemote);
  step('hostile mails');

  // thousands of parts and broken MIME: listed and opened, with limits
  await search(page, '');
  await page.click('#folders .folder:has-text("Odd")');
  await page.waitForSelector('#folders .folder.current:has-text("Odd")');
  await openSubject(page, 'Many parts');
  await page.waitForSelector('#reader .more-atts');
  assert.equal(await page.locator('#reader .attachment').count(), 200);
  assert.equal(await page.textContent('#reader .more-atts'),
    `and ${Number(process.env.MANY) - 200} more attachments (not listed)`);
  await openSubject(page, 'Broken MIME');
  await page.waitForSelector('#reader pre.plain:has-text("the readable part")');
  step('many parts, broken MIME');
  assert.deepEqual(errors, [], 'console errors');
  console.log('webmail hostile test: ok');
} catch (e) {
  await shotAll(browser);
  console.error(e);
  console.error('console errors:', errors);
  process.exitCode = 1;
} finally {
  await browser.close();
  remote.close();
}

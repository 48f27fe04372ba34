// webmail-hostile.mjs - the hostile HTML mails of
// tests/integration/test_webmail_browser.py, opened by webmail.mjs: none of
// their scripts, event handlers, javascript: links, SVG scripts, forms,
// meta refreshes, <base>, frames or objects may run or navigate, and
// nothing remote (images, CSS url() and @import, fonts, links, frames) is
// requested: counted both by the browser's requests and by the loopback
// "remote" server. After "Show images" only images are fetched.
import assert from 'node:assert/strict';

const SUBJECTS = ['Hostile script', 'Hostile handlers', 'Hostile links', 'Hostile CSS',
  'Hostile SVG', 'Hostile remote', 'Hostile form', 'Hostile tricks', 'Hostile frames'];
const IMAGES = new Set(['/img.png', '/table.png', '/bg.png', '/inline-bg.png']);

async function frameDoc(page) {
  return page.waitForFunction(() => {
    const f = document.querySelector('#reader iframe.html-body');
    return f && f.contentDocument && /reader(-remote)?\.html$/.test(f.contentDocument.location.pathname) &&
      f.contentDocument.body.childNodes.length > 0;
  });
}

export async function hostile(page, { remoteHits, pageRemote, shot, openSubject, search }) {
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

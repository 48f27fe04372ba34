// webadmin-branding.mjs - a post office's logos in a real browser
// (chromium by playwright-core), run by
// tests/integration/test_webadmin_browser.py::test_webadmin_branding:
//   BASE, SYS (login:password of a SYSADMIN), ADMIN (alpha's postmaster,
//   without webadmin_brand), USER (a mailbox of alpha), SHOTS, WEB_MODULES
// The SYSADMIN uploads alpha's login logo (PNG) and banner logo (SVG) in
// the post offices page and is told why a scripted SVG is refused; the
// web admin's and the webmail's login pages show the login logo once a
// login of alpha.test is typed; alpha's ADMIN sees the banner logo and
// is refused a change by the server; the webmail's header shows the
// banner. Desktop and 390 px screenshots; any console error fails.
import zlib from 'node:zlib';
import assert from 'node:assert/strict';
import {
  BASE, SHOTS, errors, watch, shot, login, logout, launch,
  navTo,
} from './webadmin-lib.mjs';

const [SYS, SYSPW] = process.env.SYS.split(':');
const [ADM, ADMPW] = process.env.ADMIN.split(':');
const [USR, USRPW] = process.env.USER_LOGIN.split(':');

function png(w, h) {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (b) => { let c = 0xffffffff; for (const x of b) c = crcTable[(c ^ x) & 255] ^ (c >>> 8); return (c ^ 0xffffffff) >>> 0; };
  const chunk = (t, d) => {
    const len = Buffer.alloc(4); len.writeUInt32BE(d.length);
    const td = Buffer.concat([Buffer.from(t), d]);
    const c = Buffer.alloc(4); c.writeUInt32BE(crc(td));
    return Buffer.concat([len, td, c]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0); ihdr.writeUInt32BE(h, 4); ihdr[8] = 8; ihdr[9] = 2;
  const rows = [];
  for (let y = 0; y < h; y++) {
    rows.push(Buffer.from([0]));
    for (let x = 0; x < w; x++) rows.push(Buffer.from(x < w / 3 ? [36, 84, 197] : x < 2 * w / 3 ? [6, 118, 71] : [181, 71, 8]));
  }
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr), chunk('IDAT', zlib.deflateSync(Buffer.concat(rows))), chunk('IEND', Buffer.alloc(0))]);
}

const SVG = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="160" height="32" viewBox="0 0 160 32">'
  + '<rect width="160" height="32" rx="6" fill="#067647"/><text x="10" y="22" font-size="16" '
  + 'font-family="sans-serif" fill="#fff">Alpha &amp; Co</text></svg>');
const EVIL = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"><script>window.__xss=1</script></svg>');

// loaded - the image is there and decoded (the CSP let it in)
async function loaded(page, sel) {
  await page.waitForFunction((s) => {
    const i = document.querySelector(s);
    return i && i.complete && i.naturalWidth > 0;
  }, sel);
}

const browser = await launch();
try {
  const desk = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  let page = await desk.newPage();
  watch(page, 'desktop');
  await login(page, SYS, SYSPW);
  await navTo(page, 'postoffices');
  await page.locator('[data-test=postoffices] tr', { hasText: 'alpha' }).locator('[data-test=logos]').click();
  await page.waitForSelector('[data-test=branding] [data-test=logo-login]');
  await page.setInputFiles('[data-test=file-login]', { name: 'alpha.png', mimeType: 'image/png', buffer: png(180, 48) });
  await loaded(page, '[data-test=logo-login] img.logo-preview');
  await page.setInputFiles('[data-test=file-banner]', { name: 'alpha.svg', mimeType: 'image/svg+xml', buffer: SVG });
  await loaded(page, '[data-test=logo-banner] img.logo-preview');
  // a scripted SVG: the server says why, the logo stays
  await page.setInputFiles('[data-test=file-banner]', { name: 'evil.svg', mimeType: 'image/svg+xml', buffer: EVIL });
  await page.waitForSelector('[data-test=branding] [data-test=error]');
  assert.match(await page.textContent('[data-test=branding] [data-test=error]'), /script/);
  await loaded(page, '[data-test=logo-banner] img.logo-preview');
  await shot(page, 'desktop-branding');
  await logout(page);

  // the login page: the logo once a login of alpha's domain is typed
  await page.fill('input[name=login]', 'someone@alpha.test');
  await loaded(page, 'img[data-test=login-logo]');
  assert.match(await page.getAttribute('img[data-test=login-logo]', 'src'), /^\/api\/branding\/alpha\/login\?v=/);
  await shot(page, 'desktop-login-branded');
  await page.fill('input[name=login]', 'someone@elsewhere.test');
  await page.waitForSelector('img[data-test=login-logo]', { state: 'detached' });

  // alpha's ADMIN: the banner; the server refuses it the change
  await login(page, ADM, ADMPW);
  await loaded(page, 'header img[data-test=banner-logo]');
  await navTo(page, 'postoffices');
  await page.click('[data-test=logos]');
  await page.waitForSelector('[data-test=file-login]');
  await page.setInputFiles('[data-test=file-login]', { name: 'mine.png', mimeType: 'image/png', buffer: png(20, 20) });
  await page.waitForSelector('[data-test=branding] [data-test=error]');
  assert.match(await page.textContent('[data-test=branding] [data-test=error]'), /webadmin_brand/);
  await shot(page, 'desktop-branding-admin-refused');
  await logout(page);

  // the webmail: the login logo, then the banner
  await page.goto(`${BASE}/mail/`);
  await page.fill('input[name=login]', USR);

  await loaded(page, 'img[data-test=login-logo]');
  await page.fill('input[name=password]', USRPW);
  await page.click('button[type=submit]');
  await loaded(page, 'header img[data-test=banner-logo]');
  await shot(page, 'desktop-webmail-branded');
  await desk.close();

  const phone = await browser.newContext({
    viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true,
  });
  page = await phone.newPage();
  watch(page, 'phone');
  await page.goto(`${BASE}/admin/?postoffice=alpha`);
  await loaded(page, 'img[data-test=login-logo]');   // by ?postoffice=
  await shot(page, 'phone-login-branded');
  await login(page, SYS, SYSPW);
  await navTo(page, 'postoffices');
  await page.locator('[data-test=postoffices] tr', { hasText: 'alpha' }).locator('[data-test=logos]').click();
  await loaded(page, '[data-test=logo-banner] img.logo-preview');
  await page.locator('[data-test=branding]').scrollIntoViewIfNeeded();
  await shot(page, 'phone-branding');
  const wide = await page.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(wide <= 390, `the branding page is ${wide}px wide on a 390px phone`);
  await phone.close();
} finally {
  await browser.close();
}
assert.equal(errors.length, 0, `console errors:\n${errors.join('\n')}`);
console.log('webadmin branding browser test: ok');

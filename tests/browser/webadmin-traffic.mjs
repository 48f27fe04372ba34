// webadmin-traffic.mjs - the dashboard's traffic plots (web/admin/plot.js)
// in a real browser (chromium by playwright-core), run by
// tests/integration/test_webadmin_browser.py::test_webadmin_traffic_plots:
//   BASE, SYS (login:password of a SYSADMIN), ADMIN (of a post office),
//   EXPECT (JSON: the day's totals per series as the API sums them),
//   SHOTS, WEB_MODULES
// The SYSADMIN's dashboard draws both plots as SVG: a line per series
// with a point per sampled minute, legends whose totals are the API's;
// the 1 hour range asks again and still shows the mail just sent; at
// 390 px the page is no wider than the phone. An ADMIN sees no plots.
// Any console error (a CSP violation included) fails.
import assert from 'node:assert/strict';
import {
  BASE, SHOTS, errors, watch, shot, login, launch,
} from './webadmin-lib.mjs';

const [SYS, SYSPW] = process.env.SYS.split(':');
const [ADM, ADMPW] = process.env.ADMIN.split(':');
const EXPECT = JSON.parse(process.env.EXPECT);

// segments - the points of a path's d (M and L commands)
function points(d) {
  return (d.match(/[ML]/g) || []).length;
}

async function checkPlots(page) {
  await page.waitForSelector('[data-test=plot-messages] path[data-series=in]', { state: 'attached' });
  for (const k of ['in', 'out', 'delivered', 'bounced']) {
    const shown = await page.textContent(`[data-test=messages-${k}]`);
    assert.equal(Number(shown), EXPECT[k], `the legend's ${k}`);
  }
  const d = await page.getAttribute('[data-test=plot-messages] path[data-series=in]', 'd');
  // a day of samples: a point per minute (the ones before the samples
  // began are gaps)
  assert.ok(points(d) > 1000, `the in line has ${points(d)} points`);
  assert.match(d, /^M[\d.]+ [\d.]+(L[\d.]+ [\d.]+)+/);
  const q = await page.getAttribute('[data-test=plot-queues] path[data-series=remote]', 'd');
  assert.ok(points(q) > 1000, 'the outgoing queue line');
  // every coordinate inside the SVG's box
  for (const [, x, y] of d.matchAll(/[ML]([\d.]+) ([\d.]+)/g)) {
    assert.ok(Number(x) >= 0 && Number(x) <= 600 && Number(y) >= 0 && Number(y) <= 160, `${x},${y}`);
  }
  const label = await page.getAttribute('[data-test=svg-messages]', 'aria-label');
  assert.match(label, new RegExp(`Received \\(SMTP\\) ${EXPECT.in}`));
}

const browser = await launch();
try {
  const desk = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  let page = await desk.newPage();
  watch(page, 'desktop');
  await login(page, SYS, SYSPW);
  await checkPlots(page);
  await shot(page, 'desktop-traffic');
  // the last hour: asked again, holds the mail the test just sent
  await page.click('[data-test=range-60]');
  await page.waitForFunction(() => document.querySelector('[data-test=plot-messages] path[data-series=in]')
    && (document.querySelector('[data-test=plot-messages] path[data-series=in]').getAttribute('d')
      .match(/[ML]/g) || []).length <= 60);
  const inHour = Number(await page.textContent('[data-test=messages-in]'));
  assert.ok(inHour >= EXPECT.sent, `the last hour shows ${inHour} received`);
  assert.equal(await page.getAttribute('[data-test=range-60]', 'aria-pressed'), 'true');
  await shot(page, 'desktop-traffic-hour');
  await desk.close();

  const phone = await browser.newContext({
    viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true,
  });
  page = await phone.newPage();
  watch(page, 'phone');
  await login(page, SYS, SYSPW);
  await checkPlots(page);
  await page.locator('[data-test=traffic]').scrollIntoViewIfNeeded();
  await shot(page, 'phone-traffic');
  const wide = await page.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(wide <= 390, `the dashboard is ${wide}px wide on a 390px phone`);
  const svgw = await page.evaluate(() => document.querySelector('[data-test=svg-messages]').getBoundingClientRect().width);
  assert.ok(svgw > 200, `the plot is ${svgw}px wide on the phone`);
  await page.click('header .who button.link');
  await page.waitForSelector('input[name=login]');
  // an ADMIN: no plots (the API refuses it the server's counters)
  await login(page, ADM, ADMPW);
  await page.waitForSelector('h2:has-text("Dashboard")');
  await page.waitForTimeout(500);
  assert.equal(await page.locator('[data-test=traffic]').count(), 0);
  await phone.close();
} finally {
  await browser.close();
}
assert.deepEqual(errors, [], `console errors:\n${errors.join('\n')}`);
console.log('webadmin traffic browser test: ok');

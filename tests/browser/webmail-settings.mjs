// webmail-settings.mjs - the webmail's settings pages (web/mail/settings*.js)
// in a real browser (Debian's chromium driven by playwright-core), run by
// tests/integration/test_webmail_settings.py in two phases, so that the
// test can act from outside in between:
//   PHASE=create  desktop (1280 px): the auto responder (text and HTML),
//                 a filter written with the rules editor, an app password
//                 (printed: "APP_PASSWORD <password>"), an identity's
//                 name and HTML signature
//   PHASE=revoke  phone (390 px): the auto responder and the filter read
//                 back from the server, the recent logins, the app password
//                 revoked, two-factor login set up with oathtool's code and
//                 turned off, the password changed to NEW_PW
// The page: Settings({ jmap, session }) mounted by
// tests/browser/settings-page/ at /mail/settings-page/ on the running
// postern-httpd (the webmail shell mounts it at #/settings), logged in by
// the real login (its cookie) and calling the real JMAP API. Only the
// test page itself comes from the tree; every module it imports (the
// webmail's jmap.js, settings*.js, util.js, Preact and htm) is the one
// the server serves from its built web tree. The test page carries the
// webmail's Content-Security-Policy.
// Environment: BASE (http://127.0.0.1:PORT), USER_LOGIN, USER_PW, NEW_PW,
// SHOTS (screenshots), WEB_MODULES (web/node_modules), FOLDER (the
// filter's target folder, which exists), APP_NAME. Any console error
// (a CSP violation too) fails the run.
import { createRequire } from 'node:module'
import { execFileSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import assert from 'node:assert/strict'

const require = createRequire(import.meta.url)
const { chromium } = require(path.resolve(process.env.WEB_MODULES, 'playwright-core'))

const { BASE, USER_LOGIN, USER_PW, NEW_PW, SHOTS, FOLDER, APP_NAME, PHASE } = process.env
const HERE = path.dirname(fileURLToPath(import.meta.url))
const T = 20000
const errors = []
// the webmail's policy (src/httpd/static.c, /mail/)
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; " +
  "img-src 'self' blob: data:; connect-src 'self'; font-src 'self'; " +
  "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
const TYPES = { '.js': 'text/javascript', '.css': 'text/css', '.html': 'text/html' }

// servePage - the test page (tests/browser/settings-page/) at
// /mail/settings-page/; all else is the server's
async function servePage (route) {
  const name = new URL(route.request().url()).pathname.slice('/mail/settings-page/'.length)
  const f = path.join(HERE, 'settings-page', name)
  if (!/^[a-z-]+\.(js|css|html)$/.test(name) || !existsSync(f)) {
    return route.fulfill({ status: 404, body: 'not found' })
  }
  return route.fulfill({
    status: 200,
    body: readFileSync(f),
    headers: { 'Content-Type': TYPES[path.extname(f)], 'Content-Security-Policy': CSP }
  })
}

function watch (page, label) {
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`${label}: ${m.text()}`)
  })
  page.on('pageerror', (e) => errors.push(`${label}: ${e.message}`))
  page.on('dialog', (d) => { errors.push(`${label}: unexpected dialog ${d.message()}`); d.dismiss() })
  page.setDefaultTimeout(T)
}

// shot - a screenshot; and every control on the page has a name a screen
// reader says (a <label> or aria-label), every button a text or a label
async function shot (page, name) {
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true })
  const nameless = await page.evaluate(() => [...document.querySelectorAll('input, select, textarea, button')]
    .filter((e) => !(e.labels && e.labels.length) && !e.getAttribute('aria-label') && !(e.tagName === 'BUTTON' && e.textContent.trim()))
    .map((e) => e.outerHTML.slice(0, 80)))
  assert.deepEqual(nameless, [], `${name}: controls without a name`)
}

// login - the webmail's login (POST /jmap/mail/login sets the cookie in
// the browser context), then the settings page
async function login (page, hash) {
  const r = await page.request.post(`${BASE}/jmap/mail/login`, {
    data: { login: USER_LOGIN, password: USER_PW }, headers: { 'X-Postern-CSRF': '1' }
  })
  assert.equal(r.status(), 200, await r.text())
  await page.route((u) => u.pathname.startsWith('/mail/settings-page/'), servePage)
  await page.goto(`${BASE}/mail/settings-page/index.html${hash}`)
}

// totp - the code of an authenticator app now (oathtool, RFC 6238)
function totp (secret) {
  return execFileSync('oathtool', ['--totp', '-b', secret]).toString().trim()
}

async function tab (page, name, section) {
  await page.click(`#settings-nav button[data-tab=${name}]`)
  await page.waitForSelector(`${section} form, ${section} table, ${section} .empty, ${section} [data-test=twofactor-state]`)
}

async function ok (page, section, text) {
  const n = page.locator(`${section} [data-test=ok]`)
  await n.waitFor()
  assert.match(await n.innerText(), text)
}

async function error (page, section, text) {
  const n = page.locator(`${section} [data-test=error]`)
  await n.waitFor()
  assert.match(await n.innerText(), text)
}

const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] })
try {
  const phone = PHASE === 'revoke'
  const ctx = await browser.newContext({ viewport: phone ? { width: 390, height: 844 } : { width: 1280, height: 900 } })
  const page = await ctx.newPage()
  const w = phone ? 'phone' : 'desktop'
  watch(page, w)
  // the phone starts from a link to a tab (#/settings/<tab>)
  await login(page, phone ? '#/settings/logins' : '#/settings')
  await page.waitForSelector('#settings-nav')
  const selected = () => page.getAttribute('#settings-nav [aria-selected=true]', 'data-tab')
  assert.equal(await selected(), phone ? 'logins' : 'vacation')
  // the page's stylesheet came (the CSP allows no inline style)
  await page.waitForFunction(() => [...document.styleSheets].some((s) => /settings\.css/.test(s.href || '')))
  // keyboard: the tabs are buttons with names
  assert.equal(await page.locator('#settings-nav [role=tab]').count(), 8)
  if (!phone) {
    // ... and arrows move between them, the address following
    await page.focus('#settings-nav [aria-selected=true]')
    await page.keyboard.press('ArrowRight')
    assert.equal(await selected(), 'filters')
    assert.equal(await page.evaluate(() => document.activeElement.dataset.tab), 'filters')
    assert.equal(await page.evaluate(() => location.hash), '#/settings/filters')
    await page.keyboard.press('ArrowLeft')
    assert.equal(await selected(), 'vacation')
  }

  if (!phone) {
    // -- auto responder
    await tab(page, 'vacation', '#set-vacation')
    await page.check('#set-vacation input[name=isEnabled]')
    await page.fill('#set-vacation input[name=subject]', 'Away <b>until</b> Monday')
    await page.fill('#set-vacation textarea[name=textBody]', 'I am away.\nBack on Monday.')
    await page.fill('#set-vacation textarea[name=htmlBody]',
      '<p>I am <b>away</b>.<script>alert(1)</script><img src="http://remote.test/t.png"></p>')
    await page.fill('#set-vacation input[name=toDate]', '2031-01-05T09:30')
    await page.click('#set-vacation button.primary')
    await ok(page, '#set-vacation', /auto responder is on/)
    // what the server kept of the HTML is shown, as text
    assert.equal(await page.locator('#set-vacation [data-test=kept] code').innerText(), '<p>I am <b>away</b>.</p>')
    assert.equal(await page.inputValue('#set-vacation textarea[name=htmlBody]'), '<p>I am <b>away</b>.</p>')
    assert.equal(await page.locator('#set-vacation b, #set-vacation script, #set-vacation img').count(), 0)
    await shot(page, `${w}-settings-vacation`)

    // -- a filter: subject contains [report] -> FOLDER, flagged; stop
    await tab(page, 'filters', '#set-filters')
    await page.click('#set-filters [data-test=add-rule]')
    const rule = page.locator('#set-filters li.rule').last()
    await rule.locator('input[name=ruleName]').fill('Reports <script>x</script>')
    await rule.locator('li.cond select[name=field]').selectOption('subject')
    await rule.locator('li.cond input[name=value]').fill('[report]')
    await rule.locator('li.act select[name=folder]').selectOption(FOLDER)
    await rule.locator('button', { hasText: '+ action' }).click()
    await rule.locator('li.act').nth(1).locator('select[name=flag]').selectOption('\\Flagged')
    // a bad rule is refused in the page, with a reason
    await page.click('#set-filters [data-test=add-rule]')
    const bad = page.locator('#set-filters li.rule').last()
    await bad.locator('li.act select[name=action]').selectOption('redirect')
    await bad.locator('li.act input[name=address]').fill('not-an-address')
    await bad.locator('li.cond input[name=value]').fill('x')
    await page.click('#set-filters button.primary')
    const err = page.locator('#set-filters [data-test=error]')
    await err.waitFor()
    assert.match(await err.innerText(), /redirect needs an address/)
    await bad.locator('button', { hasText: 'Remove rule' }).click()
    await page.click('#set-filters button.primary')
    await ok(page, '#set-filters', /1 rule active/)
    // typed markup shows as text
    assert.equal(await page.locator('#set-filters script').count(), 0)
    await shot(page, `${w}-settings-filters`)

    // -- an app password, shown once
    await tab(page, 'apppasswords', '#set-apppasswords')
    await page.fill('#set-apppasswords input[name=appName]', APP_NAME)
    await page.click('#set-apppasswords button.primary')
    const pw = (await page.locator('#set-apppasswords [data-test=password]').innerText()).trim()
    assert.match(pw, /^[A-Za-z0-9]{20,}$/)
    await page.waitForSelector(`#set-apppasswords tr[data-name="${APP_NAME}"]`)
    await shot(page, `${w}-settings-apppasswords`)
    // -- an identity: name and HTML signature (cut to the safe subset)
    await tab(page, 'identities', '#set-identities')
    await page.fill('#set-identities input[name=name]', 'Erin <Ops>')
    await page.fill('#set-identities textarea[name=textSignature]', '-- \nErin')
    await page.fill('#set-identities textarea[name=htmlSignature]',
      '<p><b>Erin</b> <a href="javascript:alert(1)">x</a><img src=x onerror="alert(2)"></p>')
    await page.click('#set-identities button.primary')
    await ok(page, '#set-identities', /Saved/)
    const kept = await page.locator('#set-identities [data-test=kept] code').innerText()
    assert.ok(kept.startsWith('<p><b>Erin</b>') && !/javascript|onerror|<img/i.test(kept), kept)
    assert.equal(await page.inputValue('#set-identities input[name=name]'), 'Erin <Ops>')
    assert.equal(await page.locator('#set-identities b, #set-identities img').count(), 0)
    await shot(page, `${w}-settings-identities`)
    // the other pages render
    for (const [t, s] of [['password', '#set-password'],
      ['twofactor', '#set-twofactor'], ['logins', '#set-logins']]) {
      await tab(page, t, s)
      await shot(page, `${w}-settings-${t}`)
    }
    console.log(`APP_PASSWORD ${pw}`)
  } else {
    // -- read back from the server: the auto responder...
    await tab(page, 'vacation', '#set-vacation')
    assert.equal(await page.isChecked('#set-vacation input[name=isEnabled]'), true)
    assert.equal(await page.inputValue('#set-vacation input[name=subject]'), 'Away <b>until</b> Monday')
    assert.equal(await page.inputValue('#set-vacation input[name=toDate]'), '2031-01-05T09:30')
    await shot(page, `${w}-settings-vacation`)
    // ... and the rules the editor wrote
    await tab(page, 'filters', '#set-filters')
    await page.waitForSelector('#set-filters li.rule')
    assert.equal(await page.locator('#set-filters li.rule').count(), 1)
    assert.equal(await page.inputValue('#set-filters li.rule input[name=ruleName]'), 'Reports <script>x</script>')
    assert.equal(await page.inputValue('#set-filters li.cond input[name=value]'), '[report]')
    assert.equal(await page.inputValue('#set-filters li.act select[name=folder]'), FOLDER)
    assert.equal(await page.locator('#set-filters [data-test=raw-sieve]').count(), 0)
    await shot(page, `${w}-settings-filters`)
    // a script written elsewhere (here: by JMAP from the page's origin)
    // becomes the active one: shown as Sieve, as text, beside the rules;
    // saving the rules makes the editor's script active again
    const made = await page.evaluate(async () => {
      const h = { 'X-Postern-CSRF': '1' }
      const s = await (await fetch('/jmap/mail/session', { headers: h })).json()
      const acc = s.primaryAccounts['urn:ietf:params:jmap:mail']
      const up = await (await fetch(s.uploadUrl.replace('{accountId}', acc), {
        method: 'POST', headers: { ...h, 'Content-Type': 'application/sieve' }, body: 'keep;\n# <b>by hand</b>\n'
      })).json()
      const r = await (await fetch(s.apiUrl, {
        method: 'POST',
        headers: { ...h, 'Content-Type': 'application/json' },
        body: JSON.stringify({
          using: ['urn:ietf:params:jmap:core', 'urn:ietf:params:jmap:sieve'],
          methodCalls: [['SieveScript/set', { accountId: acc, create: { h: { name: 'by-hand', blobId: up.blobId } }, onSuccessActivateScript: '#h' }, '0']]
        })
      })).json()
      return JSON.stringify(r.methodResponses[0][1].created || r)
    })
    assert.match(made, /"h"/)
    await tab(page, 'vacation', '#set-vacation')
    await tab(page, 'filters', '#set-filters')
    const note = page.locator('#set-filters [data-test=raw-sieve]')
    await note.waitFor()
    assert.match(await note.innerText(), /"by-hand" was not written here/)
    assert.match(await note.locator('pre').innerText(), /# <b>by hand<\/b>/)
    assert.equal(await page.locator('#set-filters pre b').count(), 0)
    assert.equal(await page.locator('#set-filters li.rule').count(), 1)
    await shot(page, `${w}-settings-filters-foreign`)
    await page.click('#set-filters button.primary')
    await ok(page, '#set-filters', /1 rule active/)
    await page.locator('#set-filters [data-test=raw-sieve]').waitFor({ state: 'detached' })
    // -- recent logins: the IMAP login of the app password is there
    await tab(page, 'logins', '#set-logins')
    await page.waitForSelector('#set-logins td:has-text("IMAP")')
    await shot(page, `${w}-settings-logins`)
    // -- revoke the app password (with a confirmation step)
    await tab(page, 'apppasswords', '#set-apppasswords')
    const row = page.locator(`#set-apppasswords tr[data-name="${APP_NAME}"]`)
    assert.match(await row.innerText(), /IMAP|imap/)
    await row.locator('[data-test=revoke]').click()
    await shot(page, `${w}-settings-revoke`)
    await row.locator('[data-test=confirm-revoke]').click()
    await ok(page, '#set-apppasswords', /revoked/)
    await shot(page, `${w}-settings-apppasswords`)
    assert.equal(await page.locator(`#set-apppasswords tr[data-name="${APP_NAME}"]`).count(), 0)
    // -- the identity as saved
    await tab(page, 'identities', '#set-identities')
    assert.equal(await page.inputValue('#set-identities input[name=name]'), 'Erin <Ops>')
    await shot(page, `${w}-settings-identities`)
    // -- two-factor login: set up with the app's code, recovery codes
    // shown once, then turned off again
    await tab(page, 'twofactor', '#set-twofactor')
    assert.match(await page.locator('#set-twofactor [data-test=twofactor-state]').innerText(), /^Off/)
    await page.click('#set-twofactor button.primary')
    const secret = (await page.locator('#set-twofactor [data-test=secret]').innerText()).trim()
    await page.waitForFunction(() => {
      const i = document.querySelector('#set-twofactor img[data-test=qr]')
      return i && i.complete && i.naturalWidth > 0
    })
    await page.fill('#set-twofactor input[name=code]', '000000' === totp(secret) ? '111111' : '000000')
    await page.click('#set-twofactor button.primary')
    await error(page, '#set-twofactor', /code/i)
    await shot(page, `${w}-settings-twofactor`)
    await page.fill('#set-twofactor input[name=code]', totp(secret))
    await page.click('#set-twofactor button.primary')
    await ok(page, '#set-twofactor', /is on/)
    assert.equal(await page.locator('#set-twofactor [data-test=recovery-codes] li').count() >= 5, true)
    assert.match(await page.locator('#set-twofactor [data-test=twofactor-state]').innerText(), /^On/)
    await shot(page, `${w}-settings-twofactor-on`)
    await page.click('#set-twofactor button.danger')
    await ok(page, '#set-twofactor', /is off/)
    assert.match(await page.locator('#set-twofactor [data-test=twofactor-state]').innerText(), /^Off/)
    // -- the password: the wrong current one is refused, then changed
    await tab(page, 'password', '#set-password')
    await page.fill('#set-password input[name=oldPassword]', 'Not-The-Password-1')
    await page.fill('#set-password input[name=newPassword]', NEW_PW)
    await page.fill('#set-password input[name=again]', NEW_PW)
    await page.click('#set-password button.primary')
    await error(page, '#set-password', /password/i)
    await page.fill('#set-password input[name=oldPassword]', USER_PW)
    await page.fill('#set-password input[name=newPassword]', NEW_PW)
    await page.fill('#set-password input[name=again]', NEW_PW + 'x')
    await page.click('#set-password button.primary')
    await error(page, '#set-password', /differ/)
    await page.fill('#set-password input[name=again]', NEW_PW)
    await page.click('#set-password button.primary')
    await ok(page, '#set-password', /password is changed/)
    await shot(page, `${w}-settings-password`)
    // nothing wider than the phone
    const wide = await page.evaluate(() => document.documentElement.scrollWidth)
    assert.ok(wide <= 390, `the page is ${wide} px wide at 390 px`)
  }
  await ctx.close()
  assert.deepEqual(errors, [])
  console.log(`webmail settings browser test (${PHASE}): ok`)
} finally {
  await browser.close()
}

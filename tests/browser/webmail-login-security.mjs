// webmail-login-security.mjs - the webmail's login security in a real
// browser (Debian's chromium driven by playwright-core, Chromium's virtual
// authenticators through the DevTools protocol), on the real webmail
// (/mail/) of a real postern-httpd; run by
// tests/integration/test_webmail_login_security.py in two phases so that
// the test can log in over IMAP in between:
//   PHASE=enrol   desktop (1280 px). The mailbox has two-factor "always":
//                 the first login shows the QR code, which zbarimg decodes
//                 from the browser's own rendering to the otpauth URI of
//                 the secret shown; a wrong code does not enrol, oathtool's
//                 code does and the recovery codes are shown once. The next
//                 login asks for a code only: the code already used
//                 (replay) and one of five minutes ago (wrong time step)
//                 are refused, the next step's code logs in. Two passkeys
//                 are added in the settings (two virtual authenticators),
//                 one renamed; a passwordless login with the second, the
//                 first as the second factor after the password; an app
//                 password made (printed "APP_PASSWORD <password>").
//                 Prints "RECOVERY <code>" for the next phase.
//   PHASE=review  phone (390 px): the password and a recovery code log
//                 in; the app password is listed with its last use (the
//                 test's IMAP login) and revoked; the recent logins show
//                 the web and IMAP logins with their addresses and
//                 countries; a passkey is removed; "remember this
//                 browser" (ticked with the recovery code) lets the
//                 password alone log in again.
//   PHASE=mailcode  phone: a mailbox whose second factor is a code by
//                 mail (MASKED: where the page says it went): the code is
//                 read over JMAP from HOME_LOGIN (HOME_PW); a wrong code is
//                 refused, the mailed one logs in.
// Environment: BASE (http://localhost:PORT: passkeys need a host name),
// USER_LOGIN, USER_PW, SHOTS, WEB_MODULES, PHASE, RECOVERY (review),
// IMAP_ADDRESS and IMAP_COUNTRY (review: where the test's IMAP login came
// from). Any console error other than the refusals of the login steps
// (401) and a CSP violation fails the run.
import { createRequire } from 'node:module'
import { execFileSync } from 'node:child_process'
import path from 'node:path'
import assert from 'node:assert/strict'

const require = createRequire(import.meta.url)
const { chromium } = require(path.resolve(process.env.WEB_MODULES, 'playwright-core'))

const { BASE, USER_LOGIN, USER_PW, SHOTS, PHASE } = process.env
const errors = []

// totp - oathtool's code (RFC 6238) at now + offset seconds
function totp (secret, offset) {
  const at = Math.floor(Date.now() / 1000) + (offset || 0)
  return execFileSync('oathtool', ['--totp', '-b', secret, '-N', `@${at}`]).toString().trim()
}

function watch (page) {
  page.on('console', (m) => {
    if (m.type() === 'error' && !/status of 401/.test(m.text())) errors.push(m.text())
  })
  page.on('pageerror', (e) => errors.push(e.message))
  page.on('dialog', (d) => { errors.push(`unexpected dialog ${d.message()}`); d.dismiss() })
  page.setDefaultTimeout(20000)
}

async function shot (page, name) {
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true })
  // nothing wider than the window (a phone scrolls only down)
  const wide = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth)
  assert.ok(wide <= 1, `${name}: the page is ${wide}px wider than the window`)
}

async function passwordStep (page) {
  await page.goto(`${BASE}/mail/`)
  await page.waitForSelector('#login input[name=login]')
  await page.fill('input[name=login]', USER_LOGIN)
  await page.fill('input[name=password]', USER_PW)
  await page.click('#login button[type=submit]')
  await page.waitForSelector('[data-test=second-factor]')
}

async function code (page, c) {
  await page.fill('input[name=code]', c)
  await page.click('#login button[type=submit]')
}

// refused - the login shows the server's refusal and stays at the code
async function refused (page, re) {
  const n = page.locator('#login [data-test=error]')
  await n.waitFor()
  assert.match(await n.innerText(), re)
  assert.equal(await page.$('header .who'), null)
}

async function loggedIn (page) {
  // (a phone's header hides the name)
  await page.waitForSelector('header .who', { state: 'attached' })
  assert.ok((await page.textContent('header .who')).includes(USER_LOGIN))
}

async function logout (page) {
  await page.click('header button.logout')
  await page.waitForSelector('#login input[name=login]')
}

// settings - a tab of the settings: by its address the first time, then
// by the tab list (the page keeps its tab on a change of the address)
async function settings (page, tab, ready) {
  if (await page.$('#settings-nav')) await page.click(`#settings-nav button[data-tab=${tab}]`)
  else await page.goto(`${BASE}/mail/#/settings/${tab}`)
  await page.waitForSelector(ready)
  // the current tab is in sight, a phone's too (its tab list scrolls)
  const seen = await page.$eval('#settings-nav [aria-selected=true]', (b) => {
    const r = b.getBoundingClientRect()
    return r.left >= 0 && r.right <= window.innerWidth
  })
  assert.ok(seen, `the tab ${tab} is out of sight`)
}

// mailedCode - the login code mailed for who, read from the code's
// mailbox (HOME_LOGIN, HOME_PW: no two-factor, so JMAP Basic works);
// waits up to 30 s for the mail
async function mailedCode (who) {
  const auth = { Authorization: 'Basic ' + Buffer.from(`${process.env.HOME_LOGIN}:${process.env.HOME_PW}`).toString('base64') }
  const s = await (await fetch(`${BASE}/jmap/mail/session`, { headers: auth })).json()
  const acct = s.primaryAccounts['urn:ietf:params:jmap:mail']
  const re = new RegExp(`login code for ${who} is:\\s+(\\d{8})`)
  for (let i = 0; i < 100; i++) {
    const r = await (await fetch(new URL(s.apiUrl, BASE), {
      method: 'POST',
      headers: { ...auth, 'Content-Type': 'application/json', 'X-Postern-CSRF': '1' },
      body: JSON.stringify({
        using: ['urn:ietf:params:jmap:core', 'urn:ietf:params:jmap:mail'],
        methodCalls: [
          ['Email/query', { accountId: acct, sort: [{ property: 'receivedAt', isAscending: false }], limit: 5 }, 'q'],
          ['Email/get', { accountId: acct, '#ids': { resultOf: 'q', name: 'Email/query', path: '/ids' },
            properties: ['textBody', 'bodyValues'], fetchTextBodyValues: true }, 'g']]
      })
    })).json()
    for (const m of r.methodResponses[1][1].list) {
      const hit = Object.values(m.bodyValues).map((v) => re.exec(v.value)).find(Boolean)
      if (hit) return hit[1]
    }
    await new Promise((resolve) => setTimeout(resolve, 300))
  }
  throw new Error(`no login code for ${who} arrived`)
}

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--no-first-run']
})
try {
  const phone = PHASE !== 'enrol'
  const w = phone ? 'phone' : 'desktop'
  const ctx = await browser.newContext({ viewport: phone ? { width: 390, height: 844 } : { width: 1280, height: 900 } })
  const page = await ctx.newPage()
  watch(page)
  const cdp = await ctx.newCDPSession(page)
  await cdp.send('WebAuthn.enable')
  const authenticator = async () => (await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true,
      hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true }
  })).authenticatorId
  const creds = async (id) => (await cdp.send('WebAuthn.getCredentials', { authenticatorId: id })).credentials

  if (PHASE === 'mailcode') {
    // ---- a code by mail (twofactor_type smtp): the page says where it
    // went; the code is read from that mailbox over JMAP
    await passwordStep(page)
    assert.equal(await page.$('[data-test=qr]'), null, 'TOTP enrolment asked of a code-by-mail mailbox')
    const sent = await page.textContent('[data-test=code-sent]')
    assert.ok(sent.includes(process.env.MASKED), sent)
    await shot(page, `${w}-login-code-by-mail`)
    const c = await mailedCode(USER_LOGIN)
    await code(page, c.slice(0, 7) + String((Number(c[7]) + 1) % 10))
    await refused(page, /code/i)
    await code(page, c)
    await loggedIn(page)
  } else if (PHASE === 'enrol') {
    // ---- enrolment at the first login: the QR code, zbarimg, oathtool
    await passwordStep(page)
    const img = page.locator('[data-test=qr]')
    await img.waitFor()
    assert.ok(await img.evaluate((i) => i.complete && i.naturalWidth > 50), 'the QR code image did not load')
    const secret = (await page.textContent('[data-test=secret]')).trim()
    assert.match(secret, /^[A-Z2-7]{32}$/)
    await shot(page, `${w}-login-enrol`)
    // zbarimg reads the QR code as Chromium drew it (a margin of the
    // white card around it for the quiet zone)
    const box = await img.boundingBox()
    const qrPng = path.join(SHOTS, 'qr-rendered.png')
    await page.screenshot({ path: qrPng, clip: { x: box.x - 16, y: box.y - 16, width: box.width + 32, height: box.height + 32 } })
    const uri = execFileSync('zbarimg', ['-q', '--raw', qrPng]).toString().trim()
    assert.match(uri, /^otpauth:\/\/totp\//, uri)
    assert.equal(new URL(uri).searchParams.get('secret'), secret, uri)
    console.log(`QR_URI ${uri}`)
    // a wrong code does not enrol; the QR code stays
    const now = totp(secret)
    await code(page, now === '000000' ? '111111' : '000000')
    await refused(page, /code/i)
    assert.notEqual(await page.$('[data-test=qr]'), null)
    await code(page, now)
    await page.waitForSelector('[data-test=recovery-codes]')
    const recovery = await page.$$eval('[data-test=recovery-codes] li', (l) => l.map((x) => x.textContent.trim()))
    assert.equal(recovery.length, 10)
    await shot(page, `${w}-login-recovery-codes`)
    console.log(`RECOVERY ${recovery[0]}`)
    await page.click('main.login button')
    await loggedIn(page)

    // ---- the next login: the code only; replay and wrong step refused
    await logout(page)
    await passwordStep(page)
    assert.equal(await page.$('[data-test=qr]'), null, 'the QR code shown again')
    // devices are not remembered here (auth.remember_device_days 0)
    assert.equal(await page.$('input[name=remember]'), null, '"remember this browser" offered')
    await code(page, now)                     // the code used to enrol
    await refused(page, /code/i)
    await code(page, totp(secret, -300))      // five minutes old
    await refused(page, /code/i)
    await shot(page, `${w}-login-code-refused`)
    await code(page, totp(secret, 30))        // the next step's: taken
    await loggedIn(page)

    // ---- passkeys: two, each on its own authenticator
    const a1 = await authenticator()
    await settings(page, 'passkeys', '#set-passkeys input[name=passkeyName]')
    await page.fill('input[name=passkeyName]', 'Laptop')
    await page.click('[data-test=add-passkey]')
    await page.waitForSelector('[data-test=passkey-row][data-name=Laptop]')
    // the authenticator holds one already: the browser refuses a second
    // (excludeCredentials), the page says so
    await page.fill('input[name=passkeyName]', 'Again')
    await page.click('[data-test=add-passkey]')
    await page.locator('#set-passkeys [data-test=error]').waitFor()
    const c1 = (await creds(a1))[0]
    assert.ok(c1 && c1.isResidentCredential)
    await cdp.send('WebAuthn.removeVirtualAuthenticator', { authenticatorId: a1 })
    const a2 = await authenticator()
    await page.fill('input[name=passkeyName]', 'Phone <b>key</b>')
    await page.click('[data-test=add-passkey]')
    await page.waitForSelector('[data-test=passkey-row] >> nth=1')
    const rows = await page.$$eval('[data-test=passkey-row]', (l) => l.map((r) => r.textContent))
    assert.equal(rows.length, 2, rows.join(' | '))
    assert.ok(rows.some((t) => t.includes('Phone <b>key</b>')), 'the name shows as text')
    assert.equal(await page.$('[data-test=passkey-row] b'), null, 'markup injected')
    // rename the first
    await page.click('[data-test=passkey-row][data-name=Laptop] [data-test=rename]')
    await page.fill('input[name=passkeyRename]', 'Work laptop')
    await page.click('[data-test=passkey-row] form button.primary')
    await page.waitForSelector('[data-test=passkey-row][data-name="Work laptop"]')
    await shot(page, `${w}-settings-passkeys`)

    // a passwordless login with the second passkey
    await logout(page)
    await shot(page, `${w}-login`)
    await page.click('[data-test=passkey-login]')
    await loggedIn(page)
    assert.ok((await creds(a2))[0].signCount >= 1)

    // the first passkey (back on an authenticator) as the second factor
    await cdp.send('WebAuthn.removeVirtualAuthenticator', { authenticatorId: a2 })
    const a3 = await authenticator()
    await cdp.send('WebAuthn.addCredential', { authenticatorId: a3, credential: c1 })
    await logout(page)
    await passwordStep(page)
    await page.waitForSelector('[data-test=use-passkey]')
    await shot(page, `${w}-login-second-factor`)
    await page.click('[data-test=use-passkey]')
    await loggedIn(page)
    assert.ok((await creds(a3))[0].signCount > c1.signCount, 'the counter did not move')

    // ---- an app password for the mail app
    await settings(page, 'apppasswords', '#set-apppasswords input[name=appName]')
    await page.fill('input[name=appName]', 'Thunderbird <i>home</i>')
    await page.click('#set-apppasswords button.primary')
    const pw = (await page.locator('[data-test=new-app-password] [data-test=password]').innerText()).trim()
    assert.ok(pw.length >= 20)
    await shot(page, `${w}-settings-apppasswords`)
    console.log(`APP_PASSWORD ${pw}`)
  } else {
    // ---- a recovery code at the login, on a phone
    // (the test turned auth.remember_device_days on: 30)
    await passwordStep(page)
    await shot(page, `${w}-login-second-factor`)
    const remember = page.locator('input[name=remember]')
    assert.match(await page.locator('label:has(input[name=remember])').innerText(), /30 days/)
    await remember.check()
    await code(page, process.env.RECOVERY)
    await loggedIn(page)

    // the two-factor state: the app and both passkeys, a recovery code
    // fewer
    await settings(page, 'twofactor', '#set-twofactor [data-test=twofactor-state]')
    assert.match(await page.locator('#set-twofactor [data-test=twofactor-state]').innerText(),
      /^On \(a second factor at every web login\)\. Codes come from your authenticator app\. Your 2 passkeys are a second factor too\. 9 recovery codes left\.$/)
    await shot(page, `${w}-settings-twofactor`)

    // the app password with its last use (the test's IMAP login), revoked
    await settings(page, 'apppasswords', '#set-apppasswords table')
    const row = page.locator('#set-apppasswords tr[data-name="Thunderbird <i>home</i>"]')
    const used = await row.locator('td[data-label="Last used"]').innerText()
    assert.ok(used.includes('IMAP') && used.includes(process.env.IMAP_ADDRESS), `last use: ${used}`)
    await shot(page, `${w}-settings-apppasswords`)
    await row.locator('[data-test=revoke]').click()
    await row.locator('[data-test=confirm-revoke]').click()
    await page.locator('#set-apppasswords [data-test=ok]').waitFor()
    await page.waitForSelector('#set-apppasswords .empty')

    // the recent logins: web from here, IMAP from the test's address
    await settings(page, 'logins', '#set-logins table')
    const logins = await page.$$eval('#set-logins tbody tr', (l) => l.map((r) =>
      Object.fromEntries([...r.querySelectorAll('td')].map((d) => [d.dataset.label, d.textContent.trim()]))))
    assert.ok(logins.some((l) => l.Protocol === 'IMAP' && l.Address === process.env.IMAP_ADDRESS &&
      l.Country === process.env.IMAP_COUNTRY), JSON.stringify(logins))
    assert.ok(logins.some((l) => l.Protocol === 'web' && /^(127\.0\.0\.1|::1)$/.test(l.Address)), JSON.stringify(logins))
    await shot(page, `${w}-settings-logins`)

    // the passkeys listed; one removed
    await settings(page, 'passkeys', '#set-passkeys table')
    assert.equal(await page.locator('[data-test=passkey-row]').count(), 2)
    await shot(page, `${w}-settings-passkeys`)
    const pk = page.locator('[data-test=passkey-row][data-name="Work laptop"]')
    await pk.locator('[data-test=remove]').click()
    await pk.locator('[data-test=confirm-remove]').click()
    await page.locator('#set-passkeys [data-test=ok]').waitFor()
    assert.equal(await page.locator('[data-test=passkey-row]').count(), 1)
    await logout(page)
    await shot(page, `${w}-login`)
    // this browser is remembered: the password alone logs in
    await page.fill('input[name=login]', USER_LOGIN)
    await page.fill('input[name=password]', USER_PW)
    await page.click('#login button[type=submit]')
    await loggedIn(page)
  }
  assert.deepEqual(errors, [])
  console.log(`webmail login security browser test (${PHASE}): ok`)
} finally {
  await browser.close()
}

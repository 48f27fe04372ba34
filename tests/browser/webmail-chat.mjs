// webmail-chat.mjs - the webmail's chat pane (web/mail/chat*.js) in
// Debian's chromium: alice and bob, each in a browser context of their
// own, logged in to the webmail only (the chat signs in with the
// session: no second password), chat one-to-one (a message that looks
// like HTML stays text; the unread count shows on the chat button), in
// a room (XEP-0045) and send a picture through the upload service; a
// conversation opened shows its last messages from the archive (MAM).
// Screenshots at desktop and phone widths. Environment (from
// tests/integration/test_webmail_chat_browser.py): BASE, SHOTS,
// WEB_MODULES, ALICE_PW, BOB_PW, PICTURE (a PNG file).
import assert from 'node:assert/strict';
import { launch, watch, shot, shotAll, errors, step, BASE } from './webmail-lib.mjs';

const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };

async function login(page, user, pw) {
  await page.goto(`${BASE}/`);
  await page.fill('input[name=login]', user);
  await page.fill('input[name=password]', pw);
  await page.click('button[type=submit]');
  await page.waitForSelector('header button.logout');
}

async function openChat(page) {
  await page.click('#chat-toggle');
  await page.waitForSelector('#chat-status.online', { timeout: 20000 });
}

const browser = await launch();
try {
  const ca = await browser.newContext({ viewport: DESKTOP });
  const cb = await browser.newContext({ viewport: DESKTOP });
  const alice = await ca.newPage();
  const bob = await cb.newPage();
  watch(alice, 'alice');
  watch(bob, 'bob');
  await login(alice, 'alice@acme', process.env.ALICE_PW);
  await login(bob, 'bob@acme', process.env.BOB_PW);
  step('both logged in');

  // the people of the post office, bob online once his page is up
  await openChat(alice);
  const status = await alice.textContent('#chat-status');
  assert.match(status, /alice@acme\.test/);
  await alice.waitForSelector('.chat-contact[data-jid="bob@acme.test"].online');
  await alice.waitForSelector('.chat-contact[data-jid="carol@acme.test"]:not(.online)');
  step('roster and presence');

  // what carol sent over TCP while alice was away (kept offline): new,
  // counted, and shown as text however it looks
  await alice.waitForSelector('.chat-contact[data-jid="carol@acme.test"] .badge');
  assert.equal((await alice.textContent('.chat-contact[data-jid="carol@acme.test"] .badge')).trim(), '2');
  await alice.click('.chat-contact[data-jid="carol@acme.test"]');
  const cbody = alice.locator('#chat-log .chat-msg .chat-body').first();
  await cbody.waitFor();
  assert.equal(await cbody.textContent(), process.env.CAROL_TEXT);
  const clink = alice.locator('#chat-log .chat-msg .chat-file a');
  await clink.waitFor();
  assert.equal(await clink.textContent(), '%E0%A4%A.png');
  assert.equal(await alice.locator('#chat-log script, #chat-log .chat-body *, #chat-log img').count(), 0);
  step('offline messages from carol');

  // one-to-one: what bob and alice wrote before the page loaded (from
  // another client: only the archive has it) comes first, as text
  await alice.click('.chat-contact[data-jid="bob@acme.test"]');
  const early = alice.locator('#chat-log .chat-msg:not(.mine) .chat-body',
    { hasText: process.env.EARLY_TEXT });
  await early.waitFor({ timeout: 20000 });
  assert.equal(await early.textContent(), process.env.EARLY_TEXT);
  const answer = alice.locator('#chat-log .chat-msg.mine .chat-body',
    { hasText: process.env.EARLY_ANSWER });
  await answer.waitFor();
  assert.equal(await alice.locator('#chat-log .chat-msg').count(), 2);
  assert.equal(await alice.locator('#chat-log .chat-body *').count(), 0);
  step('history from the archive');
  // carol's conversation: her offline messages once (archive and
  // offline delivery are the same messages)
  await alice.click('.chat-contact[data-jid="carol@acme.test"]');
  await alice.waitForSelector('#chat-log .chat-msg .chat-file a');
  await alice.waitForTimeout(1000);
  assert.equal(await alice.locator('#chat-log .chat-msg').count(), 2);

  // one-to-one: what looks like HTML is text
  const hostile = 'Hello <b>bob</b> & <img src=x onerror=alert(1)> co';
  await alice.click('.chat-contact[data-jid="bob@acme.test"]');
  await alice.fill('#chat-input', hostile);
  await alice.press('#chat-input', 'Enter');
  await alice.waitForSelector('#chat-log .chat-msg.mine .chat-body');
  // bob's chat button counts it before he opens the pane
  await bob.waitForSelector('#chat-toggle .badge', { timeout: 20000 });
  assert.equal((await bob.textContent('#chat-toggle .badge')).trim(), '1');
  // the title follows in the chat pane's effect, a frame after the badge
  await bob.waitForFunction(() => /^\(1\) /.test(document.title), null, { timeout: 5000 });
  await shot(bob, 'chat-badge-desktop');
  await openChat(bob);
  await bob.click('.chat-contact[data-jid="alice@acme.test"]');
  // (after what came before the page, from the archive)
  const body = bob.locator('#chat-log .chat-msg:not(.mine) .chat-body').last();
  await body.waitFor();
  assert.equal(await body.textContent(), hostile);
  assert.equal(await bob.locator('#chat-log .chat-body *').count(), 0,
    'markup from a message became elements');
  await bob.waitForFunction(() => !/^\(/.test(document.title), null, { timeout: 5000 });
  await bob.fill('#chat-input', 'Hi alice, got it.');
  await bob.click('.chat-form button[type=submit]');
  await alice.waitForSelector('#chat-log .chat-msg:not(.mine) .chat-body >> text=Hi alice, got it.');
  step('one-to-one both ways');
  await shot(alice, 'chat-direct-desktop');

  // a room: alice makes it, bob joins, both speak
  await alice.fill('#chat-room-name', 'team');
  await alice.press('#chat-room-name', 'Enter');
  await alice.waitForSelector('.chat-room[data-jid="team@conference.acme.test"]');
  await alice.waitForSelector('.chat-conv-head >> text=1 in the room');
  await bob.fill('#chat-room-name', 'team');
  await bob.click('.chat-join button[type=submit]');
  await bob.waitForSelector('.chat-conv-head >> text=2 in the room');
  await alice.waitForSelector('.chat-conv-head >> text=2 in the room');
  await alice.fill('#chat-input', 'Welcome to the team room');
  await alice.press('#chat-input', 'Enter');
  const rmsg = bob.locator('#chat-log .chat-msg', { hasText: 'Welcome to the team room' });
  await rmsg.waitFor();
  assert.equal((await rmsg.locator('.chat-who').textContent()).trim(), 'alice');
  await bob.fill('#chat-input', 'Thanks, glad to be here');
  await bob.press('#chat-input', 'Enter');
  await alice.waitForSelector('#chat-log .chat-msg:not(.mine) >> text=Thanks, glad to be here');
  // alice's own message shows once (the room's echo), as hers
  assert.equal(await alice.locator('#chat-log .chat-msg.mine', { hasText: 'Welcome to the team room' }).count(), 1);
  step('room');
  await shot(bob, 'chat-room-desktop');

  // a picture through the upload service (XEP-0363), to bob
  await alice.click('.chat-contact[data-jid="bob@acme.test"]');
  await alice.setInputFiles('#chat-file', process.env.PICTURE);
  await alice.waitForSelector('#chat-log .chat-msg.mine .chat-file a');
  await bob.click('.chat-contact[data-jid="alice@acme.test"]');
  const img = bob.locator('#chat-log .chat-msg:not(.mine) .chat-file img');
  await img.waitFor();
  const href = await bob.locator('#chat-log .chat-msg:not(.mine) .chat-file a').getAttribute('href');
  assert.match(href, /\/chat\/upload\/.+\/red\.png$/);
  const loaded = await img.evaluate((i) => i.complete && i.naturalWidth > 0);
  assert.ok(loaded, 'the picture did not load');
  console.log(`UPLOAD ${href}`);
  step('file');
  await shot(bob, 'chat-file-desktop');

  // phone width: the list, then the conversation, one at a time
  await bob.setViewportSize(PHONE);
  await bob.click('.chat-back');
  await bob.waitForSelector('.chat-list', { state: 'visible' });
  await shot(bob, 'chat-list-phone');
  await bob.click('.chat-room[data-jid="team@conference.acme.test"]');
  await bob.waitForSelector('.chat-list', { state: 'hidden' });
  await bob.waitForSelector('#chat-input', { state: 'visible' });
  const box = await bob.locator('#chat').boundingBox();
  assert.ok(box.width <= PHONE.width + 1, `the pane is ${box.width}px wide`);
  await shot(bob, 'chat-room-phone');
  await bob.click('.chat-close');
  await bob.waitForSelector('#chat-toggle', { state: 'visible' });
  await shot(bob, 'chat-closed-phone');
  step('phone');

  assert.deepEqual(errors, []);
  console.log('CHAT OK');
} catch (e) {
  await shotAll(browser);
  console.error(e);
  console.error(errors.join('\n'));
  process.exitCode = 1;
} finally {
  await browser.close();
}

// xmpp-websocket-sm.mjs - XEP-0198 stream management over WebSocket with
// npm @xmpp/client (xmpp.js): it enables resumable stream management,
// its WebSocket is dropped (a close frame, no <close/>: as a browser
// tab losing the network), xmpp.js reconnects and resumes with
// <resume/>, and the message a TCP user sent meanwhile arrives. Run by
// tests/integration/test_xmpp_websocket.py (test_stream_management_*).
// Environment: WS_URL, XMPP_USER, XMPP_PW, PEER, WEB_MODULES. Protocol
// with the test on stdout/stdin: prints ONLINE, SM <id>; waits for a
// line DROP; prints DROPPED; then RESUMED, GOT <from> <body>, SM OK.
import path from 'node:path';
import readline from 'node:readline';
import { pathToFileURL } from 'node:url';

const mod = pathToFileURL(path.resolve(process.env.WEB_MODULES, '@xmpp/client/index.js')).href;
const { client, xml } = await import(mod);

const T = 40000;
const xmpp = client({
  service: process.env.WS_URL,
  domain: 'acme.test',
  username: process.env.XMPP_USER,
  password: process.env.XMPP_PW,
  resource: 'smjs',
});
xmpp.reconnect.delay = 3000;     // the TCP user writes while we are away
const fail = (why) => { console.error(`FAILED: ${why}`); process.exit(1); };
const timer = setTimeout(() => fail('timeout'), T);
xmpp.on('error', (e) => console.error(`error ${e.condition || e.message}`));

let onlines = 0;
let dropped = false;
xmpp.on('stanza', async (st) => {
  if (st.is('message') && st.getChildText('body')) {
    console.log(`GOT ${st.attrs.from} ${st.getChildText('body')}`);
    if (dropped) {
      // the session is the same one: no second 'online', same address
      if (onlines !== 1) fail(`online ${onlines} times: not resumed`);
      await xmpp.stop();
      clearTimeout(timer);
      console.log('SM OK');
      process.exit(0);
    }
  }
});
xmpp.streamManagement.on('resumed', () => console.log('RESUMED'));
xmpp.on('online', async (address) => {
  onlines++;
  console.log(`ONLINE ${address.toString()}`);
  await xmpp.send(xml('presence'));
  // an IQ round trip: <enable/> was answered by then
  await xmpp.iqCaller.get(xml('ping', 'urn:xmpp:ping'));
  const sm = xmpp.streamManagement;
  if (!sm.enabled || !sm.id) fail('stream management not enabled');
  console.log(`SM ${sm.id}`);
});
const rl = readline.createInterface({ input: process.stdin });
rl.on('line', (line) => {
  if (line.trim() === 'DROP') {
    dropped = true;
    xmpp.socket.socket.close();     // the WebSocket only: no <close/>
    console.log('DROPPED');
  }
});
await xmpp.start().catch((e) => fail(`start ${e.message}`));

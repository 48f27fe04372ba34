// xmpp-websocket.mjs - npm @xmpp/client (xmpp.js) over its WebSocket
// transport against httpd's /xmpp-websocket: SASL PLAIN, binding, the
// roster of the post office, a message out to a TCP user and the answer
// back, a clean close. Run by tests/integration/test_xmpp_websocket.py
// with node --experimental-websocket (node 20 has no global WebSocket
// otherwise). Environment: WS_URL, XMPP_USER, XMPP_PW, PEER, WEB_MODULES.
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const mod = pathToFileURL(path.resolve(process.env.WEB_MODULES, '@xmpp/client/index.js')).href;
const { client, xml } = await import(mod);

const T = 20000;
const xmpp = client({
  service: process.env.WS_URL,
  domain: 'acme.test',
  username: process.env.XMPP_USER,
  password: process.env.XMPP_PW,
  resource: 'xmppjs',
});
const fail = (why) => { console.error(`FAILED: ${why}`); process.exit(1); };
const timer = setTimeout(() => fail('timeout'), T);
xmpp.on('error', (e) => fail(`error ${e.condition || e.message}`));

let answered;
const answer = new Promise((r) => { answered = r; });
xmpp.on('stanza', (st) => {
  if (st.is('message') && st.getChildText('body')) answered(st);
});
xmpp.on('online', async (address) => {
  console.log(`ONLINE ${address.toString()}`);
  const roster = await xmpp.iqCaller.get(xml('query', 'jabber:iq:roster'));
  const jids = roster.getChildren('item').map((i) => i.attrs.jid).sort();
  console.log(`ROSTER ${jids.join(' ')}`);
  await xmpp.send(xml('presence'));
  await xmpp.send(xml('message', { to: process.env.PEER, type: 'chat' },
    xml('body', {}, 'hello from xmpp.js <&>')));
  const st = await answer;
  console.log(`ANSWER ${st.attrs.from} ${st.getChildText('body')}`);
  await xmpp.stop();
  clearTimeout(timer);
  console.log('XMPPJS OK');
});
await xmpp.start().catch((e) => fail(`start ${e.message}`));

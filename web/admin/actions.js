// actions.js - the post office actions of manual 5.3.9 that act on mail
// and on every mailbox at once, as `postern postoffice email`, `mailbox
// email`, `messages delete` and `postoffice set-quota` do:
// AdminMail/send, MailboxMessage/purge (counted first, then confirmed)
// and PostOffice/set setMailboxQuota_kb (a SYSADMIN's). What the admin
// types is sent as the text of a message and shown back as text.
import { useState } from './vendor/hooks.js';
import * as api from './api.js';
import { html, Notice, Confirm } from './ui.js';

export function PostOfficeActions({ po, me, onClose }) {
  const [to, setTo] = useState('');         // '' : every user; else NAME@PO
  const [subject, setSubject] = useState('');
  const [body, setBody] = useState('');
  const [how, setHow] = useState('older');
  const [days, setDays] = useState('90');
  const [before, setBefore] = useState('');
  const [who, setWho] = useState('');      // '' : the post office; else NAME@PO
  const [quota, setQuota] = useState('');
  const [ask, setAsk] = useState(null);    // the purge counted, waiting for yes
  const [error, setError] = useState('');
  const [ok, setOk] = useState('');
  const run = async (f) => {
    setError('');
    setOk('');
    try {
      await f();
    } catch (e) {
      setError(e.message);
    }
  };
  const target = (one) => (one.trim() ? { mailbox: one.trim() } : { postOffice: po });
  const send = (e) => {
    e.preventDefault();
    run(async () => {
      const r = await api.call('AdminMail/send', { ...target(to), subject, body });
      setOk(`Sent to ${r.sent} mailbox${r.sent === 1 ? '' : 'es'}${r.failed ? `; ${r.failed} failed` : ''}.`);
      setSubject('');
      setBody('');
    });
  };
  const purgeArgs = () => ({
    ...target(who),
    ...(how === 'older' ? { olderThanDays: Number(days) } : how === 'before' ? { before } : { everything: true }),
  });
  const count = (e) => {
    e.preventDefault();
    run(async () => {
      const r = await api.call('MailboxMessage/purge', { ...purgeArgs(), dryRun: true });
      if (r.deleted === 0) setOk('No INBOX message matches: nothing to delete.');
      else setAsk(r);
    });
  };
  const purge = () => run(async () => {
    setAsk(null);
    const r = await api.call('MailboxMessage/purge', purgeArgs());
    setOk(`${r.deleted} message${r.deleted === 1 ? '' : 's'} deleted from ${r.mailboxes} INBOX${r.mailboxes === 1 ? '' : 'es'}.`);
  });
  const setQuotas = (e) => {
    e.preventDefault();
    run(async () => {
      const kb = quota.trim() === '' || quota.trim() === '0' ? 0 : Math.round(Number(quota) * 1024);
      await api.setOne('PostOffice', 'update', po, { setMailboxQuota_kb: kb });
      setOk(`Every current mailbox of ${po} now has ${kb ? `${quota} MB` : 'no limit'}.`);
    });
  };
  return html`<div class="card wide" data-test="po-actions">
    <h3>Actions of ${po} <button class="link" onClick=${onClose}>close</button></h3>
    <${Notice} error=${error} ok=${ok} />
    <form onSubmit=${send} data-test="po-email">
      <h4>Email users</h4>
      <label>To one mailbox (NAME@${po}; empty: every user)
        <input name="mail-to" value=${to} onInput=${(e) => setTo(e.target.value)} placeholder="every user" /></label>
      <label>Subject <input name="mail-subject" value=${subject} onInput=${(e) => setSubject(e.target.value)} required maxlength="998" /></label>
      <label>Message <textarea name="mail-body" rows="6" value=${body} onInput=${(e) => setBody(e.target.value)} required></textarea></label>
      <button type="submit">Send</button>
    </form>
    <form onSubmit=${count} data-test="po-purge">
      <h4>Delete INBOX messages</h4>
      <label>Of one mailbox (NAME@${po}; empty: every mailbox)
        <input name="purge-who" value=${who} onInput=${(e) => setWho(e.target.value)} placeholder="every mailbox" /></label>
      <fieldset class="choices">
        <legend>Which</legend>
        <label class="check"><input type="radio" name="purge-how" value="older" checked=${how === 'older'}
          onChange=${() => setHow('older')} /> older than
          <input name="purge-days" type="number" min="0" max="100000" value=${days} aria-label="days"
            onInput=${(e) => setDays(e.target.value)} /> days</label>
        <label class="check"><input type="radio" name="purge-how" value="before" checked=${how === 'before'}
          onChange=${() => setHow('before')} /> received before
          <input name="purge-before" type="date" value=${before} aria-label="date"
            onInput=${(e) => { setBefore(e.target.value); setHow('before'); }} /></label>
        <label class="check"><input type="radio" name="purge-how" value="all" checked=${how === 'all'}
          onChange=${() => setHow('all')} /> all of them</label>
      </fieldset>
      <button type="submit" class="danger">Delete…</button>
    </form>
    ${me.role === 'SYSADMIN' && html`<form onSubmit=${setQuotas} data-test="po-quota">
      <h4>Set quotas</h4>
      <label>Size of every current mailbox, MB (empty or 0: unlimited; new mailboxes keep the default)
        <input name="po-quota" type="number" min="0" step="any" value=${quota} onInput=${(e) => setQuota(e.target.value)} /></label>
      <button type="submit">Set on every mailbox</button>
    </form>`}
    ${ask && html`<${Confirm}
      text=${`Delete ${ask.deleted} message${ask.deleted === 1 ? '' : 's'} (${Math.ceil(ask.bytes / 1024)} KB) from ${ask.mailboxes} INBOX${ask.mailboxes === 1 ? '' : 'es'}? They cannot be brought back.`}
      onYes=${purge} onNo=${() => setAsk(null)} />`}
  </div>`;
}

// compose.js - writing a message: new, reply, reply to all, forward
// (quoted), plain text or rich text (Squire; what it is given is
// sanitised by DOMPurify), attachments uploaded as blobs, the identity
// from Identity/get with its signature, address completion from the
// addresses of the Sent folder. The draft is saved as you type (an Email
// in Drafts replacing the previous one in the same Email/set); Send
// submits it with EmailSubmission/set, whose onSuccessUpdateEmail moves
// it from Drafts to Sent (jmap-submit.c then makes no second copy).
import { useState, useEffect, useRef } from '../common/vendor/hooks.js';
import DOMPurify from '../common/vendor/purify.js';
import Squire from '../common/vendor/squire.js';
import { html } from '../common/html.js';
import { fetchEmails, textOf, bodyOf, sanitise } from './reader.js';
import { addrFull, addrListFull, parseAddrs, validEmail, sizeText, Notice } from './util.js';

const SAVE_DELAY = 1500;
const SUGGEST_MAX = 8;

function prefix(p, subject) {
  const s = subject || '';
  return new RegExp(`^${p}:`, 'i').test(s) ? s : `${p}: ${s}`;
}

function quote(text) {
  return text.split('\n').map((l) => (l.startsWith('>') ? `>${l}` : `> ${l}`)).join('\n');
}

function escapeHtml(s) {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function textToHtml(s) {
  return escapeHtml(s).replace(/\n/g, '<br>');
}

// sent addresses: the recipients of up to 200 recent messages in Sent
async function knownAddresses(jmap, sentId) {
  if (!sentId) return [];
  const [, g] = await jmap.batch([
    ['Email/query', { filter: { inMailbox: sentId }, sort: [{ property: 'receivedAt', isAscending: false }], limit: 200 }],
    ['Email/get', { '#ids': { resultOf: 'c0', name: 'Email/query', path: '/ids' }, properties: ['to', 'cc', 'bcc'] }],
  ]);
  const seen = new Map();
  for (const m of g.list) {
    for (const a of [...(m.to || []), ...(m.cc || []), ...(m.bcc || [])]) {
      const k = a.email.toLowerCase();
      if (!seen.has(k)) seen.set(k, a);
    }
  }
  return [...seen.values()];
}

function AddressField({ label, name, value, setValue, known, autofocus }) {
  const [open, setOpen] = useState(false);
  const [active, setActive] = useState(0);
  const id = `f-${name}`;
  const parts = value.split(',');
  const last = parts[parts.length - 1].trim().toLowerCase();
  const chosen = new Set(parseAddrs(value).map((a) => a.email.toLowerCase()));
  const hits = last.length < 1 ? [] : known.filter((a) => !chosen.has(a.email.toLowerCase()) &&
    (a.email.toLowerCase().includes(last) || (a.name || '').toLowerCase().includes(last)))
    .slice(0, SUGGEST_MAX);
  const pick = (a) => {
    parts[parts.length - 1] = ` ${addrFull(a)}`;
    setValue(`${parts.join(',').replace(/^ /, '')}, `);
    setOpen(false);
  };
  const show = open && hits.length > 0;
  return html`<div class="field addr">
    <label for=${id}>${label}</label>
    <input id=${id} name=${name} autocomplete="off" value=${value} autofocus=${autofocus}
      role="combobox" aria-expanded=${show} aria-controls=${`${id}-list`} aria-autocomplete="list"
      onInput=${(e) => { setValue(e.target.value); setOpen(true); setActive(0); }}
      onBlur=${() => setTimeout(() => setOpen(false), 150)}
      onKeyDown=${(e) => {
        if (!show) return;
        if (e.key === 'ArrowDown') { setActive((active + 1) % hits.length); e.preventDefault(); }
        else if (e.key === 'ArrowUp') { setActive((active + hits.length - 1) % hits.length); e.preventDefault(); }
        else if (e.key === 'Enter' || e.key === 'Tab') { pick(hits[active]); e.preventDefault(); }
        else if (e.key === 'Escape') { setOpen(false); e.stopPropagation(); }
      }} />
    ${show && html`<ul class="suggest" id=${`${id}-list`} role="listbox">
      ${hits.map((a, i) => html`<li role="option" aria-selected=${i === active}
        class=${i === active ? 'active' : ''} onMouseDown=${(e) => { e.preventDefault(); pick(a); }}>
        ${addrFull(a)}</li>`)}</ul>`}
  </div>`;
}

function RichEditor({ initial, onChange, editorRef }) {
  const root = useRef(null);
  useEffect(() => {
    const ed = new Squire(root.current, {
      sanitizeToDOMFragment: (s) => DOMPurify.sanitize(s, {
        RETURN_DOM_FRAGMENT: true, FORBID_TAGS: ['style', 'form', 'input', 'button'],
      }),
    });
    ed.setHTML(initial || '');
    ed.addEventListener('input', () => onChange(ed.getHTML()));
    editorRef.current = ed;
    onChange(ed.getHTML());
    return () => { ed.destroy(); editorRef.current = null; };
  }, []);
  const cmd = (f) => (e) => { e.preventDefault(); if (editorRef.current) { editorRef.current[f](); editorRef.current.focus(); } };
  // bold, italic, underline: on, or off where the caret already has it
  const toggle = (tag, on, off) => (e) => {
    e.preventDefault();
    const ed = editorRef.current;
    if (!ed) return;
    if (ed.hasFormat(tag)) ed[off](); else ed[on]();
    ed.focus();
  };
  return html`<div class="rich">
    <div class="rich-tools" role="toolbar" aria-label="Formatting"
      onMouseDown=${(e) => e.preventDefault()}>
      <button type="button" onClick=${toggle('b', 'bold', 'removeBold')} aria-label="Bold"><b>B</b></button>
      <button type="button" onClick=${toggle('i', 'italic', 'removeItalic')} aria-label="Italic"><i>I</i></button>
      <button type="button" onClick=${toggle('u', 'underline', 'removeUnderline')} aria-label="Underline"><u>U</u></button>
      <button type="button" onClick=${cmd('makeUnorderedList')} aria-label="Bulleted list">•</button>
      <button type="button" onClick=${cmd('increaseQuoteLevel')} aria-label="Quote">❝</button>
    </div>
    <div class="rich-body" ref=${root} role="textbox" aria-multiline="true" aria-label="Message"></div>
  </div>`;
}

export function Compose({ jmap, session, spec, mailboxes, onClose }) {
  const drafts = mailboxes.find((m) => m.role === 'drafts');
  const sent = mailboxes.find((m) => m.role === 'sent');
  const [idents, setIdents] = useState([]);
  const [identityId, setIdentityId] = useState('');
  const [to, setTo] = useState('');
  const [cc, setCc] = useState('');
  const [bcc, setBcc] = useState('');
  const [showCc, setShowCc] = useState(false);
  const [subject, setSubject] = useState('');
  const [text, setText] = useState('');
  const [rich, setRich] = useState(false);
  const [htmlBody, setHtmlBody] = useState('');
  const [atts, setAtts] = useState([]);
  const [uploading, setUploading] = useState(0);
  const [orig, setOrig] = useState(null);
  const [ready, setReady] = useState(!spec.id);
  const [status, setStatus] = useState('');
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const [known, setKnown] = useState([]);
  const draftId = useRef(null);
  const dirty = useRef(false);
  const saving = useRef(null);
  const editor = useRef(null);
  const timer = useRef(null);

  // identities, the original message, the known addresses
  useEffect(() => {
    (async () => {
      try {
        const r = await jmap.call('Identity/get', {});
        setIdents(r.list);
        let ident = r.list[0];
        let o = null;
        let base = '';
        if (spec.id) {
          [o] = await fetchEmails(jmap, [spec.id]);
          if (!o) throw new Error('The message to answer is gone.');
          const hit = r.list.find((i) => [...(o.to || []), ...(o.cc || [])]
            .some((a) => a.email.toLowerCase() === i.email.toLowerCase()));
          if (hit) ident = hit;
        }
        const sig = ident && ident.textSignature ? `\n\n-- \n${ident.textSignature}` : '';
        if (o) {
          setOrig(o);
          const mine = new Set(r.list.map((i) => i.email.toLowerCase()));
          const when = new Date(o.sentAt || o.receivedAt).toLocaleString();
          const who = o.from && o.from[0] ? addrFull(o.from[0]) : 'someone';
          const body = textOf(o);
          if (spec.mode === 'forward') {
            setSubject(prefix('Fwd', o.subject));
            base = `\n\n---------- Forwarded message ----------\nFrom: ${addrListFull(o.from)}\n` +
              `Date: ${when}\nSubject: ${o.subject || ''}\nTo: ${addrListFull(o.to)}\n` +
              `${o.cc && o.cc.length ? `Cc: ${addrListFull(o.cc)}\n` : ''}\n${body}\n`;
            setAtts((o.attachments || []).map((a) => ({
              blobId: a.blobId, name: a.name, type: a.type, size: a.size,
            })));
          } else {
            const replyTo = o.replyTo && o.replyTo.length ? o.replyTo : o.from || [];
            let toList = replyTo.filter((a) => !mine.has(a.email.toLowerCase()));
            if (!toList.length) toList = o.to || [];
            setTo(addrListFull(toList));
            if (spec.mode === 'replyAll') {
              const have = new Set(toList.map((a) => a.email.toLowerCase()));
              const ccList = [...(o.to || []), ...(o.cc || [])].filter((a) => {
                const k = a.email.toLowerCase();
                if (mine.has(k) || have.has(k)) return false;
                have.add(k);
                return true;
              });
              if (ccList.length) {
                setCc(addrListFull(ccList));
                setShowCc(true);
              }
            }
            setSubject(prefix('Re', o.subject));
            base = `\n\nOn ${when}, ${who} wrote:\n${quote(body)}\n`;
          }
        }
        setText(sig + base);
        if (ident) setIdentityId(ident.id);
        setReady(true);
        knownAddresses(jmap, sent && sent.id).then(setKnown).catch(() => {});
      } catch (e) {
        setError(e.message);
        setReady(true);
      }
    })();
  }, []);

  const ident = idents.find((i) => i.id === identityId);

  // keyboard and screen reader users land in the form (To, or the body
  // of a reply), and back where they were when it closes
  const form = useRef(null);
  const opener = useRef(document.activeElement);
  useEffect(() => {
    if (!ready || !form.current) return;
    const f = form.current;
    const reply = spec.id && spec.mode !== 'forward';
    const el = (reply && f.querySelector('textarea[name=body], .rich-body')) ||
      f.querySelector('input[name=to]');
    if (el) el.focus();
  }, [ready]);
  useEffect(() => () => {
    const o = opener.current;
    if (o && o.isConnected && o !== document.body) o.focus();
  }, []);

  // the Email object of what is on the screen
  const email = () => {
    const e = {
      from: ident ? [{ name: ident.name || null, email: ident.email }] : undefined,
      to: parseAddrs(to), subject,
      keywords: { $draft: true, $seen: true },
      mailboxIds: { [drafts.id]: true },
      bodyValues: { t: { value: rich ? textOf({ htmlBody: [{ partId: 'h', type: 'text/html' }], bodyValues: { h: { value: htmlBody } } }) : text } },
      textBody: [{ partId: 't', type: 'text/plain' }],
    };
    if (rich) {
      e.bodyValues.h = { value: htmlBody };
      e.htmlBody = [{ partId: 'h', type: 'text/html' }];
    }
    if (cc.trim()) e.cc = parseAddrs(cc);
    if (bcc.trim()) e.bcc = parseAddrs(bcc);
    if (orig && spec.mode !== 'forward' && orig.messageId && orig.messageId.length) {
      e.inReplyTo = orig.messageId;
      e.references = [...(orig.references || []), ...orig.messageId].slice(-20);
    }
    if (atts.length) {
      e.attachments = atts.map((a) => ({
        blobId: a.blobId, type: a.type || 'application/octet-stream', name: a.name || null,
        disposition: 'attachment',
      }));
    }
    if (!e.from) delete e.from;
    return e;
  };

  // saveDraft - the screen as the draft (one save at a time); resolves
  // to the draft's id
  const saveDraft = async () => {
    if (saving.current) await saving.current.catch(() => {});
    if (!dirty.current && draftId.current) return draftId.current;
    dirty.current = false;
    const p = (async () => {
      const old = draftId.current;
      const r = await jmap.call('Email/set', { create: { d: email() }, destroy: old ? [old] : [] });
      if (r.notCreated && r.notCreated.d) {
        const e = r.notCreated.d;
        throw new Error(`The draft could not be saved: ${e.description || e.type}${e.properties ? ` (${e.properties.join(', ')})` : ''}`);
      }
      draftId.current = r.created.d.id;
      setStatus(`Draft saved at ${new Date().toLocaleTimeString()}`);
      return draftId.current;
    })();
    saving.current = p;
    try {
      return await p;
    } finally {
      if (saving.current === p) saving.current = null;
    }
  };

  // saved as you type
  useEffect(() => {
    if (!ready || !drafts || !dirty.current) return undefined;
    clearTimeout(timer.current);
    timer.current = setTimeout(() => { saveDraft().catch((e) => setError(e.message)); }, SAVE_DELAY);
    return () => clearTimeout(timer.current);
  }, [to, cc, bcc, subject, text, htmlBody, atts, identityId, rich]);
  const touch = (f) => (v) => { dirty.current = true; f(v); };

  // a file over the server's limits is refused here, before any of it
  // is sent (the server would refuse it too, after the whole upload)
  const limits = jmap.limits();
  const upload = async (all) => {
    const files = [];
    let total = atts.reduce((n, a) => n + (a.size || 0), 0);
    const refused = [];
    for (const f of all) {
      if (f.size > limits.upload) {
        refused.push(`${f.name} is ${sizeText(f.size)}: files up to ${sizeText(limits.upload)} can be attached here.`);
      } else if (total + f.size > limits.attachments) {
        refused.push(`${f.name} (${sizeText(f.size)}) does not fit: the attachments of one message may come to ${sizeText(limits.attachments)}.`);
      } else {
        total += f.size;
        files.push(f);
      }
    }
    setError(refused.join(' '));
    setUploading((n) => n + files.length);
    for (const f of files) {
      try {
        const r = await jmap.upload(f);
        dirty.current = true;
        setAtts((a) => [...a, { blobId: r.blobId, name: f.name, type: f.type || r.type || 'application/octet-stream', size: r.size }]);
      } catch (e) {
        setError(`${f.name}: ${e.message}`);
      }
      setUploading((n) => n - 1);
    }
  };

  const send = async (e) => {
    e.preventDefault();
    setError('');
    const all = [...parseAddrs(to), ...parseAddrs(cc), ...parseAddrs(bcc)];
    if (!all.length) return setError('Add at least one recipient.');
    const bad = all.find((a) => !validEmail(a.email));
    if (bad) return setError(`This is not an address: ${bad.email}`);
    if (!ident) return setError('There is no identity to send from.');
    if (uploading) return setError('Wait for the attachments to be uploaded.');
    const weight = atts.reduce((n, a) => n + (a.size || 0), 0);
    if (weight > limits.attachments) {
      return setError(`The attachments come to ${sizeText(weight)}: one message may carry ${sizeText(limits.attachments)}.`);
    }
    setBusy(true);
    clearTimeout(timer.current);
    try {
      dirty.current = true;
      const id = await saveDraft();
      const calls = [['EmailSubmission/set', {
        create: { s: { identityId: ident.id, emailId: id } },
        onSuccessUpdateEmail: { '#s': Object.assign({ 'keywords/$draft': null },
          sent ? { [`mailboxIds/${drafts.id}`]: null, [`mailboxIds/${sent.id}`]: true } : {}) },
      }]];
      if (orig) {
        calls.push(['Email/set', { update: { [orig.id]: {
          [spec.mode === 'forward' ? 'keywords/$forwarded' : 'keywords/$answered']: true } } }]);
      }
      const [r] = await jmap.batch(calls);
      if (r.notCreated && r.notCreated.s) {
        const x = r.notCreated.s;
        throw new Error(`Not sent: ${x.description || x.type}`);
      }
      onClose('Message sent.');
    } catch (err) {
      setError(err.message);
      setBusy(false);
    }
    return null;
  };

  const discard = async () => {
    clearTimeout(timer.current);
    if (saving.current) await saving.current.catch(() => {});
    if (draftId.current) {
      try { await jmap.call('Email/set', { destroy: [draftId.current] }); } catch (e) { /* gone */ }
    }
    onClose('Draft discarded.');
  };
  const close = async () => {
    clearTimeout(timer.current);
    try {
      if (dirty.current) await saveDraft();
      onClose(draftId.current ? 'Draft saved.' : '');
    } catch (e) {
      setError(e.message);
    }
  };

  const toRich = () => {
    // the identity's HTML signature (sanitised) in place of its text one
    let h = textToHtml(text);
    if (ident && ident.htmlSignature && ident.textSignature) {
      const sig = sanitise(ident.htmlSignature, false, () => null).doc.body.innerHTML;
      h = h.replace(textToHtml(`-- \n${ident.textSignature}`), `-- <br>${sig}`);
    }
    setHtmlBody(h);
    dirty.current = true;
    setRich(true);
  };
  const toPlain = () => {
    setText(textOf({ htmlBody: [{ partId: 'h', type: 'text/html' }], bodyValues: { h: { value: htmlBody } } }));
    dirty.current = true;
    setRich(false);
  };

  const title = spec.mode === 'reply' || spec.mode === 'replyAll' ? 'Reply' :
    spec.mode === 'forward' ? 'Forward' : 'New message';
  if (!drafts) {
    return html`<section id="compose" role="dialog" aria-label=${title}><p class="notice error" role="alert">There is no Drafts folder.</p>
      <button onClick=${() => onClose('')}>Close</button></section>`;
  }
  return html`<section id="compose" role="dialog" aria-modal="false" aria-label=${title}>
    <form ref=${form} onSubmit=${send} onKeyDown=${(e) => { if (e.key === 'Escape') { e.preventDefault(); close(); } }}>
      <div class="compose-top">
        <h2>${title}</h2>
        <span class="status muted" role="status">${uploading ? 'Uploading…' : status}</span>
        <button type="button" class="link close" onClick=${close} aria-label="Close (the draft is kept)">×</button>
      </div>
      ${!ready ? html`<p>Loading…</p>` : html`
      ${idents.length > 1 ? html`<div class="field"><label for="f-from">From</label>
        <select id="f-from" name="from" value=${identityId} onChange=${(e) => touch(setIdentityId)(e.target.value)}>
          ${idents.map((i) => html`<option value=${i.id}>${addrFull({ name: i.name, email: i.email })}</option>`)}
        </select></div>` : html`<div class="field"><span class="label">From</span><span class="from-one">${ident ? addrFull({ name: ident.name, email: ident.email }) : ''}</span></div>`}
      <${AddressField} label="To" name="to" value=${to} setValue=${touch(setTo)} known=${known} autofocus=${!spec.id || spec.mode === 'forward'} />
      ${showCc ? html`
        <${AddressField} label="Cc" name="cc" value=${cc} setValue=${touch(setCc)} known=${known} />
        <${AddressField} label="Bcc" name="bcc" value=${bcc} setValue=${touch(setBcc)} known=${known} />`
        : html`<button type="button" class="link show-cc" onClick=${() => setShowCc(true)}>Cc / Bcc</button>`}
      <div class="field"><label for="f-subject">Subject</label>
        <input id="f-subject" name="subject" value=${subject} onInput=${(e) => touch(setSubject)(e.target.value)} /></div>
      <div class="mode"><label><input type="checkbox" name="rich" checked=${rich}
        onChange=${(e) => (e.target.checked ? toRich() : toPlain())} /> Rich text</label></div>
      ${rich ? html`<${RichEditor} initial=${htmlBody} onChange=${(v) => { if (v !== htmlBody) { dirty.current = true; setHtmlBody(v); } }} editorRef=${editor} />`
        : html`<label class="sr-only" for="f-body">Message</label>
        <textarea id="f-body" name="body" rows="14" value=${text} autofocus=${!!spec.id && spec.mode !== 'forward'}
          onInput=${(e) => touch(setText)(e.target.value)} ref=${(el) => {
            if (el && spec.id && spec.mode !== 'forward' && !el.dataset.placed) { el.dataset.placed = '1'; el.setSelectionRange(0, 0); }
          }} />`}
      <div class="atts">
        <label class="button">Attach files<input type="file" name="attach" multiple class="sr-only"
          onChange=${(e) => { upload([...e.target.files]); e.target.value = ''; }} /></label>
        <ul>${atts.map((a, i) => html`<li class="att" key=${`${a.blobId}${i}`}><span>${a.name || '(unnamed)'}</span>
          <span class="muted">${sizeText(a.size || 0)}</span>
          <button type="button" class="link" aria-label=${`Remove ${a.name || 'attachment'}`}
            onClick=${() => { dirty.current = true; setAtts(atts.filter((_, j) => j !== i)); }}>×</button></li>`)}</ul>
      </div>
      <${Notice} error=${error} />
      <div class="compose-actions">
        <button type="submit" class="primary send" disabled=${busy || uploading > 0}>Send</button>
        <button type="button" class="discard" onClick=${discard}>Discard</button>
      </div>`}
    </form>
  </section>`;
}

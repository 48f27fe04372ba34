// reader.js - reading a message (and its conversation).
//
// HTML mail: the message's HTML is sanitised by DOMPurify (no script, no
// event handler, no javascript: URL, no form, frame, object, base, meta,
// link), then put into an inert document where links are made to open a
// new tab, cid: images become blob: URLs of the message's own parts, and
// every remote URL (img src, background, CSS url()) is removed until the
// user allows images for this message or its sender (remembered in
// localStorage). The result is written into a frame sandboxed without
// allow-scripts whose document (reader.html, reader-remote.html once
// images are allowed) carries its own CSP from the server: inline styles
// and blob:/data: images only (plus http(s) images when allowed), no
// script, no fetch, no font, no form. Plain text mail is rendered as
// text with its links made clickable.
import { useState, useEffect, useRef } from '../common/vendor/hooks.js';
import DOMPurify from '../common/vendor/purify.js';
import { html } from '../common/html.js';
import { addrText, addrListFull, dateText, sizeText, Linkified } from './util.js';

const MAX_THREAD = 25;
const MAX_ATTACHMENTS = 200;
const BODY_PROPS = ['partId', 'blobId', 'type', 'name', 'size', 'cid', 'disposition'];
const READ_PROPS = ['threadId', 'mailboxIds', 'keywords', 'from', 'to', 'cc',
  'replyTo', 'subject', 'receivedAt', 'sentAt', 'size', 'preview', 'messageId',
  'inReplyTo', 'references', 'htmlBody', 'textBody', 'attachments', 'bodyValues',
  'hasAttachment'];
const SENDERS_KEY = 'postern.mail.imageSenders';

export async function fetchEmails(jmap, ids) {
  const r = await jmap.call('Email/get', {
    ids, properties: READ_PROPS, bodyProperties: BODY_PROPS,
    fetchHTMLBodyValues: true, fetchTextBodyValues: true, maxBodyValueBytes: 4000000,
  });
  return r.list;
}

function trustedSenders() {
  try {
    const v = JSON.parse(localStorage.getItem(SENDERS_KEY) || '[]');
    return Array.isArray(v) ? v : [];
  } catch (e) {
    return [];
  }
}

function trustSender(email) {
  const list = trustedSenders();
  if (!list.includes(email)) list.push(email);
  localStorage.setItem(SENDERS_KEY, JSON.stringify(list.slice(-500)));
}

function senderOf(m) {
  return ((m.from && m.from[0] && m.from[0].email) || '').toLowerCase();
}

// bodyOf - { html, text }: the HTML to show (text parts of htmlBody
// escaped into it), or the plain text
export function bodyOf(m) {
  const val = (p) => (m.bodyValues && m.bodyValues[p.partId] &&
    m.bodyValues[p.partId].value) || '';
  const htmlParts = (m.htmlBody || []).filter((p) => p.type === 'text/html');
  if (htmlParts.length) {
    const esc = (s) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
    return {
      html: (m.htmlBody || []).map((p) => {
        if (p.type === 'text/html') return val(p);
        if (p.type === 'text/plain') return `<pre>${esc(val(p))}</pre>`;
        return '';
      }).join('\n'),
    };
  }
  return { text: (m.textBody || []).filter((p) => /^text\//.test(p.type))
    .map(val).join('\n') };
}

// textOf - the message as plain text (quoting in replies)
export function textOf(m) {
  const b = bodyOf(m);
  if (b.text !== undefined) return b.text;
  const d = new DOMParser().parseFromString(DOMPurify.sanitize(b.html), 'text/html');
  for (const br of d.querySelectorAll('br')) br.replaceWith('\n');
  for (const p of d.querySelectorAll('p, div, tr, li, h1, h2, h3')) p.append('\n');
  return d.body.textContent.replace(/\n{3,}/g, '\n\n').trim();
}

const REMOTE = /^\s*(https?:)?\/\//i;
const CSS_URL = /url\(\s*(['"]?)\s*(?!data:|blob:|cid:)[^)]*\)/gi;
const CSS_IMPORT = /@import[^;]*;?/gi;
// image-set("x" 1x) loads strings as URLs without url()
const CSS_IMAGE_SET = /(-webkit-)?image-set\([^)]*\)/gi;
// cssPlain - CSS without comments and with its escapes resolved
// ("\75 rl(" is "url("), so that the patterns above see what the
// browser would (the frame's CSP still blocks what they miss)
function cssPlain(css) {
  return css.replace(/\/\*[\s\S]*?(\*\/|$)/g, ' ')
    .replace(/\\([0-9a-f]{1,6})\s?/gi, (m, h) => {
      const n = parseInt(h, 16);
      return n > 0 && n <= 0x10ffff && (n < 0xd800 || n > 0xdfff) ? String.fromCodePoint(n) : '\ufffd';
    })
    .replace(/\\(.)/g, '$1');
}
const PURIFY = {
  FORBID_TAGS: ['form', 'input', 'button', 'select', 'textarea', 'option',
    'base', 'meta', 'link', 'iframe', 'frame', 'frameset', 'object', 'embed',
    'applet', 'audio', 'video', 'source', 'track', 'script', 'noscript',
    'template', 'dialog', 'portal', 'math'],
  FORBID_ATTR: ['srcset', 'action', 'formaction', 'ping', 'autofocus',
    'http-equiv', 'xlink:href', 'poster'],
  FORCE_BODY: true,
  ADD_ATTR: ['target'],
};

// sanitise - { doc, remote }: an inert document holding the safe HTML;
// remote counts the remote loads it would make (removed unless allowed)
export function sanitise(raw, allowRemote, cidUrl) {
  // <style> of the head kept (DOMPurify keeps only the body)
  const pre = new DOMParser().parseFromString(raw, 'text/html');
  const styles = [...pre.head.querySelectorAll('style')].map((s) => s.outerHTML).join('');
  const clean = DOMPurify.sanitize(styles + pre.body.innerHTML, PURIFY);
  const doc = document.implementation.createHTMLDocument('');
  doc.body.innerHTML = clean;
  let remote = 0;
  const cssClean = (css) => {
    let n = 0;
    let out = cssPlain(css).replace(CSS_IMPORT, () => { n++; return ''; });
    if (!allowRemote) {
      out = out.replace(CSS_URL, () => { n++; return 'none'; })
        .replace(CSS_IMAGE_SET, () => { n++; return 'none'; });
    }
    remote += n;
    return out;
  };
  for (const s of doc.querySelectorAll('style')) s.textContent = cssClean(s.textContent);
  for (const el of doc.body.querySelectorAll('*')) {
    if (el.hasAttribute('style')) el.setAttribute('style', cssClean(el.getAttribute('style')));
    for (const a of ['src', 'background', 'href']) {
      if (!el.hasAttribute(a)) continue;
      const v = el.getAttribute(a);
      if (a === 'href' && el.localName === 'a') continue;
      if (/^cid:/i.test(v)) {
        const u = cidUrl(v.slice(4));
        if (u) el.setAttribute(a, u);
        else el.removeAttribute(a);
      } else if (REMOTE.test(v)) {
        remote++;
        if (!allowRemote) {
          el.setAttribute(`data-blocked-${a}`, v);
          el.removeAttribute(a);
        }
      } else if (!/^(data:image\/|blob:)/i.test(v) && a !== 'href') {
        el.removeAttribute(a);
      }
    }
    if (el.localName === 'a') {
      const h = el.getAttribute('href') || '';
      if (h && !/^(https?:|mailto:|#)/i.test(h)) el.removeAttribute('href');
      el.setAttribute('target', '_blank');
      el.setAttribute('rel', 'noopener noreferrer nofollow');
    }
  }
  return { doc, remote };
}

function HtmlFrame({ jmap, message, allowRemote, onRemote }) {
  const frame = useRef(null);
  const [content, setContent] = useState(null);
  useEffect(() => {
    let live = true;
    const urls = [];
    (async () => {
      const parts = [...(message.htmlBody || []), ...(message.attachments || [])];
      const cids = new Map();
      for (const p of parts) {
        if (p.cid && p.blobId && /^image\//.test(p.type)) cids.set(p.cid.replace(/^<|>$/g, ''), p);
      }
      // cid: parts fetched first, as blob: URLs of the right type
      const blobUrls = new Map();
      const raw = bodyOf(message).html;
      for (const m of raw.matchAll(/cid:([^"'\s)>]+)/gi)) {
        const cid = decodeURIComponent(m[1]);
        const p = cids.get(cid);
        if (p && !blobUrls.has(cid) && blobUrls.size < 50) {
          try {
            const u = URL.createObjectURL(await jmap.blob(p.blobId, p.type));
            urls.push(u);
            blobUrls.set(cid, u);
          } catch (e) { /* shown without it */ }
        }
      }
      const s = sanitise(raw, allowRemote, (c) => blobUrls.get(decodeURIComponent(c)));
      if (live) {
        setContent(s.doc);
        onRemote(s.remote);
      }
    })();
    return () => {
      live = false;
      for (const u of urls) URL.revokeObjectURL(u);
    };
  }, [message.id, allowRemote]);
  const fill = () => {
    const f = frame.current;
    if (!f || !content) return;
    const d = f.contentDocument;
    // only the reader document (its own CSP), never the initial about:blank
    if (!d || !d.body || !/\/reader(-remote)?\.html$/.test(d.location.pathname)) return;
    const base = d.createElement('style');
    base.textContent = 'html,body{margin:0;padding:0;font:15px/1.45 system-ui,sans-serif;' +
      'color:#1d232b;background:#fff;overflow-wrap:anywhere}' +
      'body{padding:4px 2px}img{max-width:100%;height:auto}pre{white-space:pre-wrap}';
    d.head.replaceChildren(base);
    d.body.replaceChildren(...[...content.body.childNodes].map((n) => d.importNode(n, true)));
    const fit = () => {
      if (!frame.current) return;
      frame.current.style.height = `${Math.min(20000, d.documentElement.scrollHeight + 4)}px`;
    };
    fit();
    d.addEventListener('load', fit, true);
    setTimeout(fit, 300);
  };
  useEffect(fill, [content]);
  return html`<iframe ref=${frame} class="html-body" title="Message content"
    sandbox="allow-same-origin allow-popups allow-popups-to-escape-sandbox"
    src=${allowRemote ? 'reader-remote.html' : 'reader.html'}
    key=${allowRemote ? 'remote' : 'local'} onLoad=${fill} />`;
}

function Attachments({ jmap, message, hidden }) {
  const [preview, setPreview] = useState(null);
  const closeBtn = useRef(null);
  const back = useRef(null);
  // the preview takes the focus (its Close button) and gives it back
  useEffect(() => { if (preview && closeBtn.current) closeBtn.current.focus(); }, [preview]);
  const close = () => {
    setPreview(null);
    if (back.current && back.current.isConnected) back.current.focus();
  };
  const all = (message.attachments || []).filter((a) => !hidden.has(a.partId));
  // a message of thousands of parts still opens: the first ones listed
  const list = all.slice(0, MAX_ATTACHMENTS);
  useEffect(() => () => { if (preview) URL.revokeObjectURL(preview.url); }, [preview]);
  if (!list.length) return null;
  const show = async (a) => {
    back.current = document.activeElement;
    try {
      const type = /^image\/(png|jpeg|gif|webp|bmp)$/i.test(a.type) ? a.type.toLowerCase() : 'application/pdf';
      const url = URL.createObjectURL(await jmap.blob(a.blobId, type));
      if (type === 'application/pdf') {
        window.open(url, '_blank', 'noopener');
        setTimeout(() => URL.revokeObjectURL(url), 60000);
      } else {
        setPreview({ url, name: a.name || 'image' });
      }
    } catch (e) { /* the download link still works */ }
  };
  return html`<div class="attachments">
    <h3 class="sr-only">Attachments</h3>
    <ul>${list.map((a) => {
      const can = /^image\/(png|jpeg|gif|webp|bmp)$/i.test(a.type) || a.type === 'application/pdf';
      return html`<li key=${a.partId} class="attachment">
        <span class="att-name">${a.name || '(unnamed)'}</span>
        <span class="att-size">${sizeText(a.size || 0)}</span>
        <a class="download" href=${jmap.downloadUrl(a.blobId, a.name || 'attachment', a.type)}
          download=${a.name || 'attachment'}>Download</a>
        ${can && html`<button class="link preview" onClick=${() => show(a)}>Preview</button>`}
      </li>`;
    })}</ul>
    ${all.length > list.length && html`<p class="muted more-atts">${`and ${all.length - list.length} more attachments (not listed)`}</p>`}
    ${preview && html`<div class="modal" role="dialog" aria-modal="true" aria-label=${`Preview of ${preview.name}`}
      onClick=${close} onKeyDown=${(e) => {
        // Escape closes the preview only (not the message behind it);
        // Tab stays on its one button
        if (e.key === 'Escape' || e.key === 'Tab') {
          e.preventDefault();
          e.stopPropagation();
          if (e.key === 'Escape') close();
        }
      }}>
      <div class="modal-box preview-box"><img src=${preview.url} alt=${preview.name} />
      <button class="close-preview" ref=${closeBtn} onClick=${close}>Close</button></div></div>`}
  </div>`;
}

function Message({ jmap, m, open, onToggle, mailboxes, current, actions }) {
  const sender = senderOf(m);
  const [allow, setAllow] = useState(() => trustedSenders().includes(sender));
  const [remote, setRemote] = useState(0);
  const body = bodyOf(m);
  const inlineCids = new Set();
  if (body.html) {
    for (const x of body.html.matchAll(/cid:([^"'\s)>]+)/gi)) inlineCids.add(decodeURIComponent(x[1]));
  }
  const hidden = new Set((m.attachments || []).filter((a) => a.cid &&
    inlineCids.has(a.cid.replace(/^<|>$/g, ''))).map((a) => a.partId));
  const flagged = m.keywords && m.keywords.$flagged;
  const unread = !(m.keywords && m.keywords.$seen);
  return html`<article class=${`message${open ? ' open' : ''}`} data-id=${m.id}>
    <header class="msg-head" onClick=${onToggle}>
      <div class="from"><strong>${addrText(m.from) || '(nobody)'}</strong>
        ${m.from && m.from[0] && m.from[0].name && html` <span class="muted">${`<${m.from[0].email}>`}</span>`}</div>
      <div class="date muted">${new Date(m.receivedAt).toLocaleString()}</div>
      ${open ? html`<div class="to muted">To: ${addrListFull(m.to)}${m.cc && m.cc.length ? html`<br />Cc: ${addrListFull(m.cc)}` : ''}</div>`
        : html`<div class="preview muted">${m.preview}</div>`}
    </header>
    ${open && html`<div class="actions" role="toolbar" aria-label="Message actions">
      <button class="reply" onClick=${() => actions.onReply(m.id, 'reply')}>Reply</button>
      <button class="reply-all" onClick=${() => actions.onReply(m.id, 'replyAll')}>Reply all</button>
      <button class="forward" onClick=${() => actions.onReply(m.id, 'forward')}>Forward</button>
      <button class="flag" aria-pressed=${!!flagged} onClick=${() => actions.onKeyword(m.id, '$flagged', !flagged)}>${flagged ? 'Unflag' : 'Flag'}</button>
      <button class="unread" onClick=${() => actions.onKeyword(m.id, '$seen', unread)}>${unread ? 'Mark read' : 'Mark unread'}</button>
      <label class="move">Move to <select name="move" value="" onChange=${(e) => e.target.value && actions.onMove([m.id], e.target.value)}>
        <option value="">…</option>
        ${mailboxes.filter((x) => x.id !== current).map((x) => html`<option value=${x.id}>${'  '.repeat(x.depth)}${x.name}</option>`)}
      </select></label>
      <button class="junk" onClick=${() => actions.onJunk([m.id])}>Junk</button>
      <button class="delete danger" onClick=${() => actions.onDelete([m.id])}>Delete</button>
    </div>`}
    ${open && body.html !== undefined && remote > 0 && !allow && html`<div class="images-bar" role="status">
      Remote images and content are blocked in this message.
      <button class="show-images" onClick=${() => setAllow(true)}>Show images</button>
      ${sender && html`<button class="trust-sender link" onClick=${() => { trustSender(sender); setAllow(true); }}>Always show from ${sender}</button>`}
    </div>`}
    ${open && (body.html !== undefined ?
      html`<${HtmlFrame} jmap=${jmap} message=${m} allowRemote=${allow} onRemote=${setRemote} />` :
      html`<${Linkified} text=${body.text} />`)}
    ${open && html`<${Attachments} jmap=${jmap} message=${m} hidden=${hidden} />`}
  </article>`;
}

export function Reader({ jmap, id, threads, mailboxes, current, onClose, onReply,
  onMove, onDelete, onJunk, onKeyword, onError, onSeen }) {
  const [msgs, setMsgs] = useState(null);
  const [openIds, setOpenIds] = useState(new Set([id]));
  const [version, setVersion] = useState(0);
  const heading = useRef(null);
  // on a phone the list row that opened the message is hidden now: the
  // focus goes to the message's heading (desktop keeps it on the row,
  // for j and k)
  useEffect(() => {
    const a = document.activeElement;
    if (msgs && heading.current && (!a || a === document.body || a.offsetParent === null)) {
      heading.current.focus();
    }
  }, [msgs === null]);
  useEffect(() => {
    let live = true;
    (async () => {
      try {
        let [m] = await fetchEmails(jmap, [id]);
        if (!m) throw new Error('This message is gone.');
        let list = [m];
        if (threads) {
          const t = await jmap.call('Thread/get', { ids: [m.threadId] });
          const ids = t.list[0] ? t.list[0].emailIds.slice(-MAX_THREAD) : [];
          const trash = mailboxes.find((x) => x.role === 'trash');
          if (ids.length > 1) {
            list = (await fetchEmails(jmap, ids)).filter((x) => x.id === id || !trash ||
              !x.mailboxIds[trash.id] || current === trash.id);
            m = list.find((x) => x.id === id) || m;
          }
        }
        if (!live) return;
        const unseen = !(m.keywords && m.keywords.$seen);
        if (unseen) {
          await jmap.call('Email/set', { update: { [m.id]: { 'keywords/$seen': true } } });
          m.keywords = Object.assign({}, m.keywords, { $seen: true });
        }
        if (!live) return;
        setMsgs(list);
        if (unseen) onSeen();
      } catch (e) {
        if (live) onError(e.message);
      }
    })();
    return () => { live = false; };
  }, [id, version]);
  const actions = {
    onReply, onMove, onDelete, onJunk,
    onKeyword: async (mid, kw, on) => { await onKeyword(mid, kw, on); setVersion((v) => v + 1); },
  };
  if (!msgs) return html`<p class="loading">Loading…</p>`;
  const subject = (msgs.find((x) => x.id === id) || msgs[0]).subject;
  return html`<div class="reader">
    <div class="reader-top">
      <button class="back" onClick=${onClose} aria-label="Back to the list">‹ Back</button>
      <h2 tabindex="-1" ref=${heading}>${subject || '(no subject)'}</h2>
    </div>
    ${msgs.map((m) => html`<${Message} key=${m.id} jmap=${jmap} m=${m} open=${openIds.has(m.id)}
      mailboxes=${mailboxes} current=${current} actions=${actions}
      onToggle=${() => {
        const s = new Set(openIds);
        if (s.has(m.id) && m.id !== id) s.delete(m.id); else s.add(m.id);
        setOpenIds(s);
      }} />`)}
  </div>`;
}

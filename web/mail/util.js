// util.js - small shared pieces of the webmail: addresses, dates and
// sizes as text, notices, and safe linkified plain text. Everything is
// rendered by Preact as text (never innerHTML).
import { html } from '../common/html.js';

export function addrText(list) {
  return (list || []).map((a) => a.name || a.email).join(', ');
}

export function addrFull(a) {
  if (!a) return '';
  if (!a.name) return a.email;
  const n = /[",<>@;:\\]/.test(a.name) ? `"${a.name.replace(/["\\]/g, '')}"` : a.name;
  return `${n} <${a.email}>`;
}

export function addrListFull(list) {
  return (list || []).map(addrFull).join(', ');
}

// parseAddrs - "Name <a@b>, c@d" to [{name, email}] (commas inside
// quotes kept); null names when none
export function parseAddrs(text) {
  const out = [];
  let cur = '';
  let q = false;
  for (const ch of `${text},`) {
    if (ch === '"') q = !q;
    if ((ch === ',' || ch === ';') && !q) {
      const s = cur.trim();
      cur = '';
      if (!s) continue;
      const m = /^(.*?)\s*<([^<>\s]+)>$/.exec(s);
      if (m) {
        const name = m[1].replace(/^"|"$/g, '').trim();
        out.push({ name: name || null, email: m[2] });
      } else {
        out.push({ name: null, email: s });
      }
      continue;
    }
    cur += ch;
  }
  return out;
}

export function validEmail(e) {
  return /^[^\s@<>(),;:"]+@[^\s@<>(),;:"]+\.[^\s@<>(),;:"]+$|^[^\s@<>(),;:"]+@[^\s@<>(),;:".]+$/.test(e);
}

export function dateText(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  const now = new Date();
  if (d.toDateString() === now.toDateString()) {
    return d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  }
  if (d.getFullYear() === now.getFullYear()) {
    return d.toLocaleDateString([], { month: 'short', day: 'numeric' });
  }
  return d.toLocaleDateString();
}

export function sizeText(n) {
  if (n >= 1048576) return `${(n / 1048576).toFixed(1)} MB`;
  if (n >= 1024) return `${Math.round(n / 1024)} KB`;
  return `${n} B`;
}

export function Notice({ error, ok, onClose }) {
  if (!error && !ok) return null;
  return html`<p class=${`notice ${error ? 'error' : 'ok'}`} role=${error ? 'alert' : 'status'}
    data-test=${error ? 'error' : 'ok'}>${error || ok}
    ${onClose && html` <button class="link close" aria-label="Dismiss" onClick=${onClose}>×</button>`}</p>`;
}

// Linkified - plain text with http(s) and mailto links: the text is cut
// into strings and <a> elements; nothing is parsed as markup
const LINK = /\b(https?:\/\/[^\s<>"'()]+[^\s<>"'().,;:!?]|mailto:[^\s<>"'()]+[^\s<>"'().,;:!?])/gi;
export function Linkified({ text }) {
  const out = [];
  let last = 0;
  let m;
  LINK.lastIndex = 0;
  while ((m = LINK.exec(text)) !== null && out.length < 2000) {
    if (m.index > last) out.push(text.slice(last, m.index));
    out.push(html`<a href=${m[0]} target="_blank" rel="noopener noreferrer nofollow">${m[0]}</a>`);
    last = m.index + m[0].length;
  }
  out.push(text.slice(last));
  return html`<pre class="plain">${out}</pre>`;
}

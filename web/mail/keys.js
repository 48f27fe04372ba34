// keys.js - the webmail's keyboard shortcuts, listed for the "?" key and
// the header's "Keys" button (app.js handles the keys themselves; this
// list is what the user reads, so keep the two in step).
import { useEffect, useRef } from '../common/vendor/hooks.js';
import { html } from '../common/html.js';

export const KEYS = [
  ['j', 'next message'], ['k', 'previous message'], ['Enter', 'open it'],
  ['Esc', 'back to the list'], ['r', 'reply'], ['a', 'reply all'],
  ['f', 'forward'], ['c', 'new message'], ['/', 'search'],
  ['s', 'flag or unflag'], ['u', 'mark read or unread'],
  ['Delete or #', 'move to Trash'], ['?', 'this list'],
];

export function KeyHelp({ onClose }) {
  const close = useRef(null);
  const back = useRef(document.activeElement);
  useEffect(() => {
    if (close.current) close.current.focus();
    return () => {
      const b = back.current;
      if (b && b.isConnected && b !== document.body) b.focus();
    };
  }, []);
  return html`<div class="modal" role="dialog" aria-modal="true" aria-labelledby="keys-title"
    onClick=${(e) => { if (e.target === e.currentTarget) onClose(); }}
    onKeyDown=${(e) => {
      if (e.key === 'Escape' || e.key === '?' || e.key === 'Tab') {
        e.preventDefault();
        e.stopPropagation();
        if (e.key !== 'Tab') onClose();
      }
    }}>
    <div class="modal-box keys-box">
      <h2 id="keys-title">Keyboard shortcuts</h2>
      <dl class="keys">${KEYS.map(([k, what]) => html`<dt><kbd>${k}</kbd></dt><dd>${what}</dd>`)}</dl>
      <button class="close-keys" ref=${close} onClick=${onClose}>Close</button>
    </div>
  </div>`;
}

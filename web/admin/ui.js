// ui.js - the pieces every screen of the web admin shares: htm bound to
// Preact, notices, the delete confirmation, sizes and times as text.
// Everything a user typed is rendered by Preact as text (never innerHTML).
import { h } from './vendor/preact.js';
import htm from './vendor/htm.js';

export const html = htm.bind(h);
export const PAGE = 25;

export function Notice({ error, ok }) {
  if (error) {
    return html`<p class="notice error" role="alert" data-test="error">${error}</p>`;
  }
  if (ok) return html`<p class="notice ok" role="status" data-test="ok">${ok}</p>`;
  return null;
}

export function sizeText(kb) {
  if (kb === 0) return 'unlimited';
  if (kb >= 1048576) return `${(kb / 1048576).toFixed(1)} GB`;
  if (kb >= 1024) return `${(kb / 1024).toFixed(0)} MB`;
  return `${kb} KB`;
}

export function when(t) {
  return t ? new Date(t * 1000).toLocaleString() : 'never';
}

export function Confirm({ text, onYes, onNo, yes, children }) {
  return html`<div class="modal" role="dialog" aria-modal="true">
    <div class="modal-box">
      <p>${text}</p>
      ${children}
      <div class="actions">
        <button class="danger" data-test="confirm-yes" onClick=${onYes}>${yes || 'Delete'}</button>
        <button onClick=${onNo}>Cancel</button>
      </div>
    </div>
  </div>`;
}

// lines - an address list typed one per line (or comma separated)
export function lines(text) {
  return text.split(/[\n,]+/).map((s) => s.trim()).filter(Boolean);
}

// KeepData - the "keep the mail on disk" choice of a delete (keepData,
// `postern ... del --keep-data`)
export function KeepData({ keep, setKeep }) {
  return html`<label class="check"><input type="checkbox" name="keep-data" checked=${keep}
    onChange=${(e) => setKeep(e.target.checked)} /> Keep the mail on disk (delete only the settings)</label>`;
}

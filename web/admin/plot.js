// plot.js - the dashboard's traffic plots (Traffic/get, docs/API.md):
// messages per minute and queue lengths over the last hour, six hours or
// day, drawn as SVG by this code. The SVG holds only the lines (its own
// units, stretched to the width: it fits a phone); the scale, times and
// legend are HTML beside it, so text keeps its size. Preact renders every
// value as text or an attribute, nothing as markup.
import { useState, useEffect } from './vendor/hooks.js';
import * as api from './api.js';
import { html, Notice } from './ui.js';

const W = 600;    // the SVG's own units
const H = 160;

const MESSAGES = [
  ['in', 'Received (SMTP)'],
  ['out', 'Sent (remote)'],
  ['delivered', 'Delivered (local)'],
  ['bounced', 'Bounced'],
];

// the queues as an admin thinks of them; each the sum of some of the
// sampled queues (qadmin's labels)
const QUEUES = [
  ['inbound', 'To the MTA', ['smtp/inbound', 'sf/inbound', 'ls/inbound', 'pr/inbound']],
  ['remote', 'Outgoing (remote)', ['smtp/outgoing']],
  ['local', 'Local delivery', ['sf/outgoing']],
  ['other', 'Lists and POP', ['ls/outgoing', 'pr/outgoing']],
  ['badmail', 'Bad mail', ['badmail']],
];

// sumOf - per minute, the sum of the named series; null where none has a
// value
function sumOf(queues, names) {
  const parts = names.map((n) => queues[n]).filter(Boolean);
  if (parts.length === 0) return [];
  return parts[0].map((_, i) => {
    let v = null;
    for (const p of parts) if (p[i] !== null && p[i] !== undefined) v = (v || 0) + p[i];
    return v;
  });
}

// niceMax - the top of the scale: 1, 2 or 5 times a power of ten
function niceMax(v) {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

// pathOf - an SVG path of the values, broken where a value is missing
export function pathOf(values, max) {
  const n = values.length;
  const dx = n > 1 ? W / (n - 1) : 0;
  let d = '';
  let pen = false;
  values.forEach((v, i) => {
    if (v === null || v === undefined) {
      pen = false;
      return;
    }
    const x = (n > 1 ? i * dx : W / 2).toFixed(1);
    const y = (H - (v / max) * H).toFixed(1);
    d += `${pen ? 'L' : 'M'}${x} ${y}`;
    pen = true;
  });
  // a lone point is drawn as a short dash
  return d.replace(/M([\d.]+) ([\d.]+)(?=M|$)/g, (m, x, y) => `M${x} ${y}h1`);
}

// clock - a time of the scale; with the weekday when the period is long
function clock(t, long) {
  const o = { hour: '2-digit', minute: '2-digit' };
  if (long) o.weekday = 'short';
  return new Date(t * 1000).toLocaleString([], o);
}

function Chart({ name, title, series, start, step, unit }) {
  const all = series.flatMap(([, , v]) => v.filter((x) => x !== null));
  const max = niceMax(Math.max(0, ...all));
  const n = series.length ? series[0][2].length : 0;
  const end = start + (n - 1) * step;
  const long = end - start > 12 * 3600;
  const sums = series.map(([key, label, v]) => [key, label, v.reduce((a, x) => a + (x || 0), 0),
    v.filter((x) => x !== null).pop()]);
  const summary = sums.map(([, label, s, last]) => `${label} ${unit === 'total' ? s : (last ?? 'none')}`).join(', ');
  return html`<figure class="plot" data-test=${`plot-${name}`}>
    <figcaption>${title}</figcaption>
    <ul class="legend">${sums.map(([key, label, s, last]) => html`<li key=${key}>
      <span class=${`swatch s-${key}`}></span>${`${label}: `}<strong data-test=${`${name}-${key}`}>${unit === 'total' ? s : (last ?? '–')}</strong></li>`)}</ul>
    <div class="plot-body">
      <div class="scale"><span>${max}</span><span>${max / 2}</span><span>0</span></div>
      <svg viewBox=${`0 0 ${W} ${H}`} preserveAspectRatio="none" role="img"
        aria-label=${`${title}: ${summary}`} data-test=${`svg-${name}`}>
        <line class="grid" x1="0" y1="0.5" x2=${W} y2="0.5" vector-effect="non-scaling-stroke" />
        <line class="grid" x1="0" y1=${H / 2} x2=${W} y2=${H / 2} vector-effect="non-scaling-stroke" />
        <line class="axis" x1="0" y1=${H - 0.5} x2=${W} y2=${H - 0.5} vector-effect="non-scaling-stroke" />
        ${series.map(([key, label, v]) => html`<path key=${key} class=${`line s-${key}`}
          data-series=${key} d=${pathOf(v, max)} vector-effect="non-scaling-stroke"><title>${label}</title></path>`)}
      </svg>
    </div>
    <div class="times"><span>${clock(start, long)}</span><span>${clock((start + end) / 2, long)}</span>
      <span>${clock(end, long)}</span></div>
  </figure>`;
}

export function Traffic() {
  const [minutes, setMinutes] = useState(1440);
  const [t, setT] = useState(null);
  const [error, setError] = useState('');
  useEffect(() => {
    let live = true;
    const load = () => api.call('Traffic/get', { minutes })
      .then((r) => { if (live) { setT(r.list[0]); setError(''); } })
      .catch((e) => { if (live) setError(e.message); });
    load();
    const timer = setInterval(load, 60000);
    return () => { live = false; clearInterval(timer); };
  }, [minutes]);
  const ranges = [[60, '1 hour'], [360, '6 hours'], [1440, '24 hours']];
  const msgs = t && MESSAGES.map(([k, label]) => [k, label, t.series[k] || []]);
  const queues = t && QUEUES.map(([k, label, names]) => [k, label, sumOf(t.queues, names)]);
  const empty = t && msgs.every(([, , v]) => v.every((x) => x === null));
  return html`<section class="traffic" data-test="traffic">
    <h3>Traffic</h3>
    <div class="toolbar" role="group" aria-label="Period">
      ${ranges.map(([m, label]) => html`<button key=${m} type="button" aria-pressed=${m === minutes}
        class=${m === minutes ? 'on' : ''} data-test=${`range-${m}`} onClick=${() => setMinutes(m)}>${label}</button>`)}
    </div>
    <${Notice} error=${error} />
    ${empty && html`<p class="muted">No samples yet: posternd stores one a minute.</p>`}
    ${t && html`<div class="plots">
      <${Chart} name="messages" title="Messages per minute (totals over the period)" series=${msgs}
        start=${t.start} step=${t.step} unit="total" />
      <${Chart} name="queues" title="Queue lengths (latest)" series=${queues}
        start=${t.start} step=${t.step} unit="last" />
    </div>`}
  </section>`;
}

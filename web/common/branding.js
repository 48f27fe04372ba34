// branding.js - a post office's logos (manual 5.3.6 "may brand") for the
// web admin's and the webmail's login pages and banners: GET
// /api/branding (docs/API.md "Branding") by the login typed (its domain
// names the post office), by a post office's name, or, with neither, by
// the host the page was asked for. Answers {postOffice, login, banner}
// (the URLs of the logos it has) or {} for none. No markup is made here:
// the callers put the URL in an <img src>.

const cache = new Map();

// brandingFor - the logos for a login or post office name ('' or null:
// the page's host); {} when none or on any error
export async function brandingFor(name) {
  const key = name || '';
  if (cache.has(key)) return cache.get(key);
  const q = !name ? '' : name.includes('@') ? `?login=${encodeURIComponent(name)}`
    : `?postoffice=${encodeURIComponent(name)}`;
  let v = {};
  try {
    const r = await fetch(`/api/branding${q}`, { credentials: 'same-origin' });
    if (r.ok) v = await r.json();
  } catch (e) {
    v = {};
  }
  // only URLs of ours, whatever the answer holds
  for (const k of ['login', 'banner']) {
    if (typeof v[k] !== 'string' || !v[k].startsWith('/api/branding/')) delete v[k];
  }
  cache.set(key, v);
  return v;
}

// pageBrandName - ?postoffice=NAME of the page's address, or ''
export function pageBrandName() {
  return new URLSearchParams(location.search).get('postoffice') || '';
}

// loginLogo - the login logo's URL for what is typed in a login field:
// its domain's post office's, else the page's (?postoffice=, the host);
// '' for none
export async function loginLogo(user) {
  const u = (user || '').trim();
  if (/@[^@\s]+$/.test(u)) {
    const v = await brandingFor(u);
    if (v.login) return v.login;
  }
  return (await brandingFor(pageBrandName())).login || '';
}

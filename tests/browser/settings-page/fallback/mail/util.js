// Used by webmail-settings.mjs only while this tree has no
// web/mail/util.js (the webmail's, another branch): the address helpers
// the settings pages import from it, with the same contract.
export function addrListFull (list) {
  return (list || []).map((a) => a.name ? `${a.name} <${a.email}>` : a.email).join(', ')
}

// parseAddrs - "Name <a@b>, c@d" to [{ name, email }]
export function parseAddrs (text) {
  return String(text).split(/[,;]/).map((s) => s.trim()).filter(Boolean).map((s) => {
    const m = /^(.*?)\s*<([^<>\s]+)>$/.exec(s)
    return m ? { name: m[1].replace(/^"|"$/g, '').trim() || null, email: m[2] } : { name: null, email: s }
  })
}

export function validEmail (e) {
  return /^[^\s@<>(),;:"]+@[^\s@<>(),;:"]+$/.test(e)
}

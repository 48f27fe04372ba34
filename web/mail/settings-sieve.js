// settings-sieve: the filter rules of the webmail's settings as Sieve
// (RFC 5228 with fileinto, imap4flags, copy and Postern's
// vnd.postern.noautoreply: "no auto reply to this message") and back. Pure functions,
// no DOM: tests/integration/test_webmail_settings.py runs them under node.
//
// A script written here starts with a comment line holding the rules as
// JSON ("# @postern-rules {...}"); reading it back takes that line and
// checks that the rest of the script is exactly what the rules give, so
// a script changed by hand (ManageSieve, another client) is never taken
// for rules it no longer is: it is shown as raw Sieve, with a warning,
// and kept unless the user replaces it.

export const SCRIPT_NAME = 'postern-filters'
export const MARK = '# @postern-rules '

export const FIELDS = ['from', 'to', 'subject', 'header', 'size']
export const OPS = { text: ['contains', 'notContains', 'is'], size: ['over', 'under'] }
export const ACTIONS = ['fileinto', 'redirect', 'discard', 'flag', 'noautoreply']
export const FLAGS = ['\\Seen', '\\Flagged', '\\Answered']
export const LIMITS = { rules: 100, conditions: 20, actions: 10, value: 1000 }

const HEADER_NAME = /^[!-9;-~]{1,76}$/
const ADDRESS = /^[^\s@"\\<>()\[\],;:]+@[^\s@"\\<>()\[\],;:]+\.[^\s@"\\<>()\[\],;:]+$/

// quote - a Sieve quoted string (RFC 5228 2.4.2)
export function quote (s) {
  return '"' + String(s).replace(/\\/g, '\\\\').replace(/"/g, '\\"') + '"'
}

// mutf7 - an IMAP folder name in modified UTF-7 (RFC 3501 5.1.3), the
// form deliver's fileinto takes
export function mutf7 (s) {
  let out = ''
  let pending = []
  const flush = () => {
    if (!pending.length) return
    const bytes = []
    for (const u of pending) bytes.push(u >> 8, u & 0xff)
    let bin = ''
    for (const b of bytes) bin += String.fromCharCode(b)
    out += '&' + btoa(bin).replace(/=+$/, '').replace(/\//g, ',') + '-'
    pending = []
  }
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c >= 0x20 && c <= 0x7e) {
      flush()
      out += c === 0x26 ? '&-' : s[i]
    } else {
      pending.push(c)
    }
  }
  flush()
  return out
}

// check - the rules as the editor may write them: null, or what is wrong
export function check (rules) {
  if (!Array.isArray(rules) || rules.length > LIMITS.rules) return `at most ${LIMITS.rules} rules`
  for (const [i, r] of rules.entries()) {
    const n = `rule ${i + 1}`
    if (typeof r !== 'object' || r === null) return `${n} is not a rule`
    if (typeof r.name !== 'string' || r.name.length > 200) return `${n}: a name of at most 200 characters`
    if (!['all', 'any'].includes(r.match)) return `${n}: match all or any`
    if (!Array.isArray(r.conditions) || r.conditions.length > LIMITS.conditions) return `${n}: at most ${LIMITS.conditions} conditions`
    if (!Array.isArray(r.actions) || r.actions.length < 1 || r.actions.length > LIMITS.actions) return `${n}: 1 to ${LIMITS.actions} actions`
    for (const c of r.conditions) {
      if (!FIELDS.includes(c.field)) return `${n}: unknown condition ${c.field}`
      const ops = c.field === 'size' ? OPS.size : OPS.text
      if (!ops.includes(c.op)) return `${n}: ${c.field} takes ${ops.join(', ')}`
      if (c.field === 'size') {
        if (!Number.isInteger(c.value) || c.value < 1 || c.value > 1048576) return `${n}: a size in KB from 1 to 1048576`
      } else if (typeof c.value !== 'string' || c.value === '' || c.value.length > LIMITS.value) {
        return `${n}: each condition needs a text of 1 to ${LIMITS.value} characters`
      }
      if (c.field === 'header' && !HEADER_NAME.test(c.header || '')) return `${n}: a header field name (like List-Id)`
    }
    for (const a of r.actions) {
      if (!ACTIONS.includes(a.type)) return `${n}: unknown action ${a.type}`
      if (a.type === 'fileinto' && (typeof a.folder !== 'string' || !a.folder || a.folder.length > 250)) return `${n}: choose a folder`
      if (a.type === 'redirect' && !ADDRESS.test(a.address || '')) return `${n}: redirect needs an address`
      if (a.type === 'flag' && !FLAGS.includes(a.flag)) return `${n}: choose a flag`
    }
    if (r.actions.some(a => a.type === 'discard') && r.actions.some(a => a.type === 'fileinto' || a.type === 'flag')) return `${n}: discard excludes fileinto and flag`
  }
  return null
}

function test (c) {
  if (c.field === 'size') return `size :${c.op} ${c.value}K`
  const names = c.field === 'header' ? [c.header] : c.field === 'to' ? ['to', 'cc'] : [c.field]
  const list = names.length === 1 ? quote(names[0]) : '[' + names.map(quote).join(', ') + ']'
  const match = c.op === 'is' ? ':is' : ':contains'
  const t = `header ${match} ${list} ${quote(c.value)}`
  return c.op === 'notContains' ? `not ${t}` : t
}

// toSieve - the script for rules (throws on rules check refuses)
export function toSieve (rules) {
  const why = check(rules)
  if (why) throw new Error(why)
  const need = new Set()
  const body = []
  for (const r of rules) {
    const flags = r.actions.filter(a => a.type === 'flag').map(a => a.flag)
    const tagged = flags.length ? `:flags [${flags.map(quote).join(', ')}] ` : ''
    const lines = []
    if (flags.length) need.add('imap4flags')
    for (const a of r.actions) {
      if (a.type === 'fileinto') {
        need.add('fileinto')
        lines.push(`fileinto ${tagged}${quote(mutf7(a.folder))};`)
      } else if (a.type === 'redirect') {
        if (a.copy) need.add('copy')
        lines.push(`redirect ${a.copy ? ':copy ' : ''}${quote(a.address)};`)
      } else if (a.type === 'discard') {
        lines.push('discard;')
      } else if (a.type === 'noautoreply') {
        // Postern's extension: the auto responder does not answer it
        need.add('vnd.postern.noautoreply')
        lines.push('noautoreply;')
      }
    }
    // flags without a folder: kept in the inbox with them
    if (flags.length && !r.actions.some(a => a.type === 'fileinto')) lines.push(`keep ${tagged.trimEnd()};`)
    if (r.stop) lines.push('stop;')
    const cond = r.conditions.length === 0 ? 'true'
      : `${r.match === 'all' ? 'allof' : 'anyof'} (${r.conditions.map(test).join(', ')})`
    const head = r.enabled === false ? 'if false' : `if ${cond}`
    body.push(`# rule: ${r.name.replace(/[\r\n]/g, ' ')}`)
    body.push(`${head} {`)
    for (const l of lines) body.push('  ' + l)
    body.push('}')
  }
  const order = ['fileinto', 'imap4flags', 'copy', 'vnd.postern.noautoreply'].filter(x => need.has(x))
  const out = []
  out.push('# Postern filters: written by the webmail\'s rules editor; a change')
  out.push('# made elsewhere turns this script into raw Sieve for the editor.')
  out.push(MARK + JSON.stringify({ version: 1, rules }))
  if (order.length) out.push(`require [${order.map(quote).join(', ')}];`)
  return out.concat(body).join('\r\n') + '\r\n'
}

// fromSieve - { rules } for a script this editor wrote and nobody
// changed since, else { raw, warning }
export function fromSieve (text) {
  const lines = String(text).split(/\r?\n/)
  const line = lines.find(l => l.startsWith(MARK))
  const raw = (warning) => ({ raw: text, warning })
  if (!line) return raw('This script was not written by the rules editor: it is shown as Sieve. Saving rules replaces it.')
  let v
  try {
    v = JSON.parse(line.slice(MARK.length))
  } catch (e) {
    return raw('The rules in this script cannot be read: it is shown as Sieve.')
  }
  if (!v || v.version !== 1 || check(v.rules) !== null) return raw('The rules in this script are not valid: it is shown as Sieve.')
  let again
  try {
    again = toSieve(v.rules)
  } catch (e) {
    return raw('The rules in this script are not valid: it is shown as Sieve.')
  }
  if (again.replace(/\r\n/g, '\n').trimEnd() !== String(text).replace(/\r\n/g, '\n').trimEnd()) {
    return raw('This script was changed outside the rules editor: it is shown as Sieve. Saving rules replaces it.')
  }
  return { rules: v.rules }
}

// main.js - mounts Settings({ jmap, session }) (web/mail/settings.js) as
// the webmail's shell does at #/settings, with the webmail's client
// (/mail/jmap.js) on the session the test logged in (the cookie).
import { render } from '/common/vendor/preact.js'
import { html } from '/common/html.js'
import { getSession, Jmap } from '/mail/jmap.js'
import { Settings } from '/mail/settings.js'

const session = await getSession()
const root = document.getElementById('app')
if (!session) {
  root.textContent = 'Not logged in.'
} else {
  render(html`<main class="settings-main"><${Settings} jmap=${new Jmap(session)} session=${session} /></main>`, root)
}

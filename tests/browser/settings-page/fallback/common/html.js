// Used by webmail-settings.mjs only while this tree has no
// web/common/html.js (the webmail's, another branch): htm bound to Preact.
import { h } from './vendor/preact.js'
import htm from './vendor/htm.js'

export const html = htm.bind(h)

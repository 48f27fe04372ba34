// html.js - htm bound to Preact, for the apps that import the libraries
// from /common/vendor/ (the webmail and its settings pages). Text given
// to it is rendered as text, never as markup.
import { h } from './vendor/preact.js';
import htm from './vendor/htm.js';

export const html = htm.bind(h);

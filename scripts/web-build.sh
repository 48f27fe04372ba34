#!/bin/sh
# web-build.sh OUTDIR - the web applications' served trees under OUTDIR
# (build/web, beside postern-httpd; src/httpd/static.c serves them):
#   admin/   web/admin/* and its copies of Preact and htm (vendor/)
#   mail/    web/mail/*, the webmail
#   common/  web/common/* and the libraries' dist files (vendor/: Preact,
#            its hooks, htm, DOMPurify, Squire) the webmail imports
# The libraries come from web/node_modules, which `npm ci --ignore-scripts`
# fills from the committed web/package-lock.json when it is missing or
# older than the lockfile. Meson runs this at every build; it copies only
# what changed. Without npm (or offline) the APIs still work: the trees
# get no vendor files and /admin/ and /mail/ say the page is not built.
set -eu
SRC=$(cd "$(dirname "$0")/../web" && pwd)
OUT=$1
stamp="$SRC/node_modules/.package-lock.json"

if [ ! -f "$stamp" ] || [ "$SRC/package-lock.json" -nt "$stamp" ]; then
	if command -v npm >/dev/null 2>&1 &&
	    (cd "$SRC" && npm ci --ignore-scripts --no-audit --no-fund \
	    --loglevel=error >&2); then
		touch "$stamp"
	else
		echo "web-build: npm ci failed or npm is missing: the web admin" \
		    "and webmail pages are not built (the APIs work)" >&2
	fi
fi

# put SRC DST - copy when different (keeps mtimes of what did not change)
put() {
	if ! cmp -s "$1" "$2" 2>/dev/null; then
		cp "$1" "$2.tmp" && mv "$2.tmp" "$2"
	fi
}

# hooks SRC DST - Preact's hooks with their bare "preact" import made
# relative (plain ES modules without an import map, an inline script the
# CSP forbids)
hooks() {
	sed 's#from"preact"#from"./preact.js"#g; s#from "preact"#from "./preact.js"#g' \
	    "$1" > "$2.new"
	put "$2.new" "$2"
	rm -f "$2.new"
}

NM=$SRC/node_modules
mkdir -p "$OUT/admin/vendor" "$OUT/mail" "$OUT/common/vendor"
vendor_ok=1
for f in preact/dist/preact.module.js preact/hooks/dist/hooks.module.js \
    htm/dist/htm.module.js dompurify/dist/purify.es.mjs \
    squire-rte/dist/squire.mjs; do
	[ -f "$NM/$f" ] || vendor_ok=0
done
if [ "$vendor_ok" = 1 ]; then
	for d in admin/vendor common/vendor; do
		put "$NM/preact/dist/preact.module.js" "$OUT/$d/preact.js"
		put "$NM/htm/dist/htm.module.js" "$OUT/$d/htm.js"
		hooks "$NM/preact/hooks/dist/hooks.module.js" "$OUT/$d/hooks.js"
	done
	put "$NM/dompurify/dist/purify.es.mjs" "$OUT/common/vendor/purify.js"
	put "$NM/squire-rte/dist/squire.mjs" "$OUT/common/vendor/squire.js"
	for t in admin mail common; do
		for f in "$SRC/$t"/*; do
			[ -f "$f" ] && put "$f" "$OUT/$t/$(basename "$f")"
		done
	done
else
	rm -f "$OUT/admin/index.html" "$OUT/mail/index.html"
fi

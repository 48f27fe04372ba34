#!/bin/sh
# web-build.sh OUT - the web admin's served tree: web/admin/* and the dist
# files of its libraries (Preact, htm) from web/node_modules, which
# `npm ci --ignore-scripts` fills from the committed web/package-lock.json
# when it is missing or older than the lockfile. Meson runs this at every
# build (build/web/admin, beside postern-httpd); it copies only what
# changed. Without npm (or offline) the API still works: the tree gets no
# vendor files and /admin/ says the page is not built.
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
		    "page is not built (the API works)" >&2
	fi
fi

# put SRC DST - copy when different (keeps mtimes of what did not change)
put() {
	if ! cmp -s "$1" "$2" 2>/dev/null; then
		cp "$1" "$2.tmp" && mv "$2.tmp" "$2"
	fi
}

mkdir -p "$OUT/vendor"
vendor_ok=1
for f in preact/dist/preact.module.js preact/hooks/dist/hooks.module.js \
    htm/dist/htm.module.js; do
	[ -f "$SRC/node_modules/$f" ] || vendor_ok=0
done
if [ "$vendor_ok" = 1 ]; then
	put "$SRC/node_modules/preact/dist/preact.module.js" "$OUT/vendor/preact.js"
	put "$SRC/node_modules/htm/dist/htm.module.js" "$OUT/vendor/htm.js"
	# plain ES modules without an import map (an inline script the CSP
	# forbids): the hooks' bare "preact" import becomes a relative one
	sed 's#from"preact"#from"./preact.js"#g; s#from "preact"#from "./preact.js"#g' \
	    "$SRC/node_modules/preact/hooks/dist/hooks.module.js" > "$OUT/vendor/hooks.js.new"
	put "$OUT/vendor/hooks.js.new" "$OUT/vendor/hooks.js"
	rm -f "$OUT/vendor/hooks.js.new"
	for f in "$SRC"/admin/*; do
		put "$f" "$OUT/$(basename "$f")"
	done
else
	rm -f "$OUT/index.html"
fi

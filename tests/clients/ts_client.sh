#!/usr/bin/env bash
# Generates TypeScript types from the committed document (openapi-typescript), compiles the
# seed flow written against them with openapi-fetch's JSON-only media typing (tsc, strict),
# and runs it against the real binary. Also lints the document with redocly: no errors.
set -euo pipefail
source "$(dirname "$0")/common.sh" "$1"
"$here/node_modules/.bin/redocly" lint "$repo/openapi/patriot-api.yaml" --format stylish
out=$work/ts
mkdir -p "$out"
ln -s "$here/node_modules" "$out/node_modules"
"$here/node_modules/.bin/openapi-typescript" "$repo/openapi/patriot-api.yaml" -o "$out/patriot-api.ts"
cp "$here/ts_smoke.ts" "$out/"
cat > "$out/tsconfig.json" <<'JSON'
{ "compilerOptions": { "target": "es2022", "module": "nodenext", "moduleResolution": "nodenext",
    "lib": ["es2022", "dom"], "strict": true, "noEmitOnError": true, "skipLibCheck": true },
  "files": ["ts_smoke.ts"] }
JSON
echo '{"type": "module"}' > "$out/package.json"
"$here/node_modules/.bin/tsc" -p "$out/tsconfig.json"
start_server
node "$out/ts_smoke.js" "$base" secure-api-key

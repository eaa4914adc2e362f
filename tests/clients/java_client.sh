#!/usr/bin/env bash
# Generates a Java client (openapi-generator `java`, native library) from the committed
# document, compiles it with javac, and runs the seed flow against the real binary.
# Jackson: Debian 12 has no jackson-datatype-jsr310, which the generated code needs, so the
# Jackson classes the generator's own jar carries (one consistent version) are used.
set -euo pipefail
source "$(dirname "$0")/common.sh" "$1"
generator=${OPENAPI_GENERATOR:-openapi-generator-cli}
"$generator" generate -g java --library native -i "$repo/openapi/patriot-api.yaml" -o "$work/java" \
  --additional-properties=openApiNullable=false,useJakartaEe=true,hideGenerationTimestamp=true,invokerPackage=no.patriot.client,apiPackage=no.patriot.client.api,modelPackage=no.patriot.client.model \
  > "$work/java-generate.log" 2>&1 || { cat "$work/java-generate.log"; exit 1; }
grep -i 'warn' "$work/java-generate.log" || echo "openapi-generator (java): no warnings"
jar=$(python3 -c 'import pathlib, openapi_generator_cli as g; print(pathlib.Path(g.__file__).parent / "openapi-generator.jar")')
mkdir -p "$work/jackson" && (cd "$work/jackson" && unzip -q -o "$jar" 'com/fasterxml/jackson/*')
cp=$work/jackson:/usr/share/java/jakarta-annotation-api.jar
find "$work/java/src/main/java" -name '*.java' > "$work/sources"
javac -nowarn -d "$work/classes" -cp "$cp" @"$work/sources" "$here/JavaSmoke.java"
start_server
java -cp "$work/classes:$cp" JavaSmoke "$base" secure-api-key

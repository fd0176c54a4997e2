#!/bin/sh
# Rebuild web/static/vendor/editor.js from src/main.js (see README.md). Needs Node 18+ and npm;
# neither is needed to install, run or test floodway: the built file is committed.
set -eu
cd "$(dirname "$0")"
npm ci --no-audit --no-fund
./node_modules/.bin/esbuild src/main.js \
  --bundle --minify --format=iife --target=es2020 --legal-comments=eof \
  --outfile=../static/vendor/editor.js
ls -l ../static/vendor/editor.js

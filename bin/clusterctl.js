#!/usr/bin/env node
// Thin launcher: the compiled CLI entry point lives in dist/ (npm run build).
import '../dist/cli/main.js'

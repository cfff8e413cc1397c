#!/usr/bin/env node
// Thin launcher: the compiled agent entry point lives in dist/ (npm run build).
import '../dist/agent/main.js'

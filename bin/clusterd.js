#!/usr/bin/env node
// Launcher of the agent: Node's compile cache on, then the bundle `npm run build` made in
// dist/bundle/ (imported after the cache is on, so the cache covers it).
import { enableCompileCache } from './compile-cache.js'

enableCompileCache()
await import('../dist/bundle/clusterd.js')

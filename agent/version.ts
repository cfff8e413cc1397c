/**
 * The agent's version: the protocol module's constant (kept equal to package.json by a test).
 */
export { CLUSTERD_VERSION as AGENT_VERSION } from '../protocol/version.js'

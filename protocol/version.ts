/**
 * The release version both programs report (`clusterd version`, `clusterctl --version`, the
 * agent's facts). Kept as a constant so no program reads package.json at run time;
 * `test/unit/protocol/version.test.ts` keeps it equal to package.json.
 */

/** The clusterd release version, equal to `version` in package.json. */
export const CLUSTERD_VERSION = '0.1.0'

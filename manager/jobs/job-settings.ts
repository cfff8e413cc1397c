/** Job settings read from the store's config: numbers with a fallback, the cluster-level variables. */

import type { ConfigStore } from '../store/index.js'

/** A positive finite number from config, else `fallback`. */
export function numberConfig (v: unknown, fallback: number): number {
  return typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : fallback
}

/** Cluster-level playbook variables: `base` (e.g. agent_version) overlaid by the operator's `vars` config. */
export async function clusterVars (store: Pick<ConfigStore, 'getConfig'>, base: Record<string, string>): Promise<Record<string, string>> {
  const v = await store.getConfig('vars')
  return { ...base, ...(typeof v === 'object' && v !== null ? v as Record<string, string> : {}) }
}

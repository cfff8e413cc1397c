/**
 * The manager role's code (store lifecycle, job runner, Ansible, SSH: manager/ and execa,
 * node-ssh behind it) is only needed on the one elected agent. Loading it at start-up cost
 * every agent start-up time and memory for nothing, so the agent hands ManagerHost a factory
 * that imports it on the first election won.
 */

import type { ApiHandler } from '../../protocol/api-handler.js'
import type { ManagerFactory, ManagerRole } from '../../protocol/manager-role.js'

/**
 * A ManagerFactory that loads the real one (`load`, typically a dynamic import) when a role
 * first starts. The import happens once; a failed import is retried on the next start
 * (ManagerHost retries a role that failed to start), not cached.
 */
export function lazyManagerFactory (load: () => Promise<ManagerFactory>): ManagerFactory {
  let loading: Promise<ManagerFactory> | null = null
  const factory = async (): Promise<ManagerFactory> => {
    loading ??= load()
    try {
      return await loading
    } catch (err) {
      loading = null
      throw err
    }
  }
  return ctx => {
    let role: ManagerRole | null = null
    return {
      start: async () => {
        // ManagerHost runs start and stop of one role one after the other, never together.
        role ??= (await factory())(ctx)
        await role.start()
      },
      stop: async () => { await role?.stop() },
      routes: (): Map<string, ApiHandler> => role?.routes() ?? new Map(),
      // ManagerHost asks only once start() has resolved, so the loaded role answers.
      revision: () => role?.revision?.() ?? 0,
      metrics: () => role?.metrics?.() ?? null
    }
  }
}

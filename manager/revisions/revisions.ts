/**
 * Configuration revisions held by the cluster: a pushed playbook directory is checked with the
 * same checks a job's roles.yaml gets (role-config.ts `loadRoleConfig`, on the files written to
 * a scratch directory) and stored as the next revision; every job runs from a stored revision
 * materialised by content hash, so every manager runs the same playbooks after a failover. The
 * first manager of a cluster (no revision stored yet) stores its configured playbook directory
 * as revision 1. docs/architecture.md, "Configuration revisions".
 */
import { mkdir, rename, rm } from 'node:fs/promises'
import { join } from 'node:path'
import type { Logger } from 'pino'
import { ClusterdError } from '../../protocol/errors.js'
import { readRevisionDir, type RevisionDirFile } from '../../protocol/revision-dir.js'
import { revisionHash, sha256Hex, type PushRevisionResponse, type RevisionInfo } from '../../protocol/revisions.js'
import { loadRoleConfig, type RoleConfig } from '../roles/role-config.js'
import type { RevisionStore } from '../store/index.js'
import { holdsRevision, materialise, scratchDir, writeFiles, type DecodedPush } from './revision-files.js'

/** Collaborators of {@link Revisions}. */
export interface RevisionsComponents {
  store: RevisionStore
  logger: Logger
}

/** Settings of {@link Revisions}. */
export interface RevisionsInit {
  /** Where revisions are materialised: `<data dir>/revisions`. */
  dir: string
}

/** The manager's revisions: push, the current one, and a revision's checked role configuration. */
export class Revisions {
  private readonly c: RevisionsComponents
  private readonly dir: string
  /** Pushes one at a time: each is checked against the revision it follows. */
  private chain: Promise<unknown> = Promise.resolve()
  /** Writes under the revisions directory one at a time, so two jobs never rewrite one directory under each other. */
  private disk: Promise<unknown> = Promise.resolve()

  constructor (components: RevisionsComponents, init: RevisionsInit) {
    this.c = components
    this.dir = init.dir
  }

  /** Check `push` and store it as the next revision (unchanged content: the current one, not stored again). */
  async push (push: DecodedPush): Promise<PushRevisionResponse> {
    const next = this.chain.then(async () => {
      const roles = await this.check(push.files)
      const { info, created } = await this.c.store.addRevision({ files: push.files, roles, author: push.author, message: push.message })
      this.c.logger.info({ revision: info.revision, hash: info.hash, created, author: info.author }, created ? 'configuration revision stored' : 'pushed configuration equals the current revision')
      return { revision: info, created }
    })
    this.chain = next.catch(() => {})
    return await next
  }

  /**
   * Store `playbookDir` as revision 1 when the cluster holds none (a new cluster, or one from
   * before revisions). A directory that fails the checks is logged and left: jobs then fail
   * with CLUSTERD_ERR_NO_REVISION until an operator pushes one.
   */
  async ensureInitial (playbookDir: string, author: string): Promise<void> {
    if (await this.c.store.latestRevision() !== undefined) return
    const read = await readRevisionDir(playbookDir)
    if (!read.ok) {
      this.c.logger.error({ dir: playbookDir, problems: read.problems }, 'the playbook directory cannot become revision 1; push one with clusterctl roles push DIR')
      return
    }
    try {
      await this.push({ files: read.files, author, message: `playbook directory ${playbookDir}` })
    } catch (err) {
      this.c.logger.error({ err, dir: playbookDir }, 'the playbook directory was not stored as revision 1; push one with clusterctl roles push DIR')
    }
  }

  /** The cluster's current revision (the newest stored), null when none is. */
  async current (): Promise<number | null> {
    return (await this.c.store.latestRevision())?.revision ?? null
  }

  /** A revision's header; CLUSTERD_ERR_REVISION_NOT_FOUND when there is no such revision. */
  async info (revision: number): Promise<RevisionInfo> {
    const info = await this.c.store.getRevision(revision)
    if (info === undefined) {
      const current = await this.current()
      throw new ClusterdError('CLUSTERD_ERR_REVISION_NOT_FOUND', `there is no configuration revision ${revision}${current === null ? ' (the cluster holds none yet)' : ` (the newest is ${current})`}`, { revision })
    }
    return info
  }

  /** The role configuration of `revision` (null: the current one), from its materialised directory. */
  async roleConfig (revision: number | null): Promise<RoleConfig & { revision: number }> {
    const rev = revision ?? await this.current()
    if (rev === null) {
      throw new ClusterdError('CLUSTERD_ERR_NO_REVISION', 'the cluster holds no configuration revision: the manager\'s playbook directory failed validation (see its log); push one with clusterctl roles push DIR')
    }
    const info = await this.info(rev)
    const dir = await this.onDisk(async () => await materialise(this.dir, info, async sha => await this.c.store.readRevisionBlob(sha)))
    return { ...await loadRoleConfig(dir), revision: rev }
  }

  private async onDisk<T> (fn: () => Promise<T>): Promise<T> {
    const next = this.disk.then(fn)
    this.disk = next.catch(() => {})
    return await next
  }

  /** A file's bytes in a revision, for diffs. */
  async fileContent (info: RevisionInfo, path: string): Promise<Buffer | undefined> {
    const f = info.files.find(x => x.path === path)
    return f === undefined ? undefined : await this.c.store.readRevisionBlob(f.sha256)
  }

  /**
   * Run roles.yaml's checks on `files` in a scratch directory; returns the role names, or
   * throws CLUSTERD_ERR_PLAYBOOK_CONFIG with the problems named by path in the pushed tree.
   * A good directory stays as the revision's materialised copy.
   */
  private async check (files: RevisionDirFile[]): Promise<string[]> {
    return await this.onDisk(async () => await this.checkFiles(files))
  }

  private async checkFiles (files: RevisionDirFile[]): Promise<string[]> {
    const scratch = scratchDir(this.dir)
    await mkdir(this.dir, { recursive: true, mode: 0o700 })
    try {
      await writeFiles(scratch, files)
      let config: RoleConfig
      try {
        config = await loadRoleConfig(scratch)
      } catch (err) {
        if (err instanceof ClusterdError) {
          const strip = (s: string): string => s.split(`${scratch}/`).join('')
          const problems = (err.details as { problems?: string[] } | undefined)?.problems?.map(strip)
          throw new ClusterdError(err.code, `pushed ${strip(err.message)}`, problems === undefined ? undefined : { problems })
        }
        throw err
      }
      const hash = revisionHash(files.map(f => ({ path: f.path, sha256: sha256Hex(f.content) })))
      const dir = join(this.dir, hash)
      if (!await holdsRevision(dir, hash)) {
        await rm(dir, { recursive: true, force: true })
        await rename(scratch, dir).catch(() => {})
      }
      return config.roles.map(r => r.name)
    } finally {
      await rm(scratch, { recursive: true, force: true })
    }
  }
}

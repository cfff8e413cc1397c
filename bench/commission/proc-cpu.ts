/**
 * CPU time of a process from /proc (utime + stime of the process itself, not its children).
 */
import { readFileSync } from 'node:fs'

/** Clock ticks per second of /proc/PID/stat (USER_HZ; 100 on Linux x86/arm). */
const TICKS_PER_S = 100

/**
 * CPU seconds the children `pid` has waited for have used (cutime + cstime): for a process
 * that ran ansible-playbook or ansible-runner to completion, the whole Ansible tree's CPU.
 */
export function childCpuSeconds (pid: number | 'self'): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return (Number(rest[13]) + Number(rest[14])) / TICKS_PER_S
  } catch {
    return 0
  }
}

/** CPU seconds `pid` has used so far; 0 once it is gone. */
export function cpuSeconds (pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // Fields after the parenthesized command name (which may hold spaces).
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return (Number(rest[11]) + Number(rest[12])) / TICKS_PER_S
  } catch {
    return 0
  }
}

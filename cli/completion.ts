/**
 * `clusterctl completion bash|zsh`: shell completion generated from the commander program
 * itself (every verb of the registry, every option, the choices of `-o`), so a new verb
 * completes without an edit here. The script is static: it never calls clusterctl or the agent
 * while completing. zsh runs the same functions through its bashcompinit layer.
 */

import type { Command, Option } from 'commander'
import { CLUSTERD_VERSION } from '../protocol/version.js'

/** The shells `clusterctl completion` writes a script for. */
export const COMPLETION_SHELLS = ['bash', 'zsh'] as const

/** One of COMPLETION_SHELLS. */
export type CompletionShell = typeof COMPLETION_SHELLS[number]

/** What completes after one command path: its words, and the options that take a value. */
interface Node {
  /** Space-separated command path, '' for clusterctl itself. */
  path: string
  words: string[]
  /** Options of this command that take a value, with their choices ([] = any text, e.g. a file). */
  values: Array<{ flags: string[], choices: string[] }>
}

/** Only letters, digits and `-`, `_`, `.`: what a verb, flag or choice may hold in the script (single-quoted text and case patterns there). */
const SAFE = /^[A-Za-z0-9._-]+$/

function flagsOf (option: Option): string[] {
  return [option.short, option.long].filter((f): f is string => f !== undefined && SAFE.test(f))
}

/** The completion of `cmd` and of every command under it; `inherited`: the global options. */
function nodes (cmd: Command, path: string, inherited: readonly Option[]): Node[] {
  const options = path === '' ? cmd.options : [...inherited, ...cmd.options]
  const subs = cmd.commands.filter(c => SAFE.test(c.name()) && c.name() !== 'help')
  const choices = cmd.registeredArguments.flatMap(a => a.argChoices ?? []).filter(c => SAFE.test(c))
  const words = [...subs.map(c => c.name()), ...choices, ...options.flatMap(flagsOf), '--help']
  // The global options' values are one wildcard case each (the root's); the rest per command.
  const values = cmd.options
    .filter(o => o.required || o.optional)
    .map(o => ({ flags: flagsOf(o), choices: (o.argChoices ?? []).filter(c => SAFE.test(c)) }))
    .filter(v => v.flags.length > 0)
  return [{ path, words, values }, ...subs.flatMap(c => nodes(c, path === '' ? c.name() : `${path} ${c.name()}`, path === '' ? cmd.options : inherited))]
}

/** The bash functions: `_clusterctl` completes the current word from the command path typed so far. */
function bashFunctions (program: Command): string {
  // Global options (--addr, --timeout, ...) are valid after any verb.
  const all = nodes(program, '', [])
  const wordCases = all.map(n => `    '${n.path}') cands='${[...new Set(n.words)].join(' ')}' ;;`).join('\n')
  const valueCases = all.flatMap(n => n.values.flatMap(v => v.flags.map(f =>
    `    ${n.path === '' ? `*'|${f}'` : `'${n.path}|${f}'`}) vals='${v.choices.join(' ')}'; return 0 ;;`)))
    // Globals last: a command's own option of the same name wins.
    .sort((a, b) => Number(a.startsWith('    *')) - Number(b.startsWith('    *'))).join('\n')
  const subCases = all.map(n => {
    const subs = all.filter(m => m.path !== '' && m.path.startsWith(n.path === '' ? '' : `${n.path} `) && m.path.split(' ').length === (n.path === '' ? 1 : n.path.split(' ').length + 1))
    return `    '${n.path}') subs=' ${subs.map(m => m.path.split(' ').pop() ?? '').join(' ')} ' ;;`
  }).join('\n')
  // Plain POSIX-ish bash: zsh's bashcompinit runs it too (no mapfile; its compgen emulation).
  return `# clusterctl ${CLUSTERD_VERSION}: the words after a command path
_clusterctl_words () {
  cands=''
  case "$1" in
${wordCases}
  esac
}
# An option that takes a value: 0 and its choices in vals ('' = any text: files are offered).
_clusterctl_value () {
  vals=''
  case "$1|$2" in
${valueCases}
  esac
  return 1
}
_clusterctl_subs () {
  subs=' '
  case "$1" in
${subCases}
  esac
}
_clusterctl () {
  local cur="\${COMP_WORDS[COMP_CWORD]}" path='' i w cands vals subs skip=0 IFS=$'\\n'
  for ((i = 1; i < COMP_CWORD; i++)); do
    w=\${COMP_WORDS[i]}
    if [ "$skip" -eq 1 ]; then skip=0; continue; fi
    case "$w" in
      --*=*) continue ;;
      -*) _clusterctl_value "$path" "$w" && skip=1; continue ;;
    esac
    _clusterctl_subs "$path"
    case "$subs" in *" $w "*) path=\${path:+$path }$w ;; esac
  done
  if [ "$skip" -eq 1 ]; then
    _clusterctl_value "$path" "\${COMP_WORDS[COMP_CWORD-1]}"
    if [ -n "$vals" ]; then
      COMPREPLY=( $(IFS=' '; compgen -W "$vals" -- "$cur") )
    else
      COMPREPLY=( $(compgen -f -- "$cur") )
    fi
    return 0
  fi
  _clusterctl_words "$path"
  COMPREPLY=( $(IFS=' '; compgen -W "$cands" -- "$cur") )
}
complete -F _clusterctl clusterctl
`
}

/** The completion script for `shell`, from the built program. */
export function completionScript (program: Command, shell: CompletionShell): string {
  const header = shell === 'bash'
    ? '# bash completion for clusterctl, written by `clusterctl completion bash`.\n# Load it with: source <(clusterctl completion bash)   or save it as /etc/bash_completion.d/clusterctl\n'
    : '# zsh completion for clusterctl, written by `clusterctl completion zsh`.\n# Load it with: source <(clusterctl completion zsh)   (in ~/.zshrc, after compinit)\n' +
      '# It runs the bash completion functions through zsh\'s bashcompinit.\n' +
      'autoload -U +X compinit && { (( ${+_comps} )) || compinit -u }\nautoload -U +X bashcompinit && bashcompinit\n'
  return header + bashFunctions(program)
}

/** What a command may use besides the client: facts about the terminal, and a way to ask. */

/** Per-run context handed to every command by the program. */
export interface CommandContext {
  /** stdout is a terminal: `--wait` redraws a live block instead of printing lines. */
  tty: boolean
  /** Terminal width, for keeping the live block's lines from wrapping. */
  columns: number
  /** Ask a yes/no question on the terminal; undefined when stdin is not a terminal. */
  confirm?: (question: string) => Promise<boolean>
  /** Write a one-line note to stderr (e.g. a reconnect), outside the command's output. */
  warn: (text: string) => void
}

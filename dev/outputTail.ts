/** The last `lines` lines of a command's output, indented, for quoting in an error message. */
export function tail(text: string, lines = 15): string {
  return text
    .trimEnd()
    .split('\n')
    .slice(-lines)
    .map((line) => `  ${line}`)
    .join('\n');
}

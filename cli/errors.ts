/** Wrong arguments: the message says what is wrong, the CLI adds the command's usage. Exit code 2. */
export class UsageError extends Error {
  /** The command whose usage to show; undefined for the overview. */
  readonly command: string | undefined;

  constructor(message: string, command?: string) {
    super(message);
    this.name = 'UsageError';
    this.command = command;
  }
}

/** A failure already explained in words fit for the terminal (no stack trace needed). Exit code 1. */
export class CliError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CliError';
  }
}

/** The process around `runCli`: real stdio and environment, Ctrl-C stops an in-process drain. */
import config from '../queue.config.js';
import { runCli } from './main.js';

// The SDK warns on Node 20 about releases after January 2027; engines already says which Node
// this needs, and the warning would land in the middle of the command's output.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const controller = new AbortController();
let gracefulCommand = false;
let interruptedAt: number | undefined;
process.on('SIGINT', () => {
  // Most commands just end. An in-process drain gets the first Ctrl-C as an abort and gives its
  // messages back; a later one does not wait. A repeat within a second is the same Ctrl-C
  // forwarded by npm/npx, not a second one.
  if (!gracefulCommand) process.exit(130);
  if (interruptedAt !== undefined) {
    if (Date.now() - interruptedAt >= 1_000) process.exit(130);
    return;
  }
  interruptedAt = Date.now();
  controller.abort(new Error('interrupted'));
});

process.exitCode = await runCli(process.argv.slice(2), {
  config,
  env: process.env,
  stdout: process.stdout,
  stderr: process.stderr,
  stdin: process.stdin,
  interruptSignal: () => {
    gracefulCommand = true;
    return controller.signal;
  },
});
if (interruptedAt !== undefined) process.exitCode = 130;

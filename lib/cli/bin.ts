/** The process around `runCli`: real stdio and environment, Ctrl-C stops an in-process drain. */
import { runCli } from './main.js';

// The SDK warns on Node 20 about releases after January 2027; engines already says which Node
// this needs, and the warning would land in the middle of the command's output.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const controller = new AbortController();
let interrupted = false;
process.on('SIGINT', () => {
  // The first Ctrl-C lets a running drain give its messages back; a second one does not wait.
  if (interrupted) process.exit(130);
  interrupted = true;
  controller.abort(new Error('interrupted'));
});

process.exitCode = await runCli(process.argv.slice(2), {
  env: process.env,
  stdout: process.stdout,
  stderr: process.stderr,
  stdin: process.stdin,
  signal: controller.signal,
});
if (interrupted) process.exitCode = 130;

/**
 * Entry point of `rocketry` (bin/rocketry.js runs it as an esbuild bundle, or through tsx). Admin commands set the exit code
 * and let the event loop drain so piped output is complete; servers keep running until a signal.
 */
import { runCli } from './program';

// `rocketry admin topicList | head`: a closed pipe ends the output, not in a stack trace.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw err;
});

void runCli(process.argv).then((outcome) => {
  if (outcome !== 'running') process.exitCode = outcome;
});

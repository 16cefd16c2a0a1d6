/** Run a short-lived process and collect its output (no `vscode` import). */

import { execFile } from 'node:child_process';
import type { RunResult, Runner } from './interpreter';

export function execRunner(options: { timeoutMs?: number; env?: NodeJS.ProcessEnv; cwd?: string } = {}): Runner {
  const timeout = options.timeoutMs ?? 15_000;
  return (command, args) =>
    new Promise<RunResult>((resolve) => {
      execFile(
        command,
        args,
        { timeout, windowsHide: true, env: options.env ?? process.env, cwd: options.cwd, encoding: 'utf8' },
        (error, stdout, stderr) => {
          if (error === null) {
            resolve({ code: 0, stdout, stderr });
            return;
          }
          const failure = error as NodeJS.ErrnoException & { killed?: boolean; code?: string | number };
          if (typeof failure.code === 'number') {
            resolve({ code: failure.code, stdout, stderr });
          } else if (failure.killed) {
            resolve({ code: null, stdout, stderr, error: `timed out after ${timeout / 1000} s` });
          } else if (failure.code === 'ENOENT') {
            resolve({ code: null, stdout, stderr, error: 'not found' });
          } else {
            resolve({ code: null, stdout, stderr, error: failure.message });
          }
        },
      );
    });
}

/**
 * Which command starts the language server: the bundled dockpin package run
 * by a Python 3.11+ interpreter, or an installed `dockpin` executable.
 *
 * Order: the `dockpin.interpreter` setting (only that one: the user chose it),
 * else the Python extension's selected interpreter, else `python3` (then
 * `python`) on PATH. Each candidate is asked for its version; the first one
 * that is 3.11 or newer wins. No `vscode` import: unit tests inject the
 * process runner and the Python extension.
 */

import * as path from 'node:path';

export const MIN_PYTHON: readonly [number, number] = [3, 11];
export const VERSION_SCRIPT = 'import sys; print(sys.version_info[:2])';
export const SERVER_MODULE = 'dockpin.cli';

export type InterpreterSource = 'setting' | 'python-extension' | 'path';

export interface Candidate {
  /** Executable and leading arguments, e.g. `["py", "-3"]`. */
  command: string[];
  source: InterpreterSource;
}

export interface RunResult {
  /** Exit code; `null` when the process could not start or was killed. */
  code: number | null;
  stdout: string;
  stderr: string;
  /** Why the process could not start (ENOENT, timeout...). */
  error?: string;
}

export type Runner = (command: string, args: string[]) => Promise<RunResult>;

export interface Attempt {
  candidate: Candidate;
  version?: [number, number];
  problem?: string;
}

export type Discovery =
  | { ok: true; candidate: Candidate; version: [number, number]; attempts: Attempt[] }
  | { ok: false; attempts: Attempt[]; explicit: boolean };

export interface Variables {
  workspaceFolder?: string;
  userHome?: string;
  env?: Record<string, string | undefined>;
}

const SOURCE_NAMES: Record<InterpreterSource, string> = {
  setting: 'the dockpin.interpreter setting',
  'python-extension': "the Python extension's selected interpreter",
  path: 'PATH',
};

export function sourceName(source: InterpreterSource): string {
  return SOURCE_NAMES[source];
}

/** `${workspaceFolder}`, `${userHome}`, `${env:NAME}` and a leading `~`. */
export function expandVariables(value: string, vars: Variables): string {
  let out = value.replace(/\$\{(workspaceFolder|userHome|env:([A-Za-z_][A-Za-z0-9_]*))\}/g, (match, name: string, envName?: string) => {
    if (envName !== undefined) {
      return vars.env?.[envName] ?? '';
    }
    if (name === 'workspaceFolder') {
      return vars.workspaceFolder ?? match;
    }
    return vars.userHome ?? match;
  });
  if (vars.userHome && (out === '~' || out.startsWith('~/') || out.startsWith('~\\'))) {
    out = vars.userHome + out.slice(1);
  }
  return out;
}

/**
 * A path-like executable (`.venv/bin/python`) relative to the workspace
 * folder; a bare name (`python3`) stays a PATH lookup.
 */
export function resolveExecutable(executable: string, vars: Variables, platform: NodeJS.Platform = process.platform): string {
  const expanded = expandVariables(executable, vars);
  const pathApi = platform === 'win32' ? path.win32 : path.posix;
  const hasSeparator = expanded.includes('/') || (platform === 'win32' && expanded.includes('\\'));
  if (hasSeparator && !pathApi.isAbsolute(expanded) && vars.workspaceFolder) {
    return pathApi.resolve(vars.workspaceFolder, expanded);
  }
  return expanded;
}

/**
 * The `dockpin.interpreter` setting as a command: a string is one executable,
 * an array is an executable and its leading arguments. `undefined` when unset
 * or empty.
 */
export function interpreterFromSetting(value: unknown, vars: Variables, platform: NodeJS.Platform = process.platform): string[] | undefined {
  let parts: string[];
  if (typeof value === 'string') {
    parts = value.trim() === '' ? [] : [value.trim()];
  } else if (Array.isArray(value)) {
    parts = value.filter((p): p is string => typeof p === 'string').map((p) => p.trim()).filter((p) => p !== '');
  } else {
    parts = [];
  }
  if (parts.length === 0) {
    return undefined;
  }
  const [executable, ...args] = parts;
  return [resolveExecutable(executable, vars, platform), ...args.map((a) => expandVariables(a, vars))];
}

/** Interpreters looked up on PATH, most specific first. */
export function pathCandidates(platform: NodeJS.Platform = process.platform): string[][] {
  return platform === 'win32' ? [['py', '-3'], ['python']] : [['python3'], ['python']];
}

/** `(3, 11)` (what VERSION_SCRIPT prints) -> `[3, 11]`. */
export function parseVersion(stdout: string): [number, number] | undefined {
  const match = /\(\s*(\d+)\s*,\s*(\d+)\s*\)/.exec(stdout);
  return match ? [Number(match[1]), Number(match[2])] : undefined;
}

export function isSupported(version: readonly [number, number]): boolean {
  return version[0] > MIN_PYTHON[0] || (version[0] === MIN_PYTHON[0] && version[1] >= MIN_PYTHON[1]);
}

export function formatVersion(version: readonly [number, number]): string {
  return `${version[0]}.${version[1]}`;
}

function firstLine(text: string): string {
  return text.trim().split(/\r?\n/).filter((l) => l.trim() !== '').pop() ?? '';
}

/** Ask one candidate for its version. */
export async function probe(candidate: Candidate, run: Runner): Promise<Attempt> {
  const [executable, ...args] = candidate.command;
  let result: RunResult;
  try {
    result = await run(executable, [...args, '-c', VERSION_SCRIPT]);
  } catch (error) {
    return { candidate, problem: `could not run it: ${error instanceof Error ? error.message : String(error)}` };
  }
  if (result.error !== undefined) {
    return { candidate, problem: `could not run it: ${result.error}` };
  }
  if (result.code !== 0) {
    const detail = firstLine(result.stderr) || firstLine(result.stdout);
    return { candidate, problem: `exited with code ${result.code}${detail ? `: ${detail}` : ''}` };
  }
  const version = parseVersion(result.stdout);
  if (version === undefined) {
    return { candidate, problem: `printed no version (${JSON.stringify(result.stdout.trim().slice(0, 80))})` };
  }
  if (!isSupported(version)) {
    return { candidate, version, problem: `is Python ${formatVersion(version)}; dockpin needs ${formatVersion(MIN_PYTHON)} or newer` };
  }
  return { candidate, version };
}

export interface DiscoverOptions {
  /** The raw `dockpin.interpreter` setting. */
  setting: unknown;
  /** The Python extension's selected interpreter, if that extension is there. */
  pythonExtension?: () => Promise<string[] | undefined>;
  run: Runner;
  vars?: Variables;
  platform?: NodeJS.Platform;
}

function sameCommand(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((part, i) => part === b[i]);
}

export async function discoverInterpreter(options: DiscoverOptions): Promise<Discovery> {
  const vars = options.vars ?? {};
  const platform = options.platform ?? process.platform;
  const fromSetting = interpreterFromSetting(options.setting, vars, platform);
  if (fromSetting !== undefined) {
    // The user chose: no silent fallback to another Python.
    const attempt = await probe({ command: fromSetting, source: 'setting' }, options.run);
    return attempt.problem === undefined && attempt.version !== undefined
      ? { ok: true, candidate: attempt.candidate, version: attempt.version, attempts: [attempt] }
      : { ok: false, attempts: [attempt], explicit: true };
  }

  const candidates: Candidate[] = [];
  if (options.pythonExtension) {
    try {
      const selected = await options.pythonExtension();
      if (selected && selected.length > 0) {
        candidates.push({ command: selected, source: 'python-extension' });
      }
    } catch {
      // The Python extension failed to answer: carry on with PATH.
    }
  }
  for (const command of pathCandidates(platform)) {
    if (!candidates.some((c) => sameCommand(c.command, command))) {
      candidates.push({ command, source: 'path' });
    }
  }

  const attempts: Attempt[] = [];
  for (const candidate of candidates) {
    const attempt = await probe(candidate, options.run);
    attempts.push(attempt);
    if (attempt.problem === undefined && attempt.version !== undefined) {
      return { ok: true, candidate, version: attempt.version, attempts };
    }
  }
  return { ok: false, attempts, explicit: false };
}

export function describeAttempt(attempt: Attempt): string {
  return `${attempt.candidate.command.join(' ')} (from ${sourceName(attempt.candidate.source)}) ${attempt.problem ?? 'works'}`;
}

/** The notification shown when no suitable Python was found. */
export function noPythonMessage(discovery: Extract<Discovery, { ok: false }>): string {
  const need = `dockpin needs Python ${formatVersion(MIN_PYTHON)} or newer to run its language server`;
  if (discovery.explicit) {
    const attempt = discovery.attempts[0];
    return (
      `${need}, but "dockpin.interpreter" (${attempt.candidate.command.join(' ')}) ${attempt.problem}. ` +
      `Point the setting at a Python ${formatVersion(MIN_PYTHON)}+ interpreter, or clear it to use python3 from PATH.`
    );
  }
  const found = discovery.attempts
    .filter((a) => a.version !== undefined)
    .map((a) => `${a.candidate.command.join(' ')} is ${formatVersion(a.version!)}`);
  const seen = found.length > 0 ? `found only: ${found.join(', ')}` : 'none was found on PATH';
  return (
    `${need}; ${seen}. Install Python ${formatVersion(MIN_PYTHON)} or newer (python.org, or your system's ` +
    `python3.11/python3.12 package) and select it with the Python extension or the "dockpin.interpreter" setting.`
  );
}

export interface ServerCommand {
  command: string;
  args: string[];
  /** Extra environment for the server process. */
  env: Record<string, string>;
  /** Human-readable, for the output channel. */
  description: string;
}

/**
 * `<python> -m dockpin.cli lsp` with the bundled libraries first on
 * PYTHONPATH. PYTHONSAFEPATH keeps the working folder off sys.path, so a
 * `dockpin` folder in the user's workspace cannot shadow the bundled one.
 */
export function bundledServerCommand(
  interpreter: string[],
  libs: string,
  existingPythonPath: string | undefined,
  delimiter: string = path.delimiter,
): ServerCommand {
  const [command, ...leading] = interpreter;
  const pythonPath = [libs, ...(existingPythonPath ? [existingPythonPath] : [])].join(delimiter);
  return {
    command,
    args: [...leading, '-m', SERVER_MODULE, 'lsp'],
    env: { PYTHONPATH: pythonPath, PYTHONSAFEPATH: '1', PYTHONIOENCODING: 'utf-8' },
    description: `${interpreter.join(' ')} -m ${SERVER_MODULE} lsp (bundled server in ${libs})`,
  };
}

/** `dockpin.server.path`: an installed `dockpin` executable, run as `<path> lsp`. */
export function installedServerCommand(setting: unknown, vars: Variables, platform: NodeJS.Platform = process.platform): ServerCommand | undefined {
  if (typeof setting !== 'string' || setting.trim() === '') {
    return undefined;
  }
  const command = resolveExecutable(setting.trim(), vars, platform);
  return { command, args: ['lsp'], env: {}, description: `${command} lsp (dockpin.server.path)` };
}

/** The part of the Python extension's API (`ms-python.python`) used here. */
export interface PythonExtensionApi {
  environments?: {
    getActiveEnvironmentPath?(resource?: unknown): { id?: string; path?: string } | undefined;
    resolveEnvironment?(
      environment: unknown,
    ): Promise<{ executable?: { uri?: { fsPath?: string } | undefined } } | undefined>;
  };
}

/**
 * The interpreter the Python extension has selected for `resource`, as a
 * command; `undefined` when its API is missing or says nothing.
 */
export async function interpreterFromPythonExtension(
  api: PythonExtensionApi | undefined,
  resource?: unknown,
): Promise<string[] | undefined> {
  const environments = api?.environments;
  if (!environments || typeof environments.getActiveEnvironmentPath !== 'function') {
    return undefined;
  }
  const active = environments.getActiveEnvironmentPath(resource);
  if (!active) {
    return undefined;
  }
  if (typeof environments.resolveEnvironment === 'function') {
    const resolved = await environments.resolveEnvironment(active);
    const executable = resolved?.executable?.uri?.fsPath;
    if (executable) {
      return [executable];
    }
  }
  return active.path ? [active.path] : undefined;
}

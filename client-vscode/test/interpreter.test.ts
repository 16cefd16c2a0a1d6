import { strict as assert } from 'node:assert';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { after, describe, it } from 'node:test';

import {
  bundledServerCommand,
  type Discovery,
  discoverInterpreter,
  expandVariables,
  installedServerCommand,
  interpreterFromPythonExtension,
  interpreterFromSetting,
  isSupported,
  noPythonMessage,
  parseVersion,
  pathCandidates,
  type RunResult,
  type Runner,
  VERSION_SCRIPT,
} from '../src/interpreter';
import { execRunner } from '../src/run';

/** A runner that answers per executable: a version, an exit code, or "not found". */
function fakeRunner(answers: Record<string, string | RunResult>): Runner & { calls: string[][] } {
  const calls: string[][] = [];
  const run = async (command: string, args: string[]): Promise<RunResult> => {
    calls.push([command, ...args]);
    const answer = answers[command];
    if (answer === undefined) {
      return { code: null, stdout: '', stderr: '', error: 'not found' };
    }
    return typeof answer === 'string' ? { code: 0, stdout: `${answer}\n`, stderr: '' } : answer;
  };
  return Object.assign(run, { calls });
}

const linux = { platform: 'linux' as const };

describe('version parsing', () => {
  it('reads what sys.version_info[:2] prints', () => {
    assert.deepEqual(parseVersion('(3, 11)\n'), [3, 11]);
    assert.deepEqual(parseVersion('(3,13)'), [3, 13]);
    assert.equal(parseVersion('Python 3.11.7'), undefined);
    assert.equal(parseVersion(''), undefined);
  });

  it('needs 3.11 or newer', () => {
    assert.equal(isSupported([3, 10]), false);
    assert.equal(isSupported([2, 7]), false);
    assert.equal(isSupported([3, 11]), true);
    assert.equal(isSupported([3, 14]), true);
    assert.equal(isSupported([4, 0]), true);
  });
});

describe('the dockpin.interpreter setting', () => {
  const vars = { workspaceFolder: '/ws', userHome: '/home/me', env: { PYENV: '/opt/py' } };

  it('is unset when empty', () => {
    for (const value of [undefined, null, '', '  ', [], ['', ' '], 42, {}]) {
      assert.equal(interpreterFromSetting(value, vars, 'linux'), undefined, JSON.stringify(value));
    }
  });

  it('takes a string or an array with arguments', () => {
    assert.deepEqual(interpreterFromSetting('/usr/bin/python3.12', vars, 'linux'), ['/usr/bin/python3.12']);
    assert.deepEqual(interpreterFromSetting(['py', '-3.12'], vars, 'linux'), ['py', '-3.12']);
  });

  it('expands variables and resolves workspace-relative paths', () => {
    assert.deepEqual(interpreterFromSetting('${workspaceFolder}/.venv/bin/python', vars, 'linux'), ['/ws/.venv/bin/python']);
    assert.deepEqual(interpreterFromSetting('.venv/bin/python', vars, 'linux'), ['/ws/.venv/bin/python']);
    assert.deepEqual(interpreterFromSetting('~/py/bin/python3', vars, 'linux'), ['/home/me/py/bin/python3']);
    assert.deepEqual(interpreterFromSetting('${env:PYENV}/bin/python', vars, 'linux'), ['/opt/py/bin/python']);
    assert.deepEqual(interpreterFromSetting('python3.12', vars, 'linux'), ['python3.12']); // a PATH lookup stays one
    assert.equal(expandVariables('${userHome}/x', vars), '/home/me/x');
    assert.equal(expandVariables('${env:MISSING}x', vars), 'x');
  });
});

describe('discoverInterpreter', () => {
  it('uses the setting, and only the setting, when it is set', async () => {
    const run = fakeRunner({ '/opt/python3.12': '(3, 12)', python3: '(3, 11)' });
    const found = await discoverInterpreter({ setting: '/opt/python3.12', run, ...linux });
    assert.equal(found.ok, true);
    assert.ok(found.ok);
    assert.deepEqual(found.candidate, { command: ['/opt/python3.12'], source: 'setting' });
    assert.deepEqual(found.version, [3, 12]);
    assert.deepEqual(run.calls, [['/opt/python3.12', '-c', VERSION_SCRIPT]]);
  });

  it('does not fall back when the chosen interpreter is too old', async () => {
    const run = fakeRunner({ '/usr/bin/python3.9': '(3, 9)', python3: '(3, 12)' });
    const found = await discoverInterpreter({ setting: ['/usr/bin/python3.9'], run, ...linux });
    assert.equal(found.ok, false);
    const message = noPythonMessage(found as Extract<Discovery, { ok: false }>);
    assert.match(message, /needs Python 3\.11 or newer/);
    assert.match(message, /"dockpin\.interpreter" \(\/usr\/bin\/python3\.9\) is Python 3\.9/);
  });

  it("prefers the Python extension's interpreter, then python3 on PATH", async () => {
    const run = fakeRunner({ '/ws/.venv/bin/python': '(3, 13)', python3: '(3, 11)' });
    const found = await discoverInterpreter({ setting: [], pythonExtension: async () => ['/ws/.venv/bin/python'], run, ...linux });
    assert.ok(found.ok);
    assert.deepEqual(found.candidate, { command: ['/ws/.venv/bin/python'], source: 'python-extension' });
  });

  it("falls back to PATH when the Python extension's interpreter is too old, absent or failing", async () => {
    const run = fakeRunner({ '/old/python': '(3, 8)', python3: '(3, 11)' });
    const old = await discoverInterpreter({ setting: undefined, pythonExtension: async () => ['/old/python'], run, ...linux });
    assert.ok(old.ok);
    assert.deepEqual(old.candidate, { command: ['python3'], source: 'path' });
    assert.equal(old.attempts[0].problem, 'is Python 3.8; dockpin needs 3.11 or newer');

    const none = await discoverInterpreter({ setting: undefined, pythonExtension: async () => undefined, run, ...linux });
    assert.ok(none.ok);
    assert.equal(none.candidate.source, 'path');

    const broken = await discoverInterpreter({
      setting: undefined,
      pythonExtension: async () => {
        throw new Error('API not ready');
      },
      run,
      ...linux,
    });
    assert.ok(broken.ok);
    assert.equal(broken.candidate.source, 'path');
  });

  it('tries python after python3, and py -3 first on Windows', async () => {
    const run = fakeRunner({ python3: '(3, 10)', python: '(3, 12)' });
    const found = await discoverInterpreter({ setting: undefined, run, ...linux });
    assert.ok(found.ok);
    assert.deepEqual(found.candidate.command, ['python']);
    assert.deepEqual(pathCandidates('win32'), [['py', '-3'], ['python']]);
    const windows = fakeRunner({ py: '(3, 12)' });
    const onWindows = await discoverInterpreter({ setting: undefined, run: windows, platform: 'win32' });
    assert.ok(onWindows.ok);
    assert.deepEqual(windows.calls[0], ['py', '-3', '-c', VERSION_SCRIPT]);
  });

  it('says what to install when no suitable Python exists', async () => {
    const run = fakeRunner({
      python3: '(3, 9)',
      python: { code: 1, stdout: '', stderr: 'Traceback...\nSyntaxError: invalid syntax\n' },
    });
    const found = await discoverInterpreter({ setting: undefined, run, ...linux });
    assert.equal(found.ok, false);
    assert.ok(!found.ok);
    assert.equal(found.attempts[1].problem, 'exited with code 1: SyntaxError: invalid syntax');
    const message = noPythonMessage(found);
    assert.match(message, /found only: python3 is 3\.9/);
    assert.match(message, /Install Python 3\.11 or newer/);
    assert.match(message, /"dockpin\.interpreter"/);

    const nothing = await discoverInterpreter({ setting: undefined, run: fakeRunner({}), ...linux });
    assert.ok(!nothing.ok);
    assert.match(noPythonMessage(nothing), /none was found on PATH/);
    assert.equal(nothing.attempts[0].problem, 'could not run it: not found');
  });

  it('does not ask the same command twice', async () => {
    const run = fakeRunner({ python3: '(3, 10)' });
    await discoverInterpreter({ setting: undefined, pythonExtension: async () => ['python3'], run, ...linux });
    assert.deepEqual(
      run.calls.map((c) => c[0]),
      ['python3', 'python'],
    );
  });
});

describe("the Python extension's API", () => {
  it('resolves the active environment to its executable', async () => {
    const api = {
      environments: {
        getActiveEnvironmentPath: () => ({ id: 'x', path: '/ws/.venv' }),
        resolveEnvironment: async () => ({ executable: { uri: { fsPath: '/ws/.venv/bin/python' } } }),
      },
    };
    assert.deepEqual(await interpreterFromPythonExtension(api), ['/ws/.venv/bin/python']);
  });

  it('falls back to the path, and handles a missing API', async () => {
    const api = {
      environments: {
        getActiveEnvironmentPath: () => ({ id: 'x', path: '/usr/bin/python3' }),
        resolveEnvironment: async () => undefined,
      },
    };
    assert.deepEqual(await interpreterFromPythonExtension(api), ['/usr/bin/python3']);
    assert.equal(await interpreterFromPythonExtension(undefined), undefined);
    assert.equal(await interpreterFromPythonExtension({}), undefined);
    assert.equal(await interpreterFromPythonExtension({ environments: { getActiveEnvironmentPath: () => undefined } }), undefined);
  });
});

describe('server commands', () => {
  it('runs the bundled module with the libs first on PYTHONPATH', () => {
    const command = bundledServerCommand(['py', '-3.12'], '/ext/bundled/libs', '/user/path', ':');
    assert.equal(command.command, 'py');
    assert.deepEqual(command.args, ['-3.12', '-m', 'dockpin.cli', 'lsp']);
    assert.equal(command.env.PYTHONPATH, '/ext/bundled/libs:/user/path');
    assert.equal(command.env.PYTHONSAFEPATH, '1');
    assert.equal(bundledServerCommand(['python3'], '/libs', undefined, ':').env.PYTHONPATH, '/libs');
  });

  it('runs an installed dockpin as `<path> lsp`', () => {
    assert.equal(installedServerCommand('', {}, 'linux'), undefined);
    assert.equal(installedServerCommand(undefined, {}, 'linux'), undefined);
    const command = installedServerCommand('~/.local/bin/dockpin', { userHome: '/home/me' }, 'linux');
    assert.deepEqual([command?.command, command?.args], ['/home/me/.local/bin/dockpin', ['lsp']]);
  });
});

describe('execRunner with real processes', () => {
  const dir = mkdtempSync(join(tmpdir(), 'dockpin-fake-python-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  function fakePython(name: string, script: string): void {
    const file = join(dir, name);
    writeFileSync(file, `#!/bin/sh\n${script}\n`);
    chmodSync(file, 0o755);
  }

  it('finds the first suitable interpreter on a real PATH', { skip: process.platform === 'win32' }, async () => {
    fakePython('python3', 'echo "(3, 10)"');
    fakePython('python', '[ "$1" = "-c" ] && echo "(3, 12)"');
    const run = execRunner({ env: { ...process.env, PATH: `${dir}${delimiter}/usr/bin${delimiter}/bin` } });
    const found = await discoverInterpreter({ setting: undefined, run, platform: 'linux' });
    assert.ok(found.ok);
    assert.deepEqual(found.candidate.command, ['python']);
    assert.deepEqual(found.version, [3, 12]);
    assert.equal(found.attempts[0].problem, 'is Python 3.10; dockpin needs 3.11 or newer');
  });

  it('reports a missing executable, an exit code and a timeout', { skip: process.platform === 'win32' }, async () => {
    fakePython('failing', 'echo boom >&2; exit 3');
    fakePython('slow', 'sleep 5');
    const missing = await execRunner()(join(dir, 'does-not-exist'), []);
    assert.deepEqual([missing.code, missing.error], [null, 'not found']);
    const failing = await execRunner()(join(dir, 'failing'), []);
    assert.deepEqual([failing.code, failing.stderr.trim()], [3, 'boom']);
    const slow = await execRunner({ timeoutMs: 200 })(join(dir, 'slow'), []);
    assert.equal(slow.code, null);
    assert.match(slow.error ?? '', /timed out/);
  });

  it('accepts the real python3 here when it is 3.11+', { skip: process.platform === 'win32' }, async (t) => {
    const result = await execRunner()('python3', ['-c', VERSION_SCRIPT]);
    const version = parseVersion(result.stdout);
    if (version === undefined) {
      t.skip('no python3 on PATH');
      return;
    }
    assert.equal(isSupported(version), version[0] > 3 || version[1] >= 11);
  });
});

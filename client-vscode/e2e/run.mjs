// End-to-end test of the dockpin extension in a real VS Code: code-server
// 4.100.3 (VS Code 1.100.3, the last one for Node 20) driven in Debian's
// Chromium with playwright-core, against a real docker-registry on loopback.
//
//   node e2e/run.mjs [--no-build] [--vsix FILE] [--screenshot] [--keep]
//
// 1. builds the .vsix (`npm run package`; `npm ci` first if node_modules is missing);
// 2. installs code-server into .e2e/code-server-4.100.3 unless it is there
//    (with @vscode/ripgrep's download cache pre-filled from Debian's rg);
// 3. starts the registry (e2e/registry.py with the project's venv Python);
// 4. installs the .vsix into an isolated code-server (own user data,
//    extensions and XDG folders, dockpin.interpreter = the system Python 3.11+,
//    so only the libraries bundled in the .vsix are on hand);
// 5. opens the workspace's Dockerfile, checks the DP003 warning in the
//    Problems panel and the editor, applies the pin quick fix (Ctrl+. Enter),
//    saves, and checks the file on disk holds the digest skopeo reported;
// 6. opens many/Dockerfile (six images behind a slow proxy), checks the
//    "dockpin: resolving" status-bar item comes and goes, runs "dockpin: Pin
//    all images in this file" from the command palette, saves, checks disk.
//
// The last line printed is `DOCKPIN_E2E_RESULT {json}` with status "pass",
// "fail" or "skip" (only when the code-server install failed because the
// npm registry could not be reached), a reason, and timings. Exit code 0 on
// pass, 1 on fail, 3 on skip. --screenshot copies the quick-fix screenshot
// to images/quickfix.png.

import { spawn, spawnSync } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const CODE_SERVER_VERSION = '4.100.3';
const RIPGREP_PACKAGE_VERSION = '1.15.11'; // @vscode/ripgrep in code-server 4.100.3's shrinkwrap
const RIPGREP_ASSET = 'ripgrep-v13.0.0-10-x86_64-unknown-linux-musl.tar.gz';
const CHROMIUM = process.env.DOCKPIN_E2E_CHROMIUM || '/usr/bin/chromium';

const here = dirname(fileURLToPath(import.meta.url));
const extensionRoot = resolve(here, '..');
const repoRoot = resolve(extensionRoot, '..');
const cacheRoot = resolve(process.env.DOCKPIN_E2E_CACHE || join(extensionRoot, '.e2e')); // code-server lives here between runs
const codeServerDir = join(cacheRoot, `code-server-${CODE_SERVER_VERSION}`);
const codeServerEntry = join(codeServerDir, 'node_modules', 'code-server', 'out', 'node', 'entry.js');
const codeServerDone = join(codeServerDir, '.install-complete');

const args = process.argv.slice(2);
const flag = (name) => args.includes(name);
const option = (name) => {
  const index = args.indexOf(name);
  return index >= 0 ? args[index + 1] : undefined;
};

const started = Date.now();
const timings = {};
const children = []; // process groups to kill at the end
let runDir;
let page;

function log(message) {
  const seconds = ((Date.now() - started) / 1000).toFixed(1).padStart(6);
  console.log(`[e2e ${seconds}s] ${message}`);
}

class Skip extends Error {}

function finish(status, reason) {
  const result = { status, reason, timings, runDir };
  console.log(`DOCKPIN_E2E_RESULT ${JSON.stringify(result)}`);
  return status === 'pass' ? 0 : status === 'skip' ? 3 : 1;
}

async function timed(name, step) {
  const t0 = Date.now();
  try {
    return await step();
  } finally {
    timings[name] = Number(((Date.now() - t0) / 1000).toFixed(1));
  }
}

/** Run a command to completion, inheriting nothing; returns {status, output}. */
function runSync(command, commandArgs, options = {}) {
  const result = spawnSync(command, commandArgs, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, ...options });
  return {
    status: result.status,
    output: `${result.stdout ?? ''}${result.stderr ?? ''}${result.error ? `\n${result.error.message}` : ''}`,
  };
}

function tail(text, lines = 60) {
  return text.split('\n').slice(-lines).join('\n');
}

function freePort() {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolvePort(port));
    });
  });
}

function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

async function waitFor(what, predicate, timeoutMs, intervalMs = 200) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    try {
      last = await predicate();
      if (last) {
        return last;
      }
    } catch (error) {
      last = error;
    }
    await sleep(intervalMs);
  }
  throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}${last instanceof Error ? ` (${last.message})` : ''}`);
}

/** Start a detached process (its own process group) logging to a file. */
function startGroup(name, command, commandArgs, options) {
  const logFile = join(runDir, `${name}.log`);
  const child = spawn(command, commandArgs, { ...options, detached: true, stdio: options.stdio ?? ['ignore', 'pipe', 'pipe'] });
  const chunks = [];
  const keep = (data) => {
    chunks.push(data);
    writeFileSync(logFile, Buffer.concat(chunks));
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  children.push({ name, child });
  return { child, logFile, text: () => Buffer.concat(chunks).toString('utf8') };
}

function killGroup(child, signal) {
  try {
    process.kill(-child.pid, signal);
    return true;
  } catch {
    return false;
  }
}

async function stopAll() {
  for (const { child } of children.reverse()) {
    killGroup(child, 'SIGTERM');
  }
  await sleep(800);
  for (const { child } of children) {
    killGroup(child, 'SIGKILL'); // extension hosts and language servers outlive code-server's main PID
  }
  children.length = 0;
}

process.on('exit', () => {
  for (const { child } of children) {
    killGroup(child, 'SIGKILL');
  }
});
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    for (const { child } of children) {
      killGroup(child, 'SIGKILL');
    }
    process.exit(130);
  });
}

// -- steps -------------------------------------------------------------------------------

async function ensureNodeModules() {
  if (existsSync(join(extensionRoot, 'node_modules', 'playwright-core')) && existsSync(join(extensionRoot, 'node_modules', '@vscode', 'vsce'))) {
    return;
  }
  log('node_modules missing: npm ci');
  await timed('npm_ci', async () => {
    const result = runSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: extensionRoot });
    if (result.status !== 0) {
      throw new Error(`npm ci failed:\n${tail(result.output)}`);
    }
  });
}

async function buildVsix() {
  const given = option('--vsix');
  if (given) {
    return resolve(given);
  }
  const manifest = JSON.parse(readFileSync(join(extensionRoot, 'package.json'), 'utf8'));
  const vsix = join(extensionRoot, `${manifest.name}-${manifest.version}.vsix`);
  if (flag('--no-build') && existsSync(vsix)) {
    log(`using the existing ${vsix}`);
    return vsix;
  }
  log('building the .vsix: npm run package');
  await timed('package', async () => {
    rmSync(vsix, { force: true });
    const result = runSync('npm', ['run', 'package'], { cwd: extensionRoot });
    if (result.status !== 0 || !existsSync(vsix)) {
      throw new Error(`npm run package failed:\n${tail(result.output)}`);
    }
  });
  return vsix;
}

/** Whether the npm registry answers at all (to tell "unreachable" from "broken"). */
function npmRegistryProblem(output) {
  const ping = runSync('npm', ['ping'], { timeout: 30_000 });
  if (ping.status !== 0) {
    return `the npm registry is unreachable (npm ping: ${tail(ping.output, 3).trim()})`;
  }
  const network = /(ENOTFOUND|EAI_AGAIN|ETIMEDOUT|ECONNREFUSED|ECONNRESET|socket hang up|network request to)[^\n]*registry[^\n]*/i.exec(output);
  return network ? `the npm registry could not be reached during the install: ${network[0].trim()}` : undefined;
}

async function ensureCodeServer() {
  if (existsSync(codeServerDone) && existsSync(codeServerEntry)) {
    log(`code-server ${CODE_SERVER_VERSION} already installed in ${codeServerDir}`);
    timings.code_server_install = 'cached';
    return;
  }
  const rg = runSync('sh', ['-c', 'command -v rg']).output.trim();
  if (!rg) {
    throw new Error('ripgrep (rg) is not on PATH; install it with: apt-get install -y ripgrep');
  }
  log(`installing code-server ${CODE_SERVER_VERSION} into ${codeServerDir}`);
  await timed('code_server_install', async () => {
    rmSync(codeServerDir, { recursive: true, force: true });
    mkdirSync(codeServerDir, { recursive: true });
    writeFileSync(join(codeServerDir, 'package.json'), '{ "private": true }\n');
    // @vscode/ripgrep's postinstall downloads rg from GitHub unless its cache
    // ($TMPDIR/vscode-ripgrep-cache-<version>/<asset>) has it: fill it with Debian's rg.
    const tmp = join(cacheRoot, 'tmp');
    const ripgrepCache = join(tmp, `vscode-ripgrep-cache-${RIPGREP_PACKAGE_VERSION}`);
    const staging = join(tmp, 'rg-staging');
    rmSync(staging, { recursive: true, force: true });
    mkdirSync(staging, { recursive: true });
    mkdirSync(ripgrepCache, { recursive: true });
    copyFileSync(rg, join(staging, 'rg'));
    const tar = runSync('tar', ['-czf', join(ripgrepCache, RIPGREP_ASSET), '-C', staging, 'rg']);
    if (tar.status !== 0) {
      throw new Error(`could not pre-fill the ripgrep cache:\n${tar.output}`);
    }
    const result = runSync(
      'npm',
      ['install', '--foreground-scripts', '--no-audit', '--no-fund', '--no-save', `code-server@${CODE_SERVER_VERSION}`],
      {
        cwd: codeServerDir,
        timeout: 15 * 60_000,
        env: {
          ...process.env,
          TMPDIR: tmp,
          npm_config_unsafe_perm: 'true',
          npm_config_nodedir: '/usr',
          npm_config_yes: 'true',
        },
      },
    );
    writeFileSync(join(cacheRoot, 'code-server-install.log'), result.output);
    if (result.status !== 0 || !existsSync(codeServerEntry)) {
      const problem = npmRegistryProblem(result.output);
      if (problem) {
        throw new Skip(`code-server ${CODE_SERVER_VERSION} could not be installed: ${problem}`);
      }
      throw new Error(`npm install code-server@${CODE_SERVER_VERSION} failed (exit ${result.status}):\n${tail(result.output, 80)}`);
    }
    if (!/Using cached download/.test(result.output)) {
      log('warning: @vscode/ripgrep did not report using the pre-filled cache');
    }
    writeFileSync(codeServerDone, `${new Date().toISOString()}\n`);
  });
}

function systemPython() {
  // The Python a user would have: python3 on PATH without this project's venv,
  // and if that is itself a venv, the interpreter it was made from.
  const venvBin = join(repoRoot, '.venv', 'bin');
  const path = (process.env.PATH ?? '')
    .split(delimiter)
    .filter((p) => p && resolve(p) !== venvBin && !(process.env.VIRTUAL_ENV && resolve(p).startsWith(resolve(process.env.VIRTUAL_ENV))))
    .join(delimiter);
  const env = { ...process.env, PATH: path };
  delete env.VIRTUAL_ENV;
  delete env.PYTHONPATH;
  const found = runSync(
    'python3',
    [
      '-I',
      '-c',
      'import os, sys; exe = sys.executable if sys.prefix == sys.base_prefix else os.path.join(sys.base_prefix, "bin", "python3"); ' +
        'print(os.path.realpath(exe)); print("%d.%d" % sys.version_info[:2])',
    ],
    { env },
  );
  const [exe, version] = found.output.trim().split('\n');
  if (found.status !== 0 || !exe || !existsSync(exe)) {
    throw new Error(`no python3 on PATH to run the bundled server:\n${found.output}`);
  }
  const [major, minor] = version.split('.').map(Number);
  if (major < 3 || (major === 3 && minor < 11)) {
    throw new Error(`python3 on PATH (${exe}) is ${version}; the e2e needs 3.11+ for the bundled server`);
  }
  const pygls = runSync(exe, ['-I', '-c', 'import pygls'], { env });
  return { exe, version, hasPygls: pygls.status === 0 };
}

async function startRegistry() {
  const python = process.env.DOCKPIN_E2E_PYTHON || join(repoRoot, '.venv', 'bin', 'python');
  if (!existsSync(python)) {
    throw new Error(`${python} not found: create the project venv first (scripts/test.sh does)`);
  }
  const proc = startGroup('registry', python, [join(here, 'registry.py'), join(runDir, 'registry')], {
    cwd: repoRoot,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const info = await waitFor(
    'the registry helper to print its URL',
    () => {
      if (proc.child.exitCode !== null) {
        throw new Error(`registry helper exited with ${proc.child.exitCode}:\n${proc.text()}`);
      }
      const line = proc.text().split('\n').find((l) => l.startsWith('{'));
      return line ? JSON.parse(line) : undefined;
    },
    60_000,
    100,
  );
  return info;
}

function writeWorkspace(info) {
  const ws = join(runDir, 'workspace');
  mkdirSync(join(ws, 'many'), { recursive: true });
  writeFileSync(join(ws, '.dockpin.toml'), `[registry]\nmirrors = { "docker.io" = "${info.url}" }\ntimeout = 10.0\n`);
  writeFileSync(join(ws, 'Dockerfile'), 'FROM python:3.12\nRUN pip install flask\nCMD ["python", "-m", "flask", "run"]\n');
  writeFileSync(join(ws, 'many', '.dockpin.toml'), `[registry]\nmirrors = { "docker.io" = "${info.slow_url}" }\ntimeout = 20.0\n`);
  const images = Object.keys(info.digests);
  writeFileSync(
    join(ws, 'many', 'Dockerfile'),
    images.map((image, i) => `FROM ${image} AS stage${i}\nRUN true\n`).join('') + 'FROM stage0\nCMD ["true"]\n',
  );
  return ws;
}

function codeServerEnv() {
  const home = join(runDir, 'home');
  const env = { ...process.env };
  for (const name of ['VIRTUAL_ENV', 'PYTHONPATH', 'PYTHONHOME', 'VSCODE_IPC_HOOK_CLI', 'VSCODE_PROXY_URI']) {
    delete env[name];
  }
  const venvBin = join(repoRoot, '.venv', 'bin');
  env.PATH = (env.PATH ?? '').split(delimiter).filter((p) => p && resolve(p) !== venvBin).join(delimiter);
  Object.assign(env, {
    HOME: home,
    XDG_CONFIG_HOME: join(home, '.config'),
    XDG_DATA_HOME: join(home, '.local', 'share'),
    XDG_CACHE_HOME: join(home, '.cache'),
    XDG_STATE_HOME: join(home, '.local', 'state'),
    DOCKER_CONFIG: join(home, '.docker'),
    DOCKPIN_CACHE_DIR: join(runDir, 'dockpin-cache'),
    LANG: 'C.UTF-8',
  });
  for (const dir of [env.XDG_CONFIG_HOME, env.XDG_DATA_HOME, env.XDG_CACHE_HOME, env.XDG_STATE_HOME]) {
    mkdirSync(dir, { recursive: true });
  }
  return env;
}

function userSettings(extra = {}) {
  return {
    // Reaches the server through initializationOptions / workspace/configuration.
    'dockpin.rules': { DP020: 'off' },
    'dockpin.trace.server': 'messages',
    'workbench.startupEditor': 'none',
    'workbench.tips.enabled': false,
    'workbench.enableExperiments': false,
    'workbench.welcomePage.walkthroughs.openOnInstall': false,
    'security.workspace.trust.enabled': false,
    'telemetry.telemetryLevel': 'off',
    'extensions.autoCheckUpdates': false,
    'extensions.autoUpdate': false,
    'extensions.ignoreRecommendations': true,
    'update.mode': 'none',
    'git.enabled': false,
    'editor.hover.enabled': false,
    'editor.minimap.enabled': false,
    'editor.fontSize': 14,
    'editor.occurrencesHighlight': 'off',
    'editor.selectionHighlight': false,
    'editor.autoClosingBrackets': 'never', // editUserSettings types whole JSON texts
    'editor.autoClosingQuotes': 'never',
    'editor.autoSurround': 'never',
    'editor.quickSuggestions': { other: false, comments: false, strings: false },
    'window.menuBarVisibility': 'compact',
    'workbench.colorTheme': 'Default Light Modern',
    ...extra,
  };
}

async function editorText() {
  const text = await page.locator('.editor-instance .monaco-editor .view-lines').first().innerText();
  return text.replace(/\u00a0/g, ' ');
}

async function openQuickFix(expectedPrefix) {
  // The title carries the digest once the background lookup has landed;
  // until then it says "to its current digest". Both start with the prefix.
  let titles = [];
  for (let attempt = 0; attempt < 20; attempt++) {
    // Decorations are re-created whenever diagnostics are republished (the
    // registry facts landing): find the squiggle afresh each time.
    const squiggle = page.locator('.editor-instance .squiggly-warning').first();
    await squiggle.waitFor({ state: 'visible', timeout: 20_000 });
    const box = await squiggle.boundingBox().catch(() => null);
    if (!box) {
      await sleep(300);
      continue;
    }
    await page.mouse.click(box.x + box.width / 2, box.y + box.height / 2);
    await page.keyboard.press('Control+.');
    const rows = page.locator('.action-widget .monaco-list-row.action');
    await rows.first().waitFor({ state: 'visible', timeout: 10_000 });
    titles = (await rows.allInnerTexts()).map((t) => t.trim());
    if (titles[0]?.startsWith(expectedPrefix) && /sha256:/.test(titles[0])) {
      return titles;
    }
    await page.keyboard.press('Escape');
    await sleep(500);
  }
  return titles;
}

/**
 * Replace a settings file through VS Code's own editor ("Open User Settings
 * (JSON)" or "Open Remote Settings (JSON)"), and save.
 */
async function editSettings(commandTitle, settingsFile, settings) {
  await page.keyboard.press('F1');
  await page.locator('.quick-input-widget input').waitFor({ timeout: 10_000 });
  await page.keyboard.type(commandTitle);
  const row = page.locator('.quick-input-widget .monaco-list-row', { hasText: commandTitle });
  await row.first().waitFor({ timeout: 10_000 });
  await row.first().click();
  await waitFor(
    'settings.json in the editor',
    async () => (await page.locator('.tabs-container .tab.active').first().innerText()).includes('settings.json'),
    15_000,
  );
  await page.locator('.editor-instance .monaco-editor .view-lines').first().click();
  await page.keyboard.press('Control+A');
  await page.keyboard.insertText(JSON.stringify(settings));
  await page.keyboard.press('Control+S');
  await waitFor(
    'the new settings on disk',
    () => {
      try {
        return JSON.stringify(JSON.parse(readFileSync(settingsFile, 'utf8'))) === JSON.stringify(settings);
      } catch {
        return false;
      }
    },
    15_000,
  );
}

async function driveVsCode(url, ws, info, screenshotPath, settingsFile, machineSettingsFile) {
  const { chromium } = await import('playwright-core');
  const browserHome = join(runDir, 'browser-home'); // Chromium's crash-report folder goes under $XDG_CONFIG_HOME
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    env: {
      ...process.env,
      HOME: browserHome,
      XDG_CONFIG_HOME: join(browserHome, '.config'),
      XDG_CACHE_HOME: join(browserHome, '.cache'),
    },
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-dev-shm-usage',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--disable-quic',
    ],
  });
  try {
    const context = await browser.newContext({ viewport: { width: 1100, height: 700 } });
    page = await context.newPage();
    const consoleErrors = [];
    page.on('console', (message) => {
      if (message.type() === 'error') {
        consoleErrors.push(message.text().split('\n')[0].slice(0, 160));
      }
    });
    await page.goto(`${url}/?folder=${encodeURIComponent(ws)}`, { waitUntil: 'domcontentloaded', timeout: 60_000 });
    await page.locator('.monaco-workbench').waitFor({ timeout: 60_000 });
    log('workbench loaded');

    // Open the Dockerfile from the Explorer.
    const explorerItem = page.locator('.explorer-folders-view .monaco-list-row', { hasText: /^Dockerfile$/ });
    await explorerItem.first().waitFor({ timeout: 60_000 });
    await explorerItem.first().click();
    await waitFor('the Dockerfile in the editor', async () => (await editorText()).includes('FROM python:3.12'), 30_000);
    log('Dockerfile open');

    // DP003: the squiggle in the editor and the row in the Problems panel.
    await page.locator('.editor-instance .squiggly-warning').first().waitFor({ state: 'attached', timeout: 60_000 });
    log('warning squiggle shown');
    await page.keyboard.press('Control+Shift+M');
    const problem = page.locator('.markers-panel .monaco-list-row', { hasText: 'DP003' });
    await problem.first().waitFor({ timeout: 30_000 });
    const problemText = (await problem.first().innerText()).replace(/\s+/g, ' ');
    log(`Problems panel: ${problemText}`);
    const rowsNow = (await page.locator('.markers-panel .monaco-list-row').allInnerTexts()).map((t) => t.replace(/\s+/g, ' '));
    if (rowsNow.some((t) => t.includes('DP020'))) {
      throw new Error(`DP020 is reported although the dockpin.rules setting turns it off: ${JSON.stringify(rowsNow)}`);
    }
    if (!/dockpin/.test(problemText) || !/python:3\.12 is not pinned/.test(problemText)) {
      throw new Error(`the DP003 row does not read like dockpin's unpinned-tag warning: ${problemText}`);
    }
    const severityIcon = await problem.first().locator('.marker-icon').first().getAttribute('class');
    if (!/warning/.test(severityIcon ?? '')) {
      throw new Error(`DP003 is not shown as a warning (icon classes: ${severityIcon})`);
    }

    // The server runs from the .vsix's bundled libraries with the interpreter
    // the setting names (the dockpin output channel's log file says so).
    const outputLog = findFiles(join(dirname(settingsFile), '..', 'logs'), /-dockpin\.log$/)[0];
    const outputText = outputLog ? readFileSync(outputLog, 'utf8') : '';
    if (!/\(from the dockpin\.interpreter setting\)/.test(outputText) || !outputText.includes('dockpin.dockpin-0.1.0/bundled/libs')) {
      throw new Error(`the server did not start from the bundled libs with the configured interpreter:\n${outputText}`);
    }
    log(`server: ${outputText.split('\n').find((l) => l.includes('starting '))?.replace(/^\[[^\]]*\] /, '')}`);

    // The quick fix: cursor on the warning, Ctrl+., the first (preferred) action.
    const titles = await openQuickFix('Pin python:3.12 to ');
    log(`quick fixes: ${JSON.stringify(titles)}`);
    if (!titles[0]?.startsWith('Pin python:3.12 to ')) {
      throw new Error(`the first quick fix is not the pin: ${JSON.stringify(titles)}`);
    }
    const widget = await page.locator('.action-widget').first().boundingBox();
    const editorBox = await page.locator('.editor-instance').first().boundingBox();
    if (widget && editorBox) {
      const x = Math.max(0, editorBox.x - 4);
      const y = Math.max(0, editorBox.y - 4);
      const right = Math.min(editorBox.x + editorBox.width, Math.max(widget.x + widget.width + 24, x + 560));
      const bottom = Math.max(widget.y + widget.height + 16, y + 120);
      await page.screenshot({ path: screenshotPath, clip: { x, y, width: Math.min(right - x, 760), height: bottom - y } });
      log(`screenshot: ${screenshotPath}`);
    }
    await page.keyboard.press('Enter');
    const expectedLine = `FROM python:3.12@${info.digests['python:3.12']}`;
    await waitFor('the pinned digest in the editor', async () => (await editorText()).includes(expectedLine), 30_000);
    log('quick fix applied in the editor');
    await page.keyboard.press('Control+S');
    const dockerfile = join(ws, 'Dockerfile');
    const expectedFile = `${expectedLine}\nRUN pip install flask\nCMD ["python", "-m", "flask", "run"]\n`;
    await waitFor('the pinned Dockerfile on disk', () => readFileSync(dockerfile, 'utf8') === expectedFile, 20_000);
    log(`saved: ${readFileSync(dockerfile, 'utf8').split('\n')[0]}`);
    await waitFor(
      'DP003 to leave the Problems panel',
      async () => (await page.locator('.markers-panel .monaco-list-row', { hasText: 'DP003' }).count()) === 0,
      20_000,
    );
    log('DP003 gone from the Problems panel');

    // Six images behind the slow proxy: the status-bar item while they resolve,
    // then "dockpin: Pin all images in this file" from the command palette.
    await page.keyboard.press('Control+P');
    await page.locator('.quick-input-widget input').waitFor({ timeout: 10_000 });
    await page.keyboard.type('many/Dockerfile');
    // Wait for the search result (not the recently opened ./Dockerfile) and click it.
    const result = page.locator('.quick-input-widget .monaco-list-row', { hasText: /Dockerfile\s*many/ });
    await result.first().waitFor({ timeout: 20_000 });
    await result.first().click();
    await waitFor('many/Dockerfile in the editor', async () => (await editorText()).includes('FROM redis:7.4'), 30_000);
    const resolving = page.locator('.statusbar-item', { hasText: 'dockpin: resolving' });
    await resolving.first().waitFor({ state: 'visible', timeout: 20_000 });
    const tooltip = (await resolving.first().getAttribute('aria-label')) ?? '';
    log(`status bar while resolving: "${(await resolving.first().innerText()).trim()}" (${tooltip})`);
    await resolving.first().waitFor({ state: 'hidden', timeout: 60_000 });
    log('status-bar item gone after the lookups');

    await page.keyboard.press('F1');
    await page.locator('.quick-input-widget input').waitFor({ timeout: 10_000 });
    await page.keyboard.type('dockpin: Pin all images in this file');
    const command = page.locator('.quick-input-widget .monaco-list-row', { hasText: 'Pin all images in this file' });
    await command.first().waitFor({ timeout: 10_000 });
    await page.keyboard.press('Enter');
    const many = join(ws, 'many', 'Dockerfile');
    await waitFor(
      'every image pinned in the editor',
      async () => {
        const text = await editorText();
        return Object.entries(info.digests).every(([image, digest]) => text.includes(`FROM ${image}@${digest} AS`));
      },
      60_000,
    );
    await page.keyboard.press('Control+S');
    await waitFor(
      'every image pinned on disk',
      () => {
        const text = readFileSync(many, 'utf8');
        return Object.entries(info.digests).every(([image, digest]) => text.includes(`FROM ${image}@${digest} AS`));
      },
      20_000,
    );
    log('"Pin all images in this file" pinned all six on disk');

    // A settings change reaches the running server: DP020 turned to "error".
    // (Edited in VS Code itself: code-server does not notice a settings.json
    // rewritten behind its back.)
    await editSettings('Open User Settings (JSON)', settingsFile, userSettings({ 'dockpin.rules': { DP020: 'error' } }));
    await page.keyboard.press('Control+Shift+M');
    const dp020 = page.locator('.markers-panel .monaco-list-row', { hasText: 'DP020' });
    await dp020.first().waitFor({ timeout: 30_000 });
    const dp020Icon = (await dp020.first().locator('.marker-icon').first().getAttribute('class')) ?? '';
    if (!/error/.test(dp020Icon)) {
      throw new Error(`DP020 should be an error after the settings change (icon: ${dp020Icon})`);
    }
    log(`settings change applied live: ${(await dp020.first().innerText()).replace(/\s+/g, ' ').slice(0, 90)}...`);

    // No suitable Python: a notification that says what to install.
    const fakeDir = join(runDir, 'old-python');
    mkdirSync(fakeDir, { recursive: true });
    const oldPython = join(fakeDir, 'python3.9');
    writeFileSync(oldPython, '#!/bin/sh\necho "(3, 9)"\n', { mode: 0o755 });
    await editSettings('Open Remote Settings (JSON)', machineSettingsFile, { 'dockpin.interpreter': oldPython });
    const toast = page.locator('.notifications-toasts .notification-list-item', { hasText: 'needs Python 3.11 or newer' });
    await toast.first().waitFor({ timeout: 30_000 });
    log(`notification: ${(await toast.first().innerText()).replace(/\s+/g, ' ').slice(0, 200)}`);
    return consoleErrors;
  } catch (error) {
    if (page) {
      const failShot = join(runDir, 'failure.png');
      await page.screenshot({ path: failShot }).catch(() => undefined);
      log(`failure screenshot: ${failShot}`);
    }
    throw error;
  } finally {
    await browser.close().catch(() => undefined);
  }
}

function findFiles(dir, pattern, found = []) {
  if (!existsSync(dir)) {
    return found;
  }
  for (const name of readdirSync(dir)) {
    const full = join(dir, name);
    if (statSync(full).isDirectory()) {
      findFiles(full, pattern, found);
    } else if (pattern.test(name)) {
      found.push(full);
    }
  }
  return found;
}

function dumpLogs(userDataDir) {
  for (const file of findFiles(join(userDataDir, 'logs'), /(dockpin|exthost|remoteagent).*\.log$/i)) {
    console.log(`----- ${file}\n${tail(readFileSync(file, 'utf8'), 80)}`);
  }
  for (const name of ['code-server', 'registry']) {
    const file = join(runDir, `${name}.log`);
    if (existsSync(file)) {
      console.log(`----- ${file}\n${tail(readFileSync(file, 'utf8'), 60)}`);
    }
  }
}

async function main() {
  mkdirSync(cacheRoot, { recursive: true });
  runDir = mkdtempSync(join(tmpdir(), 'dockpin-vscode-e2e-'));
  log(`run folder: ${runDir}`);
  const userDataDir = join(runDir, 'user-data');
  const extensionsDir = join(runDir, 'extensions');
  let ok = false;
  try {
    if (!existsSync(CHROMIUM)) {
      throw new Error(`${CHROMIUM} not found; install it with: apt-get install -y chromium`);
    }
    await ensureNodeModules();
    const vsix = await buildVsix();
    await ensureCodeServer();
    const python = systemPython();
    log(`system Python for the bundled server: ${python.exe} (${python.version}; pygls importable without the bundle: ${python.hasPygls})`);

    const roundStarted = Date.now();
    const info = await timed('registry_start', startRegistry);
    log(`registry ${info.url} (slow proxy ${info.slow_url}); python:3.12 = ${info.digests['python:3.12']}`);
    const ws = writeWorkspace(info);
    const env = codeServerEnv();
    mkdirSync(join(userDataDir, 'User'), { recursive: true });
    const settingsFile = join(userDataDir, 'User', 'settings.json');
    writeFileSync(settingsFile, JSON.stringify(userSettings(), null, 2));
    // dockpin.interpreter is machine-overridable: in a remote window (code-server's
    // is one) VS Code takes it from the remote machine's settings, not the user's.
    mkdirSync(join(userDataDir, 'Machine'), { recursive: true });
    const machineSettingsFile = join(userDataDir, 'Machine', 'settings.json');
    writeFileSync(machineSettingsFile, JSON.stringify({ 'dockpin.interpreter': python.exe }, null, 2));

    const dirs = ['--user-data-dir', userDataDir, '--extensions-dir', extensionsDir];
    await timed('install_extension', async () => {
      const installed = runSync(process.execPath, [codeServerEntry, ...dirs, '--install-extension', vsix], { env, timeout: 120_000 });
      if (installed.status !== 0 || !/successfully installed/i.test(installed.output)) {
        throw new Error(`code-server --install-extension failed:\n${installed.output}`);
      }
      log(tail(installed.output, 2).trim());
    });

    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const server = startGroup(
      'code-server',
      process.execPath,
      [
        codeServerEntry,
        ...dirs,
        '--bind-addr',
        `127.0.0.1:${port}`,
        '--auth',
        'none',
        '--disable-telemetry',
        '--disable-update-check',
        '--disable-workspace-trust',
        '--disable-getting-started-override',
        '--ignore-last-opened',
      ],
      { cwd: runDir, env },
    );
    await waitFor(
      'code-server to answer /healthz',
      async () => {
        if (server.child.exitCode !== null) {
          throw new Error(`code-server exited with ${server.child.exitCode}:\n${server.text()}`);
        }
        const response = await fetch(`${url}/healthz`).catch(() => undefined);
        return response?.ok;
      },
      60_000,
      200,
    );
    log(`code-server ${CODE_SERVER_VERSION} at ${url}`);

    const screenshot = join(runDir, 'quickfix.png');
    const consoleErrors = await timed('vscode_round', () => driveVsCode(url, ws, info, screenshot, settingsFile, machineSettingsFile));
    timings.e2e_round = Number(((Date.now() - roundStarted) / 1000).toFixed(1));
    if (consoleErrors.length > 0) {
      log(`browser console errors (informational, ${consoleErrors.length}): ${consoleErrors.slice(0, 5).join(' | ')}`);
    }
    if (flag('--screenshot') && existsSync(screenshot)) {
      const target = join(extensionRoot, 'images', 'quickfix.png');
      mkdirSync(dirname(target), { recursive: true });
      copyFileSync(screenshot, target);
      log(`copied the screenshot to ${target} (${statSync(target).size} bytes)`);
    }
    ok = true;
    return ['pass', 'DP003 shown, pin quick fix applied and saved; status bar, pin-all, live settings and the no-Python notification checked'];
  } catch (error) {
    if (error instanceof Skip) {
      return ['skip', error.message];
    }
    console.log(error instanceof Error ? error.stack : String(error));
    dumpLogs(userDataDir);
    return ['fail', error instanceof Error ? error.message.split('\n')[0] : String(error)];
  } finally {
    await stopAll();
    timings.total = Number(((Date.now() - started) / 1000).toFixed(1));
    if (ok && !flag('--keep')) {
      rmSync(runDir, { recursive: true, force: true });
    } else {
      log(`kept the run folder: ${runDir}`);
    }
  }
}

const [status, reason] = await main();
process.exitCode = finish(status, reason);

// Copy the dockpin server (../server/dockpin, built as a wheel) and its
// pure-Python dependencies into bundled/libs, which the extension puts on
// PYTHONPATH. Pure wheels only (--platform any --abi none), so the folder runs
// on every OS and on every Python from 3.11 on.
//
// DOCKPIN_BUNDLE_PYTHON picks the Python that runs pip (default: python3).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const extensionRoot = join(here, '..');
const repoRoot = join(extensionRoot, '..');
const libs = join(extensionRoot, 'bundled', 'libs');
const python = process.env.DOCKPIN_BUNDLE_PYTHON || (process.platform === 'win32' ? 'python' : 'python3');
const TARGET_PYTHON = '3.11'; // the oldest Python the server supports: markers for it cover newer ones

function run(args, options = {}) {
  const shown = [python, ...args].join(' ');
  console.log(`$ ${shown}`);
  const result = spawnSync(python, args, { stdio: 'inherit', ...options });
  if (result.error) {
    throw new Error(`${shown}: ${result.error.message}`);
  }
  if (result.status !== 0) {
    throw new Error(`${shown}: exit code ${result.status}`);
  }
  return result;
}

function walk(dir, found = []) {
  for (const name of readdirSync(dir)) {
    const full = join(dir, name);
    if (statSync(full).isDirectory()) {
      walk(full, found);
    } else {
      found.push(full);
    }
  }
  return found;
}

if (!existsSync(join(repoRoot, 'pyproject.toml')) || !existsSync(join(repoRoot, 'server', 'dockpin', '__init__.py'))) {
  throw new Error(`no dockpin project at ${repoRoot}`);
}

const started = Date.now();
const wheels = mkdtempSync(join(tmpdir(), 'dockpin-wheel-'));
try {
  rmSync(libs, { recursive: true, force: true });
  const pip = ['-m', 'pip', '--disable-pip-version-check', '--no-input'];
  run([...pip, 'wheel', '--quiet', '--no-deps', '--wheel-dir', wheels, repoRoot]);
  const wheel = readdirSync(wheels).find((name) => /^dockpin-.*\.whl$/.test(name));
  if (!wheel) {
    throw new Error(`pip wheel made no dockpin wheel in ${wheels}`);
  }
  run([
    ...pip,
    'install',
    '--quiet',
    '--no-compile',
    '--target',
    libs,
    '--only-binary=:all:',
    '--platform',
    'any',
    '--implementation',
    'py',
    '--abi',
    'none',
    '--python-version',
    TARGET_PYTHON,
    join(wheels, wheel),
  ]);
} finally {
  rmSync(wheels, { recursive: true, force: true });
}

// Console scripts carry the build machine's interpreter path: not wanted.
rmSync(join(libs, 'bin'), { recursive: true, force: true });
const files = walk(libs);
for (const file of files.filter((f) => f.includes('__pycache__') || f.endsWith('.pyc'))) {
  rmSync(file, { force: true });
}
const compiled = files.filter((f) => /\.(so|pyd|dylib|dll)$/.test(f));
if (compiled.length > 0) {
  throw new Error(`bundled/libs must be pure Python, found: ${compiled.map((f) => relative(libs, f)).join(', ')}`);
}

// The bundle must import on its own: the server's entry points, from libs.
const check = spawnSync(
  python,
  [
    '-s',
    '-c',
    'import dockpin, dockpin.cli, dockpin.lsp.server, pygls, lsprotocol, httpx, platformdirs, dockerfile_parse, sys; ' +
      'bad = [m.__name__ for m in (dockpin, pygls, lsprotocol, httpx, platformdirs, dockerfile_parse) if not m.__file__.startswith(sys.argv[1])]; ' +
      'print("not from the bundle:", bad) if bad else print("bundle imports ok:", dockpin.__version__)',
    libs,
  ],
  { env: { ...process.env, PYTHONPATH: libs, PYTHONSAFEPATH: '1' }, encoding: 'utf8' },
);
process.stdout.write(check.stdout ?? '');
process.stderr.write(check.stderr ?? '');
if (check.status !== 0 || !String(check.stdout).startsWith('bundle imports ok')) {
  throw new Error('the bundled server does not import from bundled/libs');
}

const packages = readdirSync(libs).filter((name) => name.endsWith('.dist-info')).map((name) => name.replace(/\.dist-info$/, ''));
writeFileSync(join(libs, '..', 'BUNDLED.txt'), `${packages.sort().join('\n')}\n`);
console.log(`bundled ${packages.length} distributions into ${relative(extensionRoot, libs)} in ${((Date.now() - started) / 1000).toFixed(1)} s:`);
console.log(`  ${packages.sort().join(', ')}`);

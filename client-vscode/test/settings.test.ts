import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';

import { DEFAULT_TIMEOUT, RULE_LEVELS, toServerSettings } from '../src/settings';

function reader(values: Record<string, unknown>): (key: string) => unknown {
  return (key) => values[key];
}

const manifest = JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8'));
const properties: Record<string, { default: unknown; enum?: string[]; additionalProperties?: { enum?: string[] } }> =
  manifest.contributes.configuration.properties;

/** What VS Code's configuration API returns with nothing set: the contributed defaults. */
function defaultsReader(overrides: Record<string, unknown> = {}): (key: string) => unknown {
  return (key) => (key in overrides ? overrides[key] : properties[`dockpin.${key}`]?.default);
}

describe('toServerSettings', () => {
  it('gives the server its own defaults when nothing is set', () => {
    const { settings, problems } = toServerSettings(reader({}));
    assert.deepEqual(settings, {
      rules: {},
      registry: { mirrors: {}, insecure: [], timeout: 5, offline: false, 'trusted-registries': [] },
    });
    assert.deepEqual(problems, []);
  });

  it('maps the contributed defaults to the same shape, with no problems', () => {
    const { settings, problems } = toServerSettings(defaultsReader());
    assert.deepEqual(settings, toServerSettings(reader({})).settings);
    assert.deepEqual(problems, []);
  });

  it('maps every dockpin.* key onto {rules, registry}', () => {
    const { settings, problems } = toServerSettings(
      reader({
        rules: { DP003: 'error', dp020: 'OFF' },
        'registry.mirrors': { 'docker.io': 'http://127.0.0.1:5000' },
        'registry.insecure': ['registry.internal:5000'],
        'registry.timeout': 2.5,
        'registry.offline': true,
        'registry.trusted-registries': ['docker.io', 'ghcr.io'],
      }),
    );
    assert.deepEqual(problems, []);
    assert.deepEqual(settings, {
      rules: { DP003: 'error', DP020: 'off' },
      registry: {
        mirrors: { 'docker.io': 'http://127.0.0.1:5000' },
        insecure: ['registry.internal:5000'],
        timeout: 2.5,
        offline: true,
        'trusted-registries': ['docker.io', 'ghcr.io'],
      },
    });
  });

  it('drops invalid values one by one and names each in a problem', () => {
    const { settings, problems } = toServerSettings(
      reader({
        rules: { DP003: 'loud', X1: 'error', DP001: 'hint', DP002: 3 },
        'registry.mirrors': { 'docker.io': 'ftp://mirror', 'ghcr.io': 'https://ghcr.example.com/' },
        'registry.insecure': ['ok:5000', '', 7],
        'registry.timeout': 0,
        'registry.offline': 'yes',
        'registry.trusted-registries': 'docker.io',
      }),
    );
    assert.deepEqual(settings.rules, { DP001: 'hint' });
    assert.deepEqual(settings.registry.mirrors, { 'ghcr.io': 'https://ghcr.example.com/' });
    assert.deepEqual(settings.registry.insecure, ['ok:5000']);
    assert.equal(settings.registry.timeout, DEFAULT_TIMEOUT);
    assert.equal(settings.registry.offline, false);
    assert.deepEqual(settings.registry['trusted-registries'], []);
    const text = problems.join('\n');
    for (const expected of [
      'dockpin.rules.DP003: must be one of off, error, warning, info, hint, got "loud"',
      'dockpin.rules: "X1" is not a rule code',
      'dockpin.rules.DP002',
      `mirror for "docker.io" must be a URL`,
      'dockpin.registry.insecure: entry ""',
      'dockpin.registry.insecure: entry 7',
      'dockpin.registry.timeout: must be a number of seconds between 0 and 600, got 0; using 5',
      'dockpin.registry.offline: must be true or false, got "yes"',
      'dockpin.registry.trusted-registries: must be a list of strings',
    ]) {
      assert.ok(text.includes(expected), `missing ${JSON.stringify(expected)} in:\n${text}`);
    }
    assert.equal(problems.length, 9);
  });

  it('rejects wrong container types for rules and mirrors', () => {
    const { settings, problems } = toServerSettings(reader({ rules: ['DP003'], 'registry.mirrors': 'http://x' }));
    assert.deepEqual(settings.rules, {});
    assert.deepEqual(settings.registry.mirrors, {});
    assert.equal(problems.length, 2);
  });
});

describe('package.json contributions', () => {
  const SERVER_KEYS = ['rules', 'registry.mirrors', 'registry.insecure', 'registry.timeout', 'registry.offline', 'registry.trusted-registries'];

  it('contributes exactly the server keys plus the client-only ones', () => {
    assert.deepEqual(
      Object.keys(properties).sort(),
      [...SERVER_KEYS, 'interpreter', 'server.path', 'trace.server'].map((k) => `dockpin.${k}`).sort(),
    );
  });

  it('has a description on every setting, and the server defaults', () => {
    for (const [key, schema] of Object.entries(properties)) {
      const described = schema as { description?: string; markdownDescription?: string };
      assert.ok(described.description || described.markdownDescription, `${key} has no description`);
    }
    assert.equal(properties['dockpin.registry.timeout'].default, 5);
    assert.equal(properties['dockpin.registry.offline'].default, false);
    assert.deepEqual(properties['dockpin.registry.mirrors'].default, {});
    assert.deepEqual(properties['dockpin.registry.insecure'].default, []);
    assert.deepEqual(properties['dockpin.registry.trusted-registries'].default, []);
    assert.deepEqual(properties['dockpin.rules'].default, {});
    assert.deepEqual(properties['dockpin.rules'].additionalProperties?.enum, [...RULE_LEVELS]);
  });

  it('activates on Dockerfiles and Containerfiles and maps their names to dockerfile', () => {
    assert.ok(manifest.activationEvents.includes('onLanguage:dockerfile'));
    for (const pattern of ['**/Containerfile', '**/*.Dockerfile', '**/Dockerfile.*']) {
      assert.ok(manifest.activationEvents.includes(`workspaceContains:${pattern}`), pattern);
    }
    const language = manifest.contributes.languages.find((l: { id: string }) => l.id === 'dockerfile');
    assert.ok(language.filenames.includes('Containerfile'));
    assert.ok(language.filenamePatterns.includes('*.Dockerfile'));
    assert.ok(language.filenamePatterns.includes('Dockerfile.*'));
  });

  it('contributes the three commands', () => {
    const titles = Object.fromEntries(
      manifest.contributes.commands.map((c: { command: string; category: string; title: string }) => [c.command, `${c.category}: ${c.title}`]),
    );
    assert.deepEqual(titles, {
      'dockpin.pinAllInFile': 'dockpin: Pin all images in this file',
      'dockpin.restartServer': 'dockpin: Restart server',
      'dockpin.showOutput': 'dockpin: Show output',
    });
  });
});

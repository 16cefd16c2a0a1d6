/**
 * The extension's `dockpin.*` settings, mapped onto the shape the server
 * reads (`{rules, registry}`, the same keys as `.dockpin.toml`). No `vscode`
 * import: unit tests drive it with a plain reader.
 */

export const RULE_LEVELS = ['off', 'error', 'warning', 'info', 'hint'] as const;
export type RuleLevel = (typeof RULE_LEVELS)[number];

export interface RegistrySettings {
  mirrors: Record<string, string>;
  insecure: string[];
  timeout: number;
  offline: boolean;
  'trusted-registries': string[];
}

export interface ServerSettings {
  rules: Record<string, RuleLevel>;
  registry: RegistrySettings;
}

/** The server's own defaults (server/dockpin/config.py `Config`). */
export const DEFAULT_TIMEOUT = 5;
export const MAX_TIMEOUT = 600;

/**
 * Reads one setting by its key under the `dockpin` section, e.g.
 * `registry.mirrors`; `undefined` when unset.
 */
export type SettingReader = (key: string) => unknown;

export interface MappedSettings {
  settings: ServerSettings;
  /** Values that were dropped, each naming the setting and why. */
  problems: string[];
}

const RULE_CODE = /^DP\d{3}$/;
const MIRROR_URL = /^https?:\/\/[^/\s]+\/?$/;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function describe(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

function stringList(read: SettingReader, key: string, problems: string[]): string[] {
  const value = read(key);
  if (value === undefined || value === null) {
    return [];
  }
  if (!Array.isArray(value)) {
    problems.push(`dockpin.${key}: must be a list of strings, got ${describe(value)}; ignored`);
    return [];
  }
  const items: string[] = [];
  for (const item of value) {
    if (typeof item === 'string' && item.trim() !== '') {
      items.push(item.trim());
    } else {
      problems.push(`dockpin.${key}: entry ${describe(item)} is not a non-empty string; ignored`);
    }
  }
  return items;
}

/** Map the `dockpin.*` settings to the server's `{rules, registry}`. */
export function toServerSettings(read: SettingReader): MappedSettings {
  const problems: string[] = [];

  const rules: Record<string, RuleLevel> = {};
  const rawRules = read('rules');
  if (isRecord(rawRules)) {
    for (const [code, level] of Object.entries(rawRules)) {
      const upper = code.trim().toUpperCase();
      const lower = typeof level === 'string' ? level.trim().toLowerCase() : undefined;
      if (!RULE_CODE.test(upper)) {
        problems.push(`dockpin.rules: ${describe(code)} is not a rule code (DPnnn); ignored`);
      } else if (lower === undefined || !(RULE_LEVELS as readonly string[]).includes(lower)) {
        problems.push(
          `dockpin.rules.${upper}: must be one of ${RULE_LEVELS.join(', ')}, got ${describe(level)}; ignored`,
        );
      } else {
        rules[upper] = lower as RuleLevel;
      }
    }
  } else if (rawRules !== undefined && rawRules !== null) {
    problems.push(`dockpin.rules: must be an object of rule code to level, got ${describe(rawRules)}; ignored`);
  }

  const mirrors: Record<string, string> = {};
  const rawMirrors = read('registry.mirrors');
  if (isRecord(rawMirrors)) {
    for (const [source, target] of Object.entries(rawMirrors)) {
      if (typeof target === 'string' && MIRROR_URL.test(target.trim())) {
        mirrors[source.trim()] = target.trim();
      } else {
        problems.push(
          `dockpin.registry.mirrors: mirror for ${describe(source)} must be a URL like https://host[:port], got ${describe(target)}; ignored`,
        );
      }
    }
  } else if (rawMirrors !== undefined && rawMirrors !== null) {
    problems.push(`dockpin.registry.mirrors: must be an object of registry to URL, got ${describe(rawMirrors)}; ignored`);
  }

  let timeout = DEFAULT_TIMEOUT;
  const rawTimeout = read('registry.timeout');
  if (typeof rawTimeout === 'number' && Number.isFinite(rawTimeout) && rawTimeout > 0 && rawTimeout <= MAX_TIMEOUT) {
    timeout = rawTimeout;
  } else if (rawTimeout !== undefined && rawTimeout !== null) {
    problems.push(
      `dockpin.registry.timeout: must be a number of seconds between 0 and ${MAX_TIMEOUT}, got ${describe(rawTimeout)}; using ${DEFAULT_TIMEOUT}`,
    );
  }

  let offline = false;
  const rawOffline = read('registry.offline');
  if (typeof rawOffline === 'boolean') {
    offline = rawOffline;
  } else if (rawOffline !== undefined && rawOffline !== null) {
    problems.push(`dockpin.registry.offline: must be true or false, got ${describe(rawOffline)}; using false`);
  }

  return {
    settings: {
      rules,
      registry: {
        mirrors,
        insecure: stringList(read, 'registry.insecure', problems),
        timeout,
        offline,
        'trusted-registries': stringList(read, 'registry.trusted-registries', problems),
      },
    },
    problems,
  };
}

/**
 * Keys whose change needs a new server process (a different interpreter or
 * executable); the others reach the running server through
 * workspace/didChangeConfiguration.
 */
export const RESTART_KEYS = ['dockpin.interpreter', 'dockpin.server.path'] as const;

// The `moecode.*` settings: reading them, and the part the server gets (initializationOptions,
// workspace/didChangeConfiguration, workspace/configuration). Pure functions over a
// `get(key, default)` reader, so no runtime `vscode` import; the schema is package.json's.

export interface Settings {
  // client-only
  path: string;
  args: string[];
  enable: boolean;
  traceServer: 'off' | 'messages' | 'verbose';
  // sent to the server (docs/lsp.md "Settings")
  model: string;
  backend: string;
  threads: number;
  contextBudget: number;
  maxTokens: number;
  maxLines: number;
  temperature: number;
  debounceMs: number;
  enabledLanguages: string[];
  remote: Record<string, unknown>;
}

// The keys that docs/lsp.md lists, in its order.
export const kServerKeys = [
  'model', 'backend', 'threads', 'contextBudget', 'maxTokens', 'maxLines', 'temperature', 'debounceMs', 'enabledLanguages',
  'remote',
] as const;

// Settings that only take effect when the server process starts again.
export const kRestartKeys = ['path', 'args'] as const;

// What vscode.WorkspaceConfiguration offers (and the test stub too).
export interface ConfigReader {
  get<T>(key: string, defaultValue: T): T;
}

function plainObject(v: unknown): Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

function stringArray(v: unknown, fallback: string[]): string[] {
  return Array.isArray(v) && v.every((x) => typeof x === 'string') ? v : fallback;
}

export function readSettings(c: ConfigReader): Settings {
  const trace = c.get<string>('trace.server', 'off');
  return {
    path: c.get('path', ''),
    args: stringArray(c.get<unknown>('args', []), []),
    enable: c.get('enable', true),
    traceServer: trace === 'messages' || trace === 'verbose' ? trace : 'off',
    model: c.get('model', ''),
    backend: c.get('backend', 'cpu'),
    threads: c.get('threads', 0),
    contextBudget: c.get('contextBudget', 2048),
    maxTokens: c.get('maxTokens', 64),
    maxLines: c.get('maxLines', 8),
    temperature: c.get('temperature', 0),
    debounceMs: c.get('debounceMs', 40),
    enabledLanguages: stringArray(c.get<unknown>('enabledLanguages', ['*']), ['*']),
    remote: plainObject(c.get<unknown>('remote', {})),
  };
}

// The server's view of the settings. The extension waits debounceMs itself before it sends a
// request, so the server is told 0: the wait is not paid twice.
export function serverSettings(s: Settings): Record<string, unknown> {
  return {
    model: s.model,
    backend: s.backend,
    threads: s.threads,
    contextBudget: s.contextBudget,
    maxTokens: s.maxTokens,
    maxLines: s.maxLines,
    temperature: s.temperature,
    debounceMs: 0,
    enabledLanguages: s.enabledLanguages,
    remote: s.remote,
  };
}

// Whether `languageId` gets completions under moecode.enabledLanguages (the server's rule: "*" or
// an exact id).
export function languageEnabled(enabledLanguages: string[], languageId: string): boolean {
  return enabledLanguages.some((l) => l === '*' || l === languageId);
}

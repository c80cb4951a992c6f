// What the status bar says, as a pure function of the extension's state: the one place that
// decides why no completion appears (not found, crashed, paused, no model, language off,
// indexing...). No `vscode` import: unit tested in plain Node.

// The server process as the client sees it.
export type ServerPhase = 'starting' | 'running' | 'restarting' | 'notFound' | 'startFailed' | 'stopped';

// The `moecode/status` notification's params (docs/lsp.md).
export interface ServerStatus {
  state: 'loading' | 'ready' | 'noModel' | 'error';
  model?: string;
  backend?: string;
  message?: string;
  indexing?: IndexingStatus;
  lastError?: string;
}

export interface IndexingStatus {
  active: boolean;
  message?: string;
  percentage?: number;
}

export interface StatusInputs {
  phase: ServerPhase;
  phaseDetail?: string;         // why it is not found / failed / crashed
  crashes?: number;             // consecutive crashes (restarting)
  restartInMs?: number;         // restarting: the backoff delay
  server?: ServerStatus;        // last moecode/status
  indexing?: IndexingStatus;    // from $/progress (moecode/status's own wins when present)
  lastError?: string;           // last error the server showed or a request failed with (tooltip)
  enabled: boolean;             // moecode.enable (false: paused)
  inlineSuggestEnabled: boolean;  // VS Code's editor.inlineSuggest.enabled
  language?: { id: string; enabled: boolean };  // the active editor's
  lastOutcome?: string;         // what happened to the last completion request
}

export type Severity = 'ok' | 'busy' | 'warning' | 'error';

export interface StatusView {
  text: string;     // with $(icon) codicons
  reason: string;   // one sentence: why completions do or do not appear
  tooltip: string;  // reason + details, one per line
  severity: Severity;
}

// A short name for the model: the server describes a loaded one as "SmolLM2-135M-Instruct
// (llama, local, cpu)" and a loading one by its path ("/m/SmolLM2-135M.Q4_1.gguf").
export function modelLabel(model: string | undefined): string {
  if (!model) return '';
  const base = model.replace(/\s*\([^()]*\)\s*$/, '').split(/[\\/]/).pop() ?? model;
  return base.replace(/\.gguf$/i, '');
}

function indexingText(ix: IndexingStatus): string {
  return ix.percentage !== undefined ? `indexing ${Math.round(ix.percentage)}%` : 'indexing';
}

export function renderStatus(s: StatusInputs): StatusView {
  const { text, reason, severity } = headline(s);
  const lines = [`moecode: ${reason}`];
  if (s.server?.model) lines.push(`Model: ${s.server.model}${s.server.backend ? ` (${s.server.backend})` : ''}`);
  const ix = s.server?.indexing ?? s.indexing;
  if (ix?.active) lines.push(`Indexing: ${ix.message || 'in progress'}`);
  if (s.server?.message && s.server.state !== 'ready') lines.push(`Server: ${s.server.message}`);
  if (s.lastOutcome) lines.push(`Last completion: ${s.lastOutcome}`);
  if (s.lastError) lines.push(`Last error: ${s.lastError}`);
  lines.push('Click for details.');
  return { text, reason, tooltip: lines.join('\n'), severity };
}

function headline(s: StatusInputs): { text: string; reason: string; severity: Severity } {
  switch (s.phase) {
    case 'notFound':
      return {
        text: '$(error) moecode: not found',
        reason: s.phaseDetail ?? 'the moecode binary was not found; set moecode.path',
        severity: 'error',
      };
    case 'startFailed':
      return {
        text: '$(error) moecode: failed to start',
        reason: `the server did not start${s.phaseDetail ? `: ${s.phaseDetail}` : ''}; run "moecode: Restart server" after fixing it`,
        severity: 'error',
      };
    case 'restarting': {
      const n = s.crashes ?? 1;
      const when = s.restartInMs !== undefined ? ` in ${Math.max(1, Math.round(s.restartInMs / 1000))} s` : '';
      return {
        text: `$(warning) moecode: crashed, restarting${n > 1 ? ` (${n})` : ''}`,
        reason: `the server crashed${s.phaseDetail ? ` (${s.phaseDetail})` : ''}${n > 1 ? `, ${n} times in a row` : ''}; restarting it${when}`,
        severity: 'error',
      };
    }
    case 'stopped':
      return { text: '$(circle-slash) moecode: stopped', reason: 'the server is stopped; run "moecode: Restart server"', severity: 'warning' };
    case 'starting':
      return { text: '$(loading~spin) moecode: starting', reason: 'the server is starting', severity: 'busy' };
    case 'running':
      break;
  }
  if (!s.enabled) {
    return { text: '$(debug-pause) moecode: paused', reason: 'completions are paused (moecode.enable is off); run "moecode: Toggle (pause) completions"', severity: 'warning' };
  }
  if (!s.inlineSuggestEnabled) {
    return { text: '$(circle-slash) moecode: inline suggestions off', reason: "VS Code's editor.inlineSuggest.enabled is off, so no ghost text is shown", severity: 'warning' };
  }
  const st = s.server;
  if (st?.state === 'noModel') {
    return { text: '$(warning) moecode: no model', reason: `no model is loaded${st.message ? `: ${st.message}` : ''}; set moecode.model or run scripts/setup`, severity: 'warning' };
  }
  if (st?.state === 'error') {
    return { text: '$(error) moecode: error', reason: `the server reports an error${st.message ? `: ${st.message}` : ''}`, severity: 'error' };
  }
  if (s.language && !s.language.enabled) {
    return { text: `$(circle-slash) moecode: off for ${s.language.id}`, reason: `completions are off for ${s.language.id} (moecode.enabledLanguages)`, severity: 'warning' };
  }
  const ix = st?.indexing ?? s.indexing;
  if (ix?.active) {
    return { text: `$(sync~spin) moecode: ${indexingText(ix)}`, reason: 'the workspace is being indexed; completions use the current file only until it ends', severity: 'busy' };
  }
  if (st?.state === 'loading') {
    const m = modelLabel(st.model);
    return { text: `$(loading~spin) moecode: loading${m ? ` ${m}` : ''}`, reason: 'the model is loading', severity: 'busy' };
  }
  const m = modelLabel(st?.model);
  return { text: `$(check) moecode: ${m ? `${m}${st?.backend ? ` · ${st.backend}` : ''}` : 'ready'}`, reason: 'ready', severity: 'ok' };
}

// renderStatus: the words and severity for every reason a completion may not appear.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { modelLabel, renderStatus, type StatusInputs } from '../src/status_model';

const base: StatusInputs = {
  phase: 'running',
  enabled: true,
  inlineSuggestEnabled: true,
  server: { state: 'ready', model: 'SmolLM2-135M-Instruct (llama, local, cpu)', backend: 'cpu', message: '' },
};

function view(change: Partial<StatusInputs>) {
  return renderStatus({ ...base, ...change });
}

test('ready: model and backend', () => {
  const v = view({});
  assert.equal(v.text, '$(check) moecode: SmolLM2-135M-Instruct · cpu');
  assert.equal(v.severity, 'ok');
  assert.match(v.tooltip, /Model: SmolLM2-135M-Instruct \(llama, local, cpu\) \(cpu\)/);
});

test('each reason has its own text, in priority order', () => {
  const cases: [Partial<StatusInputs>, RegExp, string][] = [
    [{ phase: 'notFound', phaseDetail: 'moecode.path is set to x' }, /not found/, 'error'],
    [{ phase: 'startFailed', phaseDetail: 'exit code 2' }, /failed to start/, 'error'],
    [{ phase: 'restarting', crashes: 3, restartInMs: 4000, phaseDetail: 'killed by SIGKILL' }, /crashed, restarting \(3\)/, 'error'],
    [{ phase: 'starting' }, /starting/, 'busy'],
    [{ phase: 'stopped' }, /stopped/, 'warning'],
    [{ enabled: false }, /paused/, 'warning'],
    [{ inlineSuggestEnabled: false }, /inline suggestions off/, 'warning'],
    [{ server: { state: 'noModel', message: '' } }, /no model/, 'warning'],
    [{ server: { state: 'error', message: 'bad GGUF' } }, /moecode: error/, 'error'],
    [{ language: { id: 'python', enabled: false } }, /off for python/, 'warning'],
    [{ indexing: { active: true, message: 'x', percentage: 41.6 } }, /indexing 42%/, 'busy'],
    [{ server: { state: 'ready', model: 'm', indexing: { active: true, message: 'y' } } }, /moecode: indexing$/, 'busy'],
    [{ server: { state: 'loading', model: '/models/qwen.Q4_K.gguf' } }, /loading qwen\.Q4_K/, 'busy'],
  ];
  for (const [change, text, severity] of cases) {
    const v = view(change);
    assert.match(v.text, text, JSON.stringify(change));
    assert.equal(v.severity, severity, JSON.stringify(change));
    assert.ok(v.reason.length > 0);
    assert.ok(v.tooltip.startsWith(`moecode: ${v.reason}`));
  }
});

test('the reasons say what to do', () => {
  assert.match(view({ phase: 'notFound', phaseDetail: 'set moecode.path' }).reason, /moecode\.path/);
  assert.match(view({ enabled: false }).reason, /Toggle/);
  assert.match(view({ server: { state: 'noModel' } }).reason, /moecode\.model/);
  assert.match(view({ language: { id: 'go', enabled: false } }).reason, /moecode\.enabledLanguages/);
  assert.match(view({ phase: 'restarting', crashes: 1, restartInMs: 2000 }).reason, /restarting it in 2 s/);
});

test('crashed outranks paused; paused outranks no model; disabled language outranks indexing', () => {
  assert.match(view({ phase: 'restarting', enabled: false }).text, /crashed/);
  assert.match(view({ enabled: false, server: { state: 'noModel' } }).text, /paused/);
  assert.match(view({ language: { id: 'c', enabled: false }, indexing: { active: true } }).text, /off for c/);
});

test('the last error and the last outcome go to the tooltip', () => {
  const v = view({ lastError: 'completion failed: boom', lastOutcome: 'failed' });
  assert.match(v.tooltip, /Last error: completion failed: boom/);
  assert.match(v.tooltip, /Last completion: failed/);
});

test('modelLabel', () => {
  assert.equal(modelLabel('SmolLM2-135M-Instruct (llama, local, cpu)'), 'SmolLM2-135M-Instruct');
  assert.equal(modelLabel('/a/b/qwen2.5-coder.Q4_K_M.gguf'), 'qwen2.5-coder.Q4_K_M');
  assert.equal(modelLabel(undefined), '');
});

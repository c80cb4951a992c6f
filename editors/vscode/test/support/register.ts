// Makes `require('vscode')` load the stand-in (vscode_stub.ts); imported first by the tests that
// load extension code.
import Module = require('node:module');

const stub = require.resolve('./vscode_stub');
const m = Module as unknown as { _resolveFilename(request: string, ...rest: unknown[]): string };
const resolve = m._resolveFilename;
m._resolveFilename = function (request: string, ...rest: unknown[]): string {
  if (request === 'vscode') return stub;
  return resolve.call(this, request, ...rest);
};

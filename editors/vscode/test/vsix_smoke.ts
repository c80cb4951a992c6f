// Run by scripts/ci.sh after packaging: activates the extension from an unpacked .vsix
// (argv[2]: the folder holding extension/) against the real server, and gets a completion, so
// the package is known to carry every runtime file it needs.
import * as path from 'node:path';
import { activate, inlineProvider, kBinary, requireBinary, scriptFile, stub, vscode } from './support/harness';

async function main(): Promise<void> {
  requireBinary();
  const main = path.resolve(process.argv[2], 'extension/out/src/extension.js');
  const s = await activate({ path: kBinary, args: ['--scripted-generator', scriptFile({ fallback: 'return 42' })] }, undefined, main);
  const loaded = Object.keys(require.cache).filter((f) => f.includes('vscode-languageclient'));
  if (!loaded.every((f) => f.startsWith(path.resolve(process.argv[2])))) throw new Error(`vscode-languageclient was loaded from outside the package: ${loaded[0]}`);
  if (!s.api.client.running) throw new Error(`the packaged extension did not start the server: ${s.api.status.view.reason}`);
  const doc = stub.openDocument(vscode.Uri.file('/work/vsix.py'), 'python', 'def answer():\n    ');
  const r = (await inlineProvider().provideInlineCompletionItems(doc, new vscode.Position(1, 4), { triggerKind: 0 }, new vscode.CancellationTokenSource().token)) as { items: { insertText: string }[] } | null;
  await s.close();
  if (r?.items[0]?.insertText !== 'return 42') throw new Error(`the packaged extension got no completion: ${JSON.stringify(r)}`);
  console.log(`vsix smoke: the packaged extension started ${kBinary} and completed '${r.items[0].insertText}' (${loaded.length} vscode-languageclient modules from the package)`);
}

main().catch((e: unknown) => {
  console.error(`vsix smoke: ${e instanceof Error ? e.stack : String(e)}`);
  process.exit(1);
});

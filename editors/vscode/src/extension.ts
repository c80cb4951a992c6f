// The extension's entry points: activate() puts the parts together and starts the server;
// deactivate() stops it. Nothing else lives here.
import * as vscode from 'vscode';
import { MoecodeClient, settings } from './client';
import { registerCommands, type CommandContext } from './commands';
import { ReadonlyDocuments } from './context_doc';
import { InlineCompletions } from './inline';
import { StatusBar } from './status';

// What activate() returns: the parts, for other extensions and the tests.
export type MoecodeApi = CommandContext & { ready: Promise<void> };

let api: MoecodeApi | undefined;

export function activate(context: vscode.ExtensionContext): MoecodeApi {
  const output = vscode.window.createOutputChannel('moecode', { log: true });
  const status = new StatusBar('moecode.showStatus');
  let client: MoecodeClient | undefined;
  const inline = new InlineCompletions({
    settings,
    serverReady: () => client?.running ?? false,
    outcome: (text, error) => status.update(error ? { lastOutcome: text, lastError: error } : { lastOutcome: text }),
  });
  client = new MoecodeClient(output, status, inline);
  const docs = new ReadonlyDocuments();
  const ctx: CommandContext = { client, status, inline, docs, output };
  context.subscriptions.push(output, status, docs, ...registerCommands(ctx), { dispose: () => void client?.dispose() });
  api = { ...ctx, ready: client.start() };
  return api;
}

export async function deactivate(): Promise<void> {
  const a = api;
  api = undefined;
  await a?.client.dispose();
}

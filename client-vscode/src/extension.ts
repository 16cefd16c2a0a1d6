/**
 * The dockpin extension: starts `dockpin lsp` (bundled, run by a Python 3.11+
 * interpreter, or an installed executable) and connects it to VS Code with
 * vscode-languageclient.
 */

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as vscode from 'vscode';
import {
  ExecuteCommandRequest,
  LanguageClient,
  type LanguageClientOptions,
  RevealOutputChannelOn,
  type ServerOptions,
  State,
  TransportKind,
} from 'vscode-languageclient/node';

import {
  bundledServerCommand,
  describeAttempt,
  discoverInterpreter,
  formatVersion,
  installedServerCommand,
  interpreterFromPythonExtension,
  noPythonMessage,
  type PythonExtensionApi,
  type ServerCommand,
  sourceName,
  type Variables,
} from './interpreter';
import { ProgressTracker } from './progress';
import { execRunner } from './run';
import { RESTART_KEYS, type ServerSettings, toServerSettings } from './settings';

const SECTION = 'dockpin';
const SERVER_PIN_ALL = 'dockpin.pinAll';
const PYTHON_EXTENSION = 'ms-python.python';
const RESOLVING_TEXT = '$(sync~spin) dockpin: resolving';

const DOCUMENT_SELECTOR = [
  { scheme: 'file', language: 'dockerfile' },
  { scheme: 'untitled', language: 'dockerfile' },
];

function variables(): Variables {
  return {
    workspaceFolder: vscode.workspace.workspaceFolders?.[0]?.uri.fsPath,
    userHome: os.homedir(),
    env: process.env,
  };
}

class Dockpin implements vscode.Disposable {
  private client: LanguageClient | undefined;
  private transition: Promise<void> = Promise.resolve();
  private serverSource: string | undefined;
  private readonly output: vscode.OutputChannel;
  private readonly status: vscode.StatusBarItem;
  private readonly progress: ProgressTracker;
  private lastProblems = '';
  private readonly disposables: vscode.Disposable[] = [];

  constructor(private readonly context: vscode.ExtensionContext) {
    this.output = vscode.window.createOutputChannel('dockpin');
    this.status = vscode.window.createStatusBarItem('dockpin.progress', vscode.StatusBarAlignment.Left, 10);
    this.status.name = 'dockpin';
    this.status.text = RESOLVING_TEXT;
    this.status.command = 'dockpin.showOutput';
    this.progress = new ProgressTracker((state) => {
      if (state.busy) {
        this.status.tooltip = state.detail;
        this.status.show();
      } else {
        this.status.hide();
      }
    });
    this.disposables.push(this.output, this.status);
  }

  log(message: string): void {
    this.output.appendLine(`[${new Date().toISOString()}] ${message}`);
  }

  /** The `{rules, registry}` the server reads, for one resource's scope. */
  serverSettings(scope?: vscode.Uri): ServerSettings {
    const config = vscode.workspace.getConfiguration(SECTION, scope);
    const { settings, problems } = toServerSettings((key) => config.get(key));
    const joined = problems.join('\n');
    if (joined !== this.lastProblems) {
      this.lastProblems = joined;
      for (const problem of problems) {
        this.log(`settings: ${problem}`);
      }
    }
    return settings;
  }

  private async pythonExtensionInterpreter(): Promise<string[] | undefined> {
    const extension = vscode.extensions.getExtension<PythonExtensionApi>(PYTHON_EXTENSION);
    if (extension === undefined) {
      return undefined;
    }
    try {
      const api = extension.isActive ? extension.exports : await extension.activate();
      const resource = vscode.window.activeTextEditor?.document.uri ?? vscode.workspace.workspaceFolders?.[0]?.uri;
      return await interpreterFromPythonExtension(api, resource);
    } catch (error) {
      this.log(`the Python extension did not name an interpreter: ${String(error)}`);
      return undefined;
    }
  }

  /** The server command, or undefined after telling the user why not. */
  private async serverCommand(): Promise<ServerCommand | undefined> {
    const config = vscode.workspace.getConfiguration(SECTION);
    const vars = variables();
    const installed = installedServerCommand(config.get('server.path'), vars);
    if (installed !== undefined) {
      const check = await execRunner()(installed.command, ['--version']);
      if (check.code !== 0) {
        const why = check.error ?? `exited with code ${check.code}: ${check.stderr.trim() || check.stdout.trim()}`;
        this.fail(`dockpin: "dockpin.server.path" is ${installed.command}, which could not be run (${why}). Fix or clear the setting to use the bundled server.`);
        return undefined;
      }
      this.log(`using ${check.stdout.trim() || installed.command} from dockpin.server.path`);
      this.serverSource = 'dockpin.server.path';
      return installed;
    }

    const libs = this.context.asAbsolutePath('bundled/libs');
    if (!fs.existsSync(`${libs}/dockpin/__init__.py`)) {
      this.fail(`dockpin: the bundled server is missing from ${libs}. Reinstall the extension, or set "dockpin.server.path" to an installed dockpin.`);
      return undefined;
    }
    const discovery = await discoverInterpreter({
      setting: config.get('interpreter'),
      pythonExtension: () => this.pythonExtensionInterpreter(),
      run: execRunner(),
      vars,
    });
    for (const attempt of discovery.attempts) {
      this.log(`interpreter: ${describeAttempt(attempt)}`);
    }
    if (!discovery.ok) {
      this.fail(noPythonMessage(discovery), true);
      return undefined;
    }
    this.log(
      `using Python ${formatVersion(discovery.version)}: ${discovery.candidate.command.join(' ')} (from ${sourceName(discovery.candidate.source)})`,
    );
    this.serverSource = discovery.candidate.source;
    return bundledServerCommand(discovery.candidate.command, libs, process.env.PYTHONPATH);
  }

  private fail(message: string, offerPython = false): void {
    this.log(message);
    const actions = ['Open Settings', 'Show Output', ...(offerPython ? ['Download Python'] : [])];
    void vscode.window.showErrorMessage(message, ...actions).then((choice) => {
      if (choice === 'Open Settings') {
        void vscode.commands.executeCommand('workbench.action.openSettings', '@ext:dockpin.dockpin');
      } else if (choice === 'Show Output') {
        this.output.show(true);
      } else if (choice === 'Download Python') {
        void vscode.env.openExternal(vscode.Uri.parse('https://www.python.org/downloads/'));
      }
    });
  }

  private clientOptions(): LanguageClientOptions {
    return {
      documentSelector: DOCUMENT_SELECTOR,
      synchronize: { configurationSection: SECTION },
      initializationOptions: () => this.serverSettings(),
      outputChannel: this.output,
      traceOutputChannel: this.output,
      revealOutputChannelOn: RevealOutputChannelOn.Never,
      middleware: {
        workspace: {
          configuration: async (params, token, next) => {
            const answer = await next(params, token);
            if (!Array.isArray(answer)) {
              return answer;
            }
            return params.items.map((item, index) =>
              item.section === SECTION
                ? this.serverSettings(item.scopeUri ? vscode.Uri.parse(item.scopeUri) : undefined)
                : answer[index],
            );
          },
        },
        handleWorkDoneProgress: (token, params, next) => {
          this.progress.handle(token, params);
          next(token, params);
        },
      },
    };
  }

  /** Serialise start/stop/restart. */
  private queue(step: () => Promise<void>): Promise<void> {
    this.transition = this.transition.then(step, step);
    return this.transition;
  }

  start(): Promise<void> {
    return this.queue(() => this.doStart());
  }

  restart(): Promise<void> {
    return this.queue(async () => {
      await this.doStop();
      await this.doStart();
    });
  }

  stop(): Promise<void> {
    return this.queue(() => this.doStop());
  }

  private async doStart(): Promise<void> {
    if (this.client !== undefined) {
      return;
    }
    const command = await this.serverCommand();
    if (command === undefined) {
      return;
    }
    this.log(`starting ${command.description}`);
    const serverOptions: ServerOptions = {
      command: command.command,
      args: command.args,
      transport: TransportKind.stdio,
      options: {
        env: { ...process.env, ...command.env },
        cwd: vscode.workspace.workspaceFolders?.[0]?.uri.fsPath ?? os.homedir(),
      },
    };
    const client = new LanguageClient('dockpin', 'dockpin', serverOptions, this.clientOptions());
    client.onDidChangeState((event) => {
      if (event.newState !== State.Running) {
        this.progress.clear();
      }
    });
    this.client = client;
    try {
      await client.start();
    } catch (error) {
      this.client = undefined;
      this.fail(`dockpin: the language server did not start (${command.description}): ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  private async doStop(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    this.progress.clear();
    if (client === undefined) {
      return;
    }
    try {
      if (client.isRunning()) {
        await client.stop(5_000);
      }
    } catch (error) {
      this.log(`stopping the server: ${String(error)}`);
    }
    try {
      await client.dispose(2_000);
    } catch {
      // already gone
    }
  }

  async pinAllInFile(): Promise<void> {
    const editor = vscode.window.activeTextEditor;
    if (editor === undefined || editor.document.languageId !== 'dockerfile') {
      void vscode.window.showInformationMessage('dockpin: open a Dockerfile to pin its images.');
      return;
    }
    await this.transition;
    const client = this.client;
    if (client === undefined || !client.isRunning()) {
      this.fail('dockpin: the language server is not running; see the output for why.');
      return;
    }
    const uri = client.code2ProtocolConverter.asUri(editor.document.uri);
    const result = (await client.sendRequest(ExecuteCommandRequest.type, {
      command: SERVER_PIN_ALL,
      arguments: [uri],
    })) as { applied?: boolean; reason?: string } | null;
    if (result && result.applied === false) {
      void vscode.window.showInformationMessage(`dockpin: ${result.reason ?? 'nothing was pinned'}.`);
    }
  }

  register(): void {
    const { subscriptions } = this.context;
    subscriptions.push(
      this,
      vscode.commands.registerCommand('dockpin.pinAllInFile', () => this.pinAllInFile()),
      vscode.commands.registerCommand('dockpin.restartServer', () => this.restart()),
      vscode.commands.registerCommand('dockpin.showOutput', () => this.output.show(true)),
      vscode.workspace.onDidChangeConfiguration((event) => {
        if (RESTART_KEYS.some((key) => event.affectsConfiguration(key))) {
          this.log('interpreter or server path changed: restarting');
          void this.restart();
        }
      }),
    );
    const python = vscode.extensions.getExtension<PythonExtensionApi & { environments?: { onDidChangeActiveEnvironmentPath?: vscode.Event<unknown> } }>(PYTHON_EXTENSION);
    if (python?.isActive) {
      const event = python.exports?.environments?.onDidChangeActiveEnvironmentPath;
      if (typeof event === 'function') {
        subscriptions.push(
          event(() => {
            if (this.serverSource === 'python-extension') {
              this.log('the selected Python interpreter changed: restarting');
              void this.restart();
            }
          }),
        );
      }
    }
  }

  dispose(): void {
    for (const disposable of this.disposables) {
      disposable.dispose();
    }
  }
}

let instance: Dockpin | undefined;

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  instance = new Dockpin(context);
  instance.register();
  await instance.start();
}

export async function deactivate(): Promise<void> {
  await instance?.stop();
  instance = undefined;
}

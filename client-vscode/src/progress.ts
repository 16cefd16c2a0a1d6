/**
 * Tracks the server's work-done progress (`$/progress` begin/report/end per
 * token) so a status-bar item can say "resolving" while any is running.
 * vscode-languageclient 9 routes `$/progress` for tokens the server created
 * (window/workDoneProgress/create) through `middleware.handleWorkDoneProgress`;
 * a plain `client.onNotification('$/progress')` would replace the client's own
 * progress routing. No `vscode` import.
 */

export interface ProgressValue {
  kind: 'begin' | 'report' | 'end';
  title?: string;
  message?: string;
  percentage?: number;
}

export interface ProgressState {
  busy: boolean;
  /** Shown as the tooltip: the newest running task's title and message. */
  detail: string;
}

export class ProgressTracker {
  private readonly active = new Map<string, { title: string; message?: string; percentage?: number }>();

  constructor(private readonly onChange: (state: ProgressState) => void) {}

  handle(token: string | number, value: ProgressValue): void {
    const key = String(token);
    if (value.kind === 'begin') {
      this.active.set(key, { title: value.title ?? 'working', message: value.message, percentage: value.percentage });
    } else if (value.kind === 'report') {
      const entry = this.active.get(key);
      if (entry === undefined) {
        return;
      }
      entry.message = value.message ?? entry.message;
      entry.percentage = value.percentage ?? entry.percentage;
    } else if (value.kind === 'end') {
      if (!this.active.delete(key)) {
        return;
      }
    } else {
      return;
    }
    this.onChange(this.state());
  }

  /** The server went away: whatever it had running is over. */
  clear(): void {
    if (this.active.size > 0) {
      this.active.clear();
      this.onChange(this.state());
    }
  }

  state(): ProgressState {
    const entries = [...this.active.values()];
    const last = entries[entries.length - 1];
    if (last === undefined) {
      return { busy: false, detail: '' };
    }
    const parts = [last.title];
    if (last.message) {
      parts.push(last.message);
    }
    if (last.percentage !== undefined) {
      parts.push(`${last.percentage}%`);
    }
    const more = entries.length > 1 ? ` (+${entries.length - 1} more)` : '';
    return { busy: true, detail: `dockpin: ${parts.join(' - ')}${more}` };
  }
}

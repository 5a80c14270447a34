// Driving interactive commands under a real terminal with tmux (its own
// server socket per session, so nothing touches a user's tmux).
import * as fs from 'node:fs';
import { run, runSync } from './proc';
import { sleep } from './wait';

const EXIT_MARK = '__harness_exit=';

function shellQuote(s: string): string {
  return /^[A-Za-z0-9_\-./:=@,+]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

export class TmuxSession {
  private constructor(
    readonly socket: string,
    readonly name: string,
  ) {}

  /**
   * Starts `argv` in a detached session of the given size with `env` set.
   * The command runs under a small sh wrapper that prints its exit status
   * into the pane and stays alive: tmux started from node does not always
   * reap the pane's process (it lingers as a zombie with no status), so the
   * pane's own exit status cannot be trusted.
   */
  static async start(
    socket: string,
    name: string,
    argv: readonly string[],
    env: NodeJS.ProcessEnv,
    size = { cols: 160, rows: 40 },
  ): Promise<TmuxSession> {
    // Only what a client needs: tmux gives the pane its own TERM and a clean environment otherwise.
    const envPart = Object.entries(env)
      .filter(([k, v]) => v !== undefined && (/^(DOCKER_|BERTH_)/.test(k) || k === 'PATH' || k === 'HOME'))
      .map(([k, v]) => `${k}=${shellQuote(v!)}`);
    const wrapper = `"$@"; rc=$?; printf '\\n${EXIT_MARK}%d\\n' "$rc"; exec sleep 86400`;
    const cmd = ['exec', 'env', ...envPart, 'sh', '-c', shellQuote(wrapper), 'sh', ...argv.map(shellQuote)].join(' ');
    const r = await run('tmux', ['-S', socket, '-f', '/dev/null', 'new-session', '-d', '-s', name, '-x', String(size.cols), '-y', String(size.rows), cmd]);
    if (r.code !== 0) throw new Error(`tmux new-session failed: ${r.stderr}`);
    return new TmuxSession(socket, name);
  }

  async tmux(...args: string[]): Promise<string> {
    const r = await run('tmux', ['-S', this.socket, ...args]);
    if (r.code !== 0) throw new Error(`tmux ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  }

  /** Types literal text (no key names), then optionally Enter. */
  async type(text: string, enter = true): Promise<void> {
    await this.tmux('send-keys', '-t', this.name, '-l', text);
    if (enter) await this.tmux('send-keys', '-t', this.name, 'Enter');
  }

  /** Sends key names (e.g. 'C-p', 'C-q', 'C-d', 'Enter'), one send-keys per key. */
  async keys(...keys: string[]): Promise<void> {
    for (const k of keys) await this.tmux('send-keys', '-t', this.name, k);
  }

  /** The whole pane including scrollback, lines joined. */
  async capture(): Promise<string> {
    return this.tmux('capture-pane', '-p', '-J', '-S', '-', '-t', this.name);
  }

  /** The command's exit status once it has exited (from the wrapper's marker), else null. */
  async exitStatus(): Promise<number | null> {
    const m = new RegExp(`^${EXIT_MARK}(\\d+)\\s*$`, 'm').exec(await this.capture());
    return m ? Number(m[1]) : null;
  }

  async paneSize(): Promise<{ rows: number; cols: number }> {
    const [rows, cols] = (await this.tmux('display-message', '-p', '-t', this.name, '#{pane_height} #{pane_width}')).trim().split(' ');
    return { rows: Number(rows), cols: Number(cols) };
  }

  /** Waits until the pane text matches; returns the text. */
  async waitFor(re: RegExp, timeoutMs = 10_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    let text = '';
    while (Date.now() < deadline) {
      text = await this.capture();
      if (re.test(text)) return text;
      await sleep(100);
    }
    throw new Error(`tmux pane never matched ${re}; pane:\n${text}`);
  }

  /** Waits until the command in the pane has exited; returns its exit status. */
  async waitExit(timeoutMs = 10_000): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const status = await this.exitStatus();
      if (status !== null) return status;
      await sleep(100);
    }
    throw new Error(`command in tmux pane did not exit within ${timeoutMs} ms; pane:\n${await this.capture()}`);
  }

  async kill(): Promise<void> {
    await run('tmux', ['-S', this.socket, 'kill-session', '-t', this.name]);
  }

  /** Stops the tmux server behind a socket (sync: usable from cleanup). */
  static killServer(socket: string): void {
    if (fs.existsSync(socket)) runSync('tmux', ['-S', socket, 'kill-server'], { timeoutMs: 5000 });
  }
}

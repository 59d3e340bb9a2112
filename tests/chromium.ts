/**
 * Drives headless Chromium over the DevTools protocol (a WebSocket from Deno) for the report
 * test: open a page, collect console errors and uncaught exceptions, evaluate expressions,
 * take a screenshot.
 */

/** Path of the Chromium binary, or null when it is not installed. */
export function findChromium(): string | null {
  for (const p of [Deno.env.get("CHROMIUM"), "/usr/bin/chromium", "/usr/bin/chromium-browser"]) {
    if (!p) continue;
    try {
      if (Deno.statSync(p).isFile) return p;
    } catch { /* not here */ }
  }
  return null;
}

interface Pending {
  resolve: (v: Record<string, unknown>) => void;
  reject: (e: Error) => void;
}

/** One headless browser with one page attached. */
export class HeadlessPage {
  /** Console errors, uncaught exceptions and error log entries seen so far. */
  readonly errors: string[] = [];
  #child: Deno.ChildProcess;
  #ws: WebSocket;
  #profile: string;
  #session = "";
  #nextId = 1;
  #pending = new Map<number, Pending>();
  #waiters: { method: string; resolve: () => void }[] = [];

  private constructor(child: Deno.ChildProcess, ws: WebSocket, profile: string) {
    this.#child = child;
    this.#ws = ws;
    this.#profile = profile;
    ws.onmessage = (ev) => this.#onMessage(JSON.parse(String(ev.data)));
  }

  /** Starts Chromium with a fresh profile and attaches to a blank page. */
  static async launch(binary: string): Promise<HeadlessPage> {
    const profile = await Deno.makeTempDir({ prefix: "arb-chromium-" });
    const child = new Deno.Command(binary, {
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-quic",
        "--hide-scrollbars",
        `--user-data-dir=${profile}`,
        "--remote-debugging-port=0",
        "--window-size=1400,1000",
        "about:blank",
      ],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    const url = await readDevToolsUrl(child.stderr);
    const ws = new WebSocket(url);
    await new Promise<void>((resolve, reject) => {
      ws.onopen = () => resolve();
      ws.onerror = () => reject(new Error(`cannot connect to ${url}`));
    });
    const page = new HeadlessPage(child, ws, profile);
    const { targetId } = await page.send("Target.createTarget", { url: "about:blank" });
    const { sessionId } = await page.send("Target.attachToTarget", { targetId, flatten: true });
    page.#session = String(sessionId);
    await page.send("Runtime.enable");
    await page.send("Log.enable");
    await page.send("Page.enable");
    return page;
  }

  /** Sends a DevTools command (to the page session once attached) and awaits its result. */
  send(method: string, params: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
    const id = this.#nextId++;
    const msg: Record<string, unknown> = { id, method, params };
    if (this.#session) msg.sessionId = this.#session;
    this.#ws.send(JSON.stringify(msg));
    return new Promise((resolve, reject) => this.#pending.set(id, { resolve, reject }));
  }

  /** Navigates and waits for the load event. */
  async goto(url: string): Promise<void> {
    const loaded = new Promise<void>((resolve) =>
      this.#waiters.push({ method: "Page.loadEventFired", resolve })
    );
    await this.send("Page.navigate", { url });
    await loaded;
  }

  /** Evaluates an expression in the page and returns its JSON value. */
  async evaluate<T>(expression: string): Promise<T> {
    const r = await this.send("Runtime.evaluate", { expression, returnByValue: true });
    const result = r.result as { value?: T };
    if (r.exceptionDetails) throw new Error(`page threw: ${JSON.stringify(r.exceptionDetails)}`);
    return result.value as T;
  }

  /** Polls `expression` until it is truthy, or fails after `timeoutMs`. */
  async waitFor(expression: string, timeoutMs = 60_000): Promise<void> {
    const end = Date.now() + timeoutMs;
    while (!(await this.evaluate<boolean>(expression))) {
      if (Date.now() > end) throw new Error(`timed out waiting for ${expression}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** A PNG screenshot of the full page. */
  async screenshot(): Promise<Uint8Array> {
    const r = await this.send("Page.captureScreenshot", {
      format: "png",
      captureBeyondViewport: true,
    });
    return Uint8Array.from(atob(String(r.data)), (c) => c.charCodeAt(0));
  }

  /** Closes the browser and removes its profile. */
  async close(): Promise<void> {
    this.#session = "";
    await Promise.race([
      this.send("Browser.close").catch(() => {}),
      new Promise((r) => setTimeout(r, 2000)),
    ]);
    this.#ws.close();
    try {
      this.#child.kill("SIGKILL");
    } catch { /* already gone */ }
    await this.#child.status;
    await this.#child.stderr.cancel().catch(() => {});
    await Deno.remove(this.#profile, { recursive: true }).catch(() => {});
  }

  #onMessage(msg: Record<string, unknown>) {
    if (typeof msg.id === "number") {
      const p = this.#pending.get(msg.id);
      this.#pending.delete(msg.id);
      if (!p) return;
      if (msg.error) p.reject(new Error(`${JSON.stringify(msg.error)}`));
      else p.resolve((msg.result ?? {}) as Record<string, unknown>);
      return;
    }
    const params = (msg.params ?? {}) as Record<string, unknown>;
    if (msg.method === "Runtime.consoleAPICalled" && params.type === "error") {
      const args = (params.args as { value?: unknown; description?: string }[]) ?? [];
      this.errors.push(`console.error: ${args.map((a) => a.value ?? a.description).join(" ")}`);
    } else if (msg.method === "Runtime.exceptionThrown") {
      const d = params.exceptionDetails as { text?: string; exception?: { description?: string } };
      this.errors.push(`exception: ${d.exception?.description ?? d.text}`);
    } else if (msg.method === "Log.entryAdded") {
      const e = params.entry as { level: string; text: string; url?: string };
      if (e.level === "error") this.errors.push(`log: ${e.text} ${e.url ?? ""}`);
    }
    this.#waiters = this.#waiters.filter((w) => {
      if (w.method !== msg.method) return true;
      w.resolve();
      return false;
    });
  }
}

async function readDevToolsUrl(stderr: ReadableStream<Uint8Array>): Promise<string> {
  const reader = stderr.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  const timeout = setTimeout(() => reader.cancel(), 30_000);
  try {
    while (true) {
      const { value, done } = await reader.read();
      if (done) break;
      text += value;
      const m = text.match(/DevTools listening on (ws:\/\/\S+)/);
      if (m) {
        // Keep draining stderr so Chromium never blocks on a full pipe.
        (async () => {
          while (!(await reader.read().catch(() => ({ done: true }))).done);
        })();
        return m[1];
      }
    }
  } finally {
    clearTimeout(timeout);
  }
  throw new Error(`Chromium did not print its DevTools address; stderr:\n${text}`);
}

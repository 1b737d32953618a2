// A small driver for Debian's Chromium over the Chrome DevTools Protocol (a WebSocket; Node's
// own, behind --experimental-websocket on Node 20): the handful of page operations the report's
// browser test needs — open, evaluate, wait, screenshot, and the console, error and request
// events. It replaces a browser-automation package from the npm registry, so the test needs
// nothing but Chromium and Node.
//
//   const browser = await launch({ executablePath, args, timeout });
//   const page = await browser.newPage({ viewport: { width, height } });
//   page.on('console' | 'pageerror' | 'crash' | 'request' | 'requestfailed', handler);
//   const response = await page.goto(url, { timeout });   // response.status()
//   await page.evaluate(fn, arg); await page.waitForFunction(fn, arg, { timeout });
//   await page.waitForRequest(predicate, { timeout }); await page.screenshot({ path });
import { spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// One WebSocket to the browser; commands are matched to answers by id, events go to the
// session (page) they name.
class Connection {
  constructor(socket) {
    this.socket = socket;
    this.nextId = 1;
    this.pending = new Map();
    this.sessions = new Map();
    socket.addEventListener('message', (event) => this.receive(JSON.parse(event.data)));
    socket.addEventListener('close', () => {
      for (const { reject } of this.pending.values()) reject(new Error('the browser went away'));
      this.pending.clear();
    });
  }

  send(method, params = {}, sessionId = undefined) {
    const id = this.nextId++;
    this.socket.send(JSON.stringify({ id, method, params, sessionId }));
    return new Promise((resolve, reject) => this.pending.set(id, { resolve, reject, method }));
  }

  receive(message) {
    if (message.id !== undefined) {
      const waiting = this.pending.get(message.id);
      if (!waiting) return;
      this.pending.delete(message.id);
      if (message.error) {
        waiting.reject(new Error(`${waiting.method}: ${message.error.message}`));
      } else {
        waiting.resolve(message.result);
      }
    } else if (message.sessionId) {
      this.sessions.get(message.sessionId)?.emitProtocol(message.method, message.params);
    }
  }
}

const request = (url) => ({ url: () => url });

class Page extends EventEmitter {
  constructor(connection, targetId, sessionId) {
    super();
    this.connection = connection;
    this.targetId = targetId;
    this.sessionId = sessionId;
    this.protocol = new EventEmitter();
    this.urls = new Map(); // request id -> URL
  }

  send(method, params) {
    return this.connection.send(method, params, this.sessionId);
  }

  // Protocol events, turned into the page events the test listens to.
  emitProtocol(method, params) {
    this.protocol.emit(method, params);
    if (method === 'Runtime.consoleAPICalled') {
      const text = params.args.map((a) => (a.value !== undefined ? String(a.value) : a.description ?? '')).join(' ');
      const frame = params.stackTrace?.callFrames?.[0];
      const type = params.type === 'warning' ? 'warning' : params.type;
      this.emit('console', {
        type: () => type,
        text: () => text,
        location: () => (frame ? { url: frame.url, lineNumber: frame.lineNumber } : {}),
      });
    } else if (method === 'Log.entryAdded') {
      const { level, text, url, lineNumber } = params.entry;
      const type = level === 'error' ? 'error' : level === 'warning' ? 'warning' : level;
      this.emit('console', { type: () => type, text: () => text, location: () => ({ url, lineNumber }) });
    } else if (method === 'Runtime.exceptionThrown') {
      const d = params.exceptionDetails;
      this.emit('pageerror', { message: d.exception?.description ?? d.text });
    } else if (method === 'Inspector.targetCrashed') {
      this.emit('crash');
    } else if (method === 'Network.requestWillBeSent') {
      this.urls.set(params.requestId, params.request.url);
      this.emit('request', request(params.request.url));
    } else if (method === 'Network.loadingFailed') {
      const url = this.urls.get(params.requestId) ?? '(unknown)';
      this.emit('requestfailed', { ...request(url), failure: () => ({ errorText: params.errorText }) });
    }
  }

  async start(viewport) {
    for (const domain of ['Page', 'Runtime', 'Network', 'Log', 'Inspector']) {
      await this.send(`${domain}.enable`);
    }
    await this.send('Emulation.setDeviceMetricsOverride', {
      width: viewport.width, height: viewport.height, deviceScaleFactor: 1, mobile: false,
    });
  }

  // Resolves with the first event `method` whose parameters satisfy `accept`, or rejects after
  // `timeout` ms.
  waitForProtocol(method, accept, timeout, what) {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.protocol.off(method, listener);
        reject(new Error(`timed out after ${timeout} ms waiting for ${what}`));
      }, timeout);
      const listener = (params) => {
        if (!accept(params)) return;
        clearTimeout(timer);
        this.protocol.off(method, listener);
        resolve(params);
      };
      this.protocol.on(method, listener);
    });
  }

  async goto(url, { timeout = 30_000 } = {}) {
    let status = null;
    const onResponse = (p) => {
      if (p.type === 'Document' && status === null) status = p.response.status;
    };
    this.protocol.on('Network.responseReceived', onResponse);
    const loaded = this.waitForProtocol('Page.loadEventFired', () => true, timeout, `${url} to load`);
    try {
      const navigation = await this.send('Page.navigate', { url });
      if (navigation.errorText) throw new Error(`cannot open ${url}: ${navigation.errorText}`);
      await loaded;
    } finally {
      this.protocol.off('Network.responseReceived', onResponse);
    }
    return status === null ? null : { status: () => status };
  }

  async evaluate(fn, arg) {
    const expression = `(${fn})(${arg === undefined ? '' : JSON.stringify(arg)})`;
    const r = await this.send('Runtime.evaluate', { expression, returnByValue: true, awaitPromise: true });
    if (r.exceptionDetails) {
      throw new Error(r.exceptionDetails.exception?.description ?? r.exceptionDetails.text);
    }
    return r.result.value;
  }

  async waitForFunction(fn, arg, { timeout = 30_000 } = {}) {
    const deadline = Date.now() + timeout;
    for (;;) {
      const value = await this.evaluate(fn, arg);
      if (value) return value;
      if (Date.now() > deadline) throw new Error(`timed out after ${timeout} ms waiting for ${fn}`);
      await sleep(100);
    }
  }

  waitForRequest(predicate, { timeout = 30_000 } = {}) {
    return this.waitForProtocol('Network.requestWillBeSent', (p) => predicate(request(p.request.url)),
      timeout, 'a request').then((p) => request(p.request.url));
  }

  waitForTimeout(ms) {
    return sleep(ms);
  }

  async screenshot({ path: file }) {
    const metrics = await this.send('Page.getLayoutMetrics');
    const size = metrics.cssContentSize ?? metrics.contentSize;
    const shot = await this.send('Page.captureScreenshot', {
      format: 'png',
      captureBeyondViewport: true,
      clip: { x: 0, y: 0, width: size.width, height: size.height, scale: 1 },
    });
    fs.writeFileSync(file, Buffer.from(shot.data, 'base64'));
  }

  async close() {
    this.connection.sessions.delete(this.sessionId);
    await this.connection.send('Target.closeTarget', { targetId: this.targetId });
  }
}

class Browser {
  constructor(process, connection, profile, version) {
    this.process = process;
    this.connection = connection;
    this.profile = profile;
    this.product = version;
  }

  version() {
    return this.product;
  }

  async newPage({ viewport = { width: 1280, height: 800 } } = {}) {
    const { targetId } = await this.connection.send('Target.createTarget', { url: 'about:blank' });
    const { sessionId } = await this.connection.send('Target.attachToTarget', { targetId, flatten: true });
    const page = new Page(this.connection, targetId, sessionId);
    this.connection.sessions.set(sessionId, page);
    await page.start(viewport);
    return page;
  }

  // Asks Chromium to quit and waits for it (killing it after 5 s), then removes its profile:
  // its helper processes may still be writing there for a moment, so the removal retries, and a
  // profile left in the temporary folder is not a failure of the test.
  async close() {
    const exited = new Promise((resolve) => {
      if (this.process.exitCode !== null || this.process.signalCode !== null) resolve();
      else this.process.once('exit', resolve);
    });
    this.connection.send('Browser.close').catch(() => {}); // it may be gone already
    if ((await Promise.race([exited.then(() => 'exited'), sleep(5_000)])) !== 'exited') {
      this.process.kill('SIGKILL');
      await exited;
    }
    try {
      fs.rmSync(this.profile, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
    } catch {
      // left behind in the temporary folder
    }
  }
}

// Starts Chromium with a fresh profile and a DevTools port of its choosing (it prints the
// WebSocket address on stderr), and connects.
export async function launch({ executablePath, args = [], timeout = 60_000 }) {
  if (typeof WebSocket !== 'function') {
    throw new Error('this Node.js has no WebSocket: run node with --experimental-websocket (Node 20)');
  }
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'krill-chromium-'));
  const child = spawn(executablePath,
    [...args, '--headless', '--remote-debugging-port=0', `--user-data-dir=${profile}`, 'about:blank'],
    { stdio: ['ignore', 'ignore', 'pipe'] });
  const address = await new Promise((resolve, reject) => {
    let said = '';
    const timer = setTimeout(() => reject(new Error(`Chromium did not start in ${timeout} ms:\n${said}`)), timeout);
    child.on('exit', (code) => reject(new Error(`Chromium exited (${code}) before it listened:\n${said}`)));
    child.stderr.on('data', (chunk) => {
      said += chunk;
      const found = /DevTools listening on (ws:\/\/\S+)/.exec(said);
      if (found) {
        clearTimeout(timer);
        resolve(found[1]);
      }
    });
  });
  child.stderr.resume();
  const socket = new WebSocket(address);
  await new Promise((resolve, reject) => {
    socket.addEventListener('open', resolve, { once: true });
    socket.addEventListener('error', () => reject(new Error(`cannot connect to ${address}`)), { once: true });
  });
  const connection = new Connection(socket);
  const { product } = await connection.send('Browser.getVersion');
  return new Browser(child, connection, profile, product);
}

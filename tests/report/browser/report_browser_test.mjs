// Real-browser test of `krill report`: headless Chromium (Debian's /usr/bin/chromium, driven over
// the DevTools protocol by ./cdp.mjs) opens the report of a small real study and checks that
// every chart is rendered with data points (the parameter importance and a contour per pair of
// numeric parameters included), that the settings read as lines, and that the page logs no error
// or warning; the same for `krill report --serve`; a study with a stopping rule, whose stopped
// trial's reason shows in the table of stopped trials and in its tooltip, and whose diverged
// trial's error shows in the table of failures; a study with no finished trial, which shows
// its error; and a conditional space, whose absent parameters sit at an "absent" place in the
// parallel coordinates and are counted under the slices.
//
// Run by CTest (test `report_browser`), or by hand:
//   node --experimental-websocket --test tests/report/browser/report_browser_test.mjs
//   node --experimental-websocket tests/report/browser/report_browser_test.mjs KRILL_BINARY [WORK_DIR]
// (--experimental-websocket: Node 20; later versions have WebSocket built in.)
// Environment: KRILL_BINARY (the krill program), KRILL_WORK_DIR (default: a fresh temporary folder, removed
// when every test passed), KRILL_CHROMIUM (default: /usr/bin/chromium).
//
// The page contract: `window.krillReport = { charts: {name: echartsInstance}, data: <json> }`,
// charts "history", "curves", "importance", "parallel", "slice-<param>" for each searched
// parameter, "lr", "timeline", "heatmap" when the study has two or more grid dimensions, and
// "contour-<x>-<y>" per pair of numeric parameters (up to the 4 most important); each chart with
// data has a series with at least one data point. Tables: <div id="table-failed"> and
// <div id="table-stopped">; tooltips have the class "krill-tooltip".

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

import { launch } from './cdp.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, '../../..');
const resolved = (p) => (p ? path.resolve(p) : p);
const KRILL = resolved(process.env.KRILL_BINARY || process.argv[2]);
const CHROMIUM = process.env.KRILL_CHROMIUM || '/usr/bin/chromium';
const givenWorkDir = process.env.KRILL_WORK_DIR || process.argv[3];

// The study: a grid of 2 x 3 points (so the heat map exists) and one float dimension, 6 trials.
const SEARCH = { lr: 'grid', decay_every: 'grid', momentum: 'float' };
const TRIALS = 6;
const EXPECTED_CHARTS = [
  'history', 'curves', 'importance', 'parallel',
  ...Object.keys(SEARCH).map((p) => `slice-${p}`),
  'lr', 'timeline', 'heatmap',
];
// Three numeric parameters (two grids of numbers and a float): a contour per pair.
const CONTOURS = 3;

// Its objective is the validation loss: on this easy data (3 classes) every trial reaches an
// accuracy of 1, and importances of a constant objective are all 0.
const STUDY_YAML = `# written by report_browser_test.mjs
study: browser-test
storage: study.db
data: data
validation: 0.2
objective: val_loss
workers: 1
seed: 1
sampler: grid
model:
  width: 8
training:
  optimizer: sgd
  batch: 16
  iterations: 200
  eval_every: 20
  schedule: step
  decay_factor: 0.9
search:
  lr: {type: grid, values: [0.01, 0.1]}
  decay_every: {type: grid, values: [25, 50, 100]}
  momentum: {type: float, low: 0.0, high: 0.9}
`;

// One trial whose learning rate makes the loss overflow at once: it diverges, so the study holds
// no completed trial. (A value out of range would be refused when the study file is loaded.)
const NONE_YAML = `# written by report_browser_test.mjs
study: browser-none
storage: none.db
data: data
workers: 1
trials: 1
training:
  iterations: 20
search:
  lr: {type: choice, values: [1.0e+30]}
`;

// A stopping rule and three learning rates: 0.5 learns (completed), 0.0001 does not and the
// median rule stops it at its first report, 1e30 makes the loss overflow (diverged, with its
// error). Grid order: trials 0, 1, 2.
const REASONS_YAML = `# written by report_browser_test.mjs
study: browser-reasons
storage: reasons.db
data: data
validation: 0.2
objective: val_accuracy
workers: 1
seed: 1
sampler: grid
stopping:
  rule: median
  min_trials: 1
  grace: 0
model:
  width: 8
training:
  optimizer: sgd
  batch: 16
  iterations: 200
  eval_every: 20
search:
  lr: {type: grid, values: [0.5, 0.0001, 1.0e+30]}
`;

// A conditional space: momentum only with sgd (a grid: 3 points, not 4), weight_decay (a float)
// only with adam. Trials: (sgd, 0.5), (sgd, 0.9), adam.
const COND_YAML = `# written by report_browser_test.mjs
study: browser-cond
storage: cond.db
data: data
validation: 0.2
workers: 1
seed: 1
sampler: grid
model:
  width: 8
training:
  batch: 16
  iterations: 60
search:
  optimizer: {type: grid, values: [sgd, adam]}
  momentum: {type: grid, values: [0.5, 0.9], when: {optimizer: sgd}}
  weight_decay: {type: float, low: 0.0, high: 0.001, when: {optimizer: adam}}
  lr: {type: float, low: 0.01, high: 0.1}
`;

const LAUNCH_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

let work;
let browser;
let studyDb;
let noneDb;
let reasonsDb;
let condDb;
let failures = 0;

// ---------------------------------------------------------------------------------------------
// The synthetic data set of the C++ tests (tests/train/synthetic.hpp): 4x4 images, 3 classes,
// class c lights the pixels p with p % 3 == c (175 + noise), others are noise below 80.

function writeIdx(file, dims, bytes) {
  const header = Buffer.alloc(4 + 4 * dims.length);
  header.writeUInt32BE(0x800 | dims.length, 0);
  dims.forEach((d, i) => header.writeUInt32BE(d, 4 + 4 * i));
  fs.writeFileSync(file, Buffer.concat([header, Buffer.from(bytes)]));
}

function writeSyntheticSplit(dir, prefix, count, seed) {
  let state = seed >>> 0;
  const below = (n) => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state % n;
  };
  const pixels = new Uint8Array(count * 16);
  const labels = new Uint8Array(count);
  for (let i = 0; i < count; ++i) {
    const label = below(3);
    labels[i] = label;
    for (let p = 0; p < 16; ++p) {
      const noise = below(80);
      pixels[i * 16 + p] = p % 3 === label ? 175 + noise : noise;
    }
  }
  writeIdx(path.join(dir, `${prefix}-images-idx3-ubyte`), [count, 4, 4], pixels);
  writeIdx(path.join(dir, `${prefix}-labels-idx1-ubyte`), [count], labels);
}

// ---------------------------------------------------------------------------------------------

function runKrill(args, { allowFailure = false } = {}) {
  const r = spawnSync(KRILL, args, { cwd: work, encoding: 'utf8', timeout: 60_000 });
  const said = `\`krill ${args.join(' ')}\`` +
    ` (exit ${r.status}${r.signal ? `, signal ${r.signal}` : ''}${r.error ? `, ${r.error.message}` : ''})` +
    `\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;
  if (!allowFailure) assert.equal(r.status, 0, `${said}\nexpected exit 0`);
  return { ...r, said };
}

// Opens `url` in a fresh page and records every console error/warning, page error, failed
// request and the URL of every request.
async function openPage(url) {
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  const problems = [];
  const requests = [];
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') {
      const loc = m.location();
      problems.push(`console.${m.type()}: ${m.text()}` +
        (loc && loc.url ? ` (${loc.url}:${loc.lineNumber})` : ''));
    }
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('crash', () => problems.push('the page crashed'));
  page.on('request', (r) => requests.push(r.url()));
  page.on('requestfailed', (r) =>
    problems.push(`request failed: ${r.url()} (${r.failure()?.errorText})`));
  const response = await page.goto(url, { waitUntil: 'load', timeout: 30_000 });
  return { page, problems, requests, response };
}

// The state of every chart the page exposes, as plain data.
function chartStates(page) {
  return page.evaluate(() => {
    const report = window.krillReport;
    if (!report || typeof report !== 'object' || !report.charts) return null;
    const out = {};
    for (const [name, chart] of Object.entries(report.charts)) {
      const s = { disposed: false, series: 0, points: 0, width: 0, height: 0, error: null };
      try {
        s.disposed = typeof chart.isDisposed === 'function' && chart.isDisposed() === true;
        const option = chart.getOption() || {};
        const series = option.series || [];
        s.series = series.length;
        s.points = series.reduce((n, x) => n + ((x && x.data) || []).length, 0);
        s.seriesWithData = series.filter((x) => ((x && x.data) || []).length > 0).length;
        s.width = chart.getWidth();
        s.height = chart.getHeight();
      } catch (e) {
        s.error = String(e && e.message ? e.message : e);
      }
      out[name] = s;
    }
    return out;
  });
}

const allChartsHaveData = (expected) => {
  const report = window.krillReport;
  if (!report || !report.charts) return false;
  return expected.every((name) => {
    const c = report.charts[name];
    if (!c) return false;
    try {
      return (c.getOption().series || []).some((s) => ((s && s.data) || []).length > 0);
    } catch {
      return false;
    }
  });
};

// Waits until the page shows every expected chart with data (the served page fetches its data),
// then asserts chart by chart, so that a failure names what is missing.
async function checkCharts(page, label) {
  try {
    await page.waitForFunction(allChartsHaveData, EXPECTED_CHARTS, { timeout: 20_000 });
  } catch {
    // fall through: the assertions below say which chart is missing or empty
  }
  const states = await chartStates(page);
  assert.ok(states, `${label}: window.krillReport.charts is not defined after 20 s`);
  for (const name of EXPECTED_CHARTS) {
    const s = states[name];
    assert.ok(s, `${label}: no chart "${name}" in window.krillReport.charts ` +
      `(charts present: ${Object.keys(states).join(', ') || 'none'})`);
    assert.equal(s.error, null, `${label}: chart "${name}" threw: ${s.error}`);
    assert.equal(s.disposed, false, `${label}: chart "${name}" is disposed`);
    assert.ok(s.seriesWithData > 0,
      `${label}: chart "${name}" has no series with data points (${s.series} series)`);
    assert.ok(s.width > 0 && s.height > 0,
      `${label}: chart "${name}" is drawn at ${s.width}x${s.height} px, expected a visible size`);
  }
  return states;
}

// The analysis: a contour chart per pair of numeric parameters, each with its surface and its
// trials; the importance chart names every parameter.
async function checkAnalysis(page, label) {
  const states = await chartStates(page);
  const contours = Object.keys(states).filter((n) => n.startsWith('contour-'));
  assert.equal(contours.length, CONTOURS, `${label}: ${contours.length} contour charts ` +
    `(${contours.join(', ') || 'none'}), expected ${CONTOURS}`);
  for (const name of contours) {
    const s = states[name];
    assert.equal(s.error, null, `${label}: chart "${name}" threw: ${s.error}`);
    assert.equal(s.seriesWithData, 2,
      `${label}: chart "${name}" has ${s.seriesWithData} series with data, expected 2 ` +
      '(the surface and the trials)');
    assert.ok(s.width > 0 && s.height > 0, `${label}: chart "${name}" is drawn at ` +
      `${s.width}x${s.height} px`);
  }
  const bars = await page.evaluate(() => {
    const option = window.krillReport.charts.importance.getOption();
    return { names: option.yAxis[0].data, values: option.series[0].data };
  });
  assert.deepEqual([...bars.names].sort(), Object.keys(SEARCH).sort(),
    `${label}: the importance chart names ${bars.names.join(', ')}`);
  const sum = bars.values.reduce((a, b) => a + b, 0);
  assert.ok(Math.abs(sum - 1) < 1e-9, `${label}: the importances sum to ${sum}, expected 1`);
}

// The text of the element `selector` (null when absent).
function textOf(page, selector) {
  return page.evaluate((sel) => {
    const el = document.querySelector(sel);
    return el ? el.innerText : null;
  }, selector);
}

async function checkData(page, label) {
  const data = await page.evaluate(() => window.krillReport && window.krillReport.data);
  assert.ok(data && Array.isArray(data.trials),
    `${label}: window.krillReport.data.trials is not an array`);
  assert.equal(data.trials.length, TRIALS, `${label}: window.krillReport.data holds ` +
    `${data.trials.length} trials, expected ${TRIALS}`);
  return data;
}

function assertNoProblems(problems, label) {
  if (problems.length) assert.fail(`${label}: the page reported problems:\n  ${problems.join('\n  ')}`);
}

async function screenshot(page, name) {
  try {
    await page.screenshot({ path: path.join(work, name), fullPage: true });
  } catch {
    // a screenshot is only a help for whoever reads a failure
  }
}

// ---------------------------------------------------------------------------------------------

before(async () => {
  try {
    await setUp();
  } catch (e) {
    ++failures;
    if (work) e.message += `\n(work dir kept: ${work})`;
    throw e;
  }
});

async function setUp() {
  assert.ok(KRILL, 'set KRILL_BINARY (or pass the krill program as the first argument)');
  assert.ok(fs.existsSync(KRILL), `the krill program ${KRILL} does not exist`);
  assert.ok(fs.existsSync(CHROMIUM), `${CHROMIUM} does not exist: apt-get install chromium ` +
    '(scripts/install-deps.sh installs it)');
  if (givenWorkDir) {
    fs.mkdirSync(givenWorkDir, { recursive: true });
    work = fs.mkdtempSync(path.join(path.resolve(givenWorkDir), 'run-'));
  } else {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'krill-report-browser-'));
  }
  fs.mkdirSync(path.join(work, 'data'));
  writeSyntheticSplit(path.join(work, 'data'), 'train', 600, 1);
  writeSyntheticSplit(path.join(work, 'data'), 't10k', 120, 2);
  fs.writeFileSync(path.join(work, 'study.yaml'), STUDY_YAML);
  fs.writeFileSync(path.join(work, 'none.yaml'), NONE_YAML);
  fs.writeFileSync(path.join(work, 'reasons.yaml'), REASONS_YAML);
  fs.writeFileSync(path.join(work, 'cond.yaml'), COND_YAML);

  const started = Date.now();
  runKrill(['tune', 'study.yaml', '--quiet', '--threads', '1']);
  studyDb = path.join(work, 'study.db');
  assert.ok(fs.existsSync(studyDb), `krill tune wrote no ${studyDb}`);
  // All trials of the failing study fail; whether `krill tune` then exits 0 is not this test's
  // business, only that the database exists.
  const none = runKrill(['tune', 'none.yaml', '--quiet', '--threads', '1'], { allowFailure: true });
  noneDb = path.join(work, 'none.db');
  assert.ok(fs.existsSync(noneDb), `${none.said}\nwrote no ${noneDb}`);
  const reasons = runKrill(['tune', 'reasons.yaml', '--quiet', '--threads', '1'],
    { allowFailure: true });
  reasonsDb = path.join(work, 'reasons.db');
  assert.ok(fs.existsSync(reasonsDb), `${reasons.said}\nwrote no ${reasonsDb}`);
  runKrill(['tune', 'cond.yaml', '--quiet', '--threads', '1']);
  condDb = path.join(work, 'cond.db');
  const tuned = Date.now();

  browser = await launch({ executablePath: CHROMIUM, args: LAUNCH_ARGS, timeout: 60_000 });
  console.log(`work dir ${work}; studies tuned in ${tuned - started} ms, ` +
    `Chromium ${browser.version()} started in ${Date.now() - tuned} ms`);
}

after(async () => {
  if (browser) await browser.close();
  if (work && !givenWorkDir && failures === 0) fs.rmSync(work, { recursive: true, force: true });
});

// Wraps a test body so that a failure keeps the work dir for inspection.
function tracked(fn) {
  return async (t) => {
    try {
      await fn(t);
    } catch (e) {
      ++failures;
      if (work) e.message += `\n(work dir kept: ${work})`;
      throw e;
    }
  };
}

test('krill report -o: the HTML file shows every chart with data, offline, with no console error',
  tracked(async () => {
    const html = path.join(work, 'report.html');
    runKrill(['report', studyDb, '-o', html]);
    assert.ok(fs.existsSync(html), `krill report wrote no ${html}`);
    const url = pathToFileURL(html).href;
    const { page, problems, requests } = await openPage(url);
    try {
      await checkCharts(page, 'report.html');
      await checkAnalysis(page, 'report.html');
      await checkData(page, 'report.html');
      // The settings read as lines: the search space in the study's settings is stored as one
      // quoted line with \n escapes, and the page shows it decoded.
      const summary = await textOf(page, '#summary-body');
      assert.ok(!summary.includes('\\n'), `report.html: the summary shows an escaped \\n:\n${summary}`);
      assert.match(summary, /^\s*momentum: float linear \[0, 0\.9\]\s*$/m,
        `report.html: the search space is not shown one dimension a line:\n${summary}`);
      assert.match(await textOf(page, '#table-stopped'), /No trial was stopped early/);
      await page.waitForTimeout(300); // let late errors (animations, resize) surface
      await screenshot(page, 'report.png');
      assertNoProblems(problems, 'report.html');
      const outside = requests.filter((u) => !u.startsWith('file:') && !u.startsWith('data:') &&
        !u.startsWith('blob:'));
      if (outside.length) {
        assert.fail(`report.html must open offline, but it requested:\n  ${outside.join('\n  ')}`);
      }
    } finally {
      await page.close();
    }
  }));

test('krill report --serve: the served page and /data.json, then the server stops on SIGTERM',
  tracked(async () => {
    const server = spawn(KRILL, ['report', studyDb, '--serve', '--port', '0', '--refresh', '1'],
      { cwd: work, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    server.stdout.setEncoding('utf8');
    server.stderr.setEncoding('utf8');
    server.stderr.on('data', (s) => { stderr += s; });
    const exited = new Promise((resolve) =>
      server.on('exit', (code, signal) => resolve({ code, signal })));
    try {
      const url = await new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(
          `krill report --serve printed no http://127.0.0.1:<port>/ URL within 20 s\n` +
          `--- stdout\n${stdout}\n--- stderr\n${stderr}`)), 20_000);
        server.stdout.on('data', (s) => {
          stdout += s;
          const m = stdout.match(/http:\/\/127\.0\.0\.1:(\d+)\//);
          if (m) {
            clearTimeout(timer);
            resolve(m[0]);
          }
        });
        server.on('exit', (code, signal) => {
          clearTimeout(timer);
          reject(new Error(`krill report --serve exited (code ${code}, signal ${signal}) ` +
            `before printing its URL\n--- stdout\n${stdout}\n--- stderr\n${stderr}`));
        });
      });
      assert.notEqual(Number(new URL(url).port), 0, `the server printed port 0: ${url}`);

      const res = await fetch(new URL('data.json', url));
      assert.equal(res.status, 200, `GET /data.json answered ${res.status}`);
      const body = await res.text();
      let json;
      assert.doesNotThrow(() => { json = JSON.parse(body); },
        `/data.json is not JSON: ${body.slice(0, 200)}`);
      assert.ok(Array.isArray(json.trials), '/data.json has no "trials" array');
      assert.equal(json.trials.length, TRIALS,
        `/data.json holds ${json.trials.length} trials, expected ${TRIALS}`);

      const { page, problems, requests, response } = await openPage(url);
      try {
        assert.equal(response?.status(), 200, `GET / answered ${response?.status()}`);
        await checkCharts(page, 'served page');
        await checkAnalysis(page, 'served page');
        await checkData(page, 'served page');
        // The live page refreshes its data every --refresh seconds (1 here) from /data.json.
        await page.waitForRequest((r) => new URL(r.url()).pathname === '/data.json',
          { timeout: 10_000 }).catch(() => {});
        await page.waitForTimeout(300);
        await screenshot(page, 'served.png');
        assertNoProblems(problems, 'served page');
        const origin = new URL(url).origin;
        const outside = requests.filter((u) => !u.startsWith(origin) && !u.startsWith('data:') &&
          !u.startsWith('blob:'));
        if (outside.length) {
          assert.fail(`the served page must fetch only from ${origin}, but it requested:\n  ` +
            outside.join('\n  '));
        }
        assert.ok(requests.some((u) => new URL(u).pathname === '/data.json'),
          `the served page never fetched /data.json (requests: ${requests.join(', ')})`);
      } finally {
        await page.close();
      }
    } finally {
      if (server.exitCode === null && server.signalCode === null) server.kill('SIGTERM');
      const stopped = await Promise.race([
        exited, new Promise((resolve) => setTimeout(() => resolve(null), 5_000))]);
      if (!stopped) server.kill('SIGKILL');
      assert.ok(stopped, 'krill report --serve did not stop within 5 s of SIGTERM');
    }
  }));

test('krill report of a conditional space: absent parameters at their own place, counted',
  tracked(async () => {
    const html = path.join(work, 'cond.html');
    runKrill(['report', condDb, '-o', html]);
    const { page, problems } = await openPage(pathToFileURL(html).href);
    try {
      await page.waitForFunction((names) => {
        const r = window.krillReport;
        return r && names.every((n) => r.charts[n] &&
          (r.charts[n].getOption().series || []).some((s) => (s.data || []).length > 0));
      }, ['parallel', 'slice-momentum', 'slice-weight_decay'], { timeout: 20_000 }).catch(() => {});
      const state = await page.evaluate(() => {
        const r = window.krillReport;
        const parallel = r.charts.parallel.getOption();
        const axes = parallel.parallelAxis.map((a) => ({ name: a.name, data: a.data, min: a.min }));
        const rows = parallel.series[0].data.map((d) => d.value);
        const slice = r.charts['slice-momentum'].getOption();
        return {
          dims: r.data.dims,
          trials: r.data.trials.map((t) => t.params),
          axes,
          rows,
          sliceTitle: slice.title && slice.title[0] ? slice.title[0].text : null,
          slicePoints: slice.series.reduce((n, x) => n + (x.data || []).length, 0),
        };
      });
      assert.equal(state.trials.length, 3, `cond.html: ${state.trials.length} trials, expected 3`);
      const dim = (name) => state.dims.find((d) => d.name === name);
      assert.equal(dim('momentum').condition, 'optimizer = sgd');
      assert.equal(dim('lr').condition, null);
      assert.equal(state.trials.filter((p) => 'momentum' in p).length, 2);
      // A categorical axis gains an "absent" category; a numeric one an "absent" place below it.
      const axis = (name) => state.axes.find((a) => a.name === name);
      assert.deepEqual(axis('momentum').data, ['0.5', '0.9', 'absent']);
      const wd = axis('weight_decay');
      assert.equal(typeof wd.min, 'number', 'cond.html: weight_decay has no absent place');
      const mi = state.axes.indexOf(axis('momentum'));
      const wi = state.axes.indexOf(wd);
      const absentMomentum = state.rows.filter((row) => row[mi] === 'absent').length;
      const absentDecay = state.rows.filter((row) => row[wi] === wd.min).length;
      assert.equal(absentMomentum, 1, `cond.html: rows ${JSON.stringify(state.rows)}`);
      assert.equal(absentDecay, 2, `cond.html: rows ${JSON.stringify(state.rows)}`);
      assert.ok(state.rows.every((row) => row.every((v) => v !== null)),
        'cond.html: a parallel-coordinates row has a gap');
      // The slice leaves the absent trial out and says so.
      assert.equal(state.slicePoints, 2);
      assert.equal(state.sliceTitle, '1 trial without momentum (absent) not shown');
      // No pair of numeric parameters has 3 trials with both: the note says why.
      assert.match(await textOf(page, '#contours'), /3 completed trials that have both parameters/);
      await page.waitForTimeout(300);
      await screenshot(page, 'cond.png');
      assertNoProblems(problems, 'cond.html');
    } finally {
      await page.close();
    }
  }));

test('krill report of a study with no finished trial: the page opens and says so',
  tracked(async () => {
    const html = path.join(work, 'none.html');
    runKrill(['report', noneDb, '-o', html]);
    const { page, problems } = await openPage(pathToFileURL(html).href);
    try {
      await page.waitForFunction(() => window.krillReport && window.krillReport.data,
        null, { timeout: 20_000 }).catch(() => {});
      const data = await page.evaluate(() => window.krillReport && window.krillReport.data);
      assert.ok(data, 'none.html: window.krillReport.data is not defined after 20 s');
      assert.equal(data.trials?.length, 1, `none.html: data holds ${data.trials?.length} trials, ` +
        'expected 1');
      assert.notEqual(data.trials[0].state, 'completed', 'none.html: the only trial completed');
      const text = await page.evaluate(() => document.body.innerText);
      assert.match(text, /\bno\b[^.\n]*\b(finished|completed)\b/i,
        `none.html does not say that no trial finished; its text:\n${text.slice(0, 800)}`);
      // ... and why: the trial's error, in the summary and in the table of failures.
      const error = data.trials[0].error;
      assert.match(error, /loss not finite/, `none.html: the trial's error is "${error}"`);
      assert.ok((await textOf(page, '#summary-body')).includes(error),
        `none.html: the summary does not show the error "${error}"`);
      assert.ok((await textOf(page, '#table-failed')).includes(error),
        `none.html: the table of failures does not show the error "${error}"`);
      // Nothing to rank, nothing to contour: each says why.
      assert.match(await textOf(page, '#chart-importance'), /at least 2 completed trials/);
      assert.match(await textOf(page, '#contours'), /two numeric parameters/);
      await page.waitForTimeout(300);
      await screenshot(page, 'none.png');
      assertNoProblems(problems, 'none.html');
    } finally {
      await page.close();
    }
  }));

test('krill report of a study with a stopping rule: the reasons in the tables and the tooltips',
  tracked(async () => {
    const html = path.join(work, 'reasons.html');
    runKrill(['report', reasonsDb, '-o', html]);
    const { page, problems } = await openPage(pathToFileURL(html).href);
    try {
      await page.waitForFunction(() => window.krillReport && window.krillReport.charts.history,
        null, { timeout: 20_000 }).catch(() => {});
      const data = await page.evaluate(() => window.krillReport && window.krillReport.data);
      assert.ok(data, 'reasons.html: window.krillReport.data is not defined after 20 s');
      const states = data.trials.map((t) => t.state);
      assert.deepEqual(states, ['completed', 'stopped', 'diverged'],
        'reasons.html: the trials\' states');
      const stop = data.trials[1].stop;
      assert.ok(stop && /^median: /.test(stop.reason),
        `reasons.html: trial 1's stop decision is ${JSON.stringify(stop)}`);

      // The tables: the stopped trial with its step and reason, the diverged one with its error.
      const stopped = await textOf(page, '#table-stopped');
      assert.ok(stopped.includes(stop.reason),
        `reasons.html: the table of stopped trials does not show "${stop.reason}":\n${stopped}`);
      const failed = await textOf(page, '#table-failed');
      assert.ok(failed.includes(data.trials[2].error) && /loss not finite/.test(failed),
        `reasons.html: the table of failures does not show the error:\n${failed}`);

      // The stopped trial's tooltip in the history chart says why it stopped.
      await page.evaluate(() => {
        const chart = window.krillReport.charts.history;
        const series = chart.getOption().series;
        const index = series.findIndex((x) => x.name === 'Stopped');
        chart.dispatchAction({ type: 'showTip', seriesIndex: index, dataIndex: 0 });
      });
      const tip = await page.waitForFunction(() => {
        const el = document.querySelector('#chart-history .krill-tooltip');
        return el && el.innerText.includes('stopped at step') ? el.innerText : null;
      }, null, { timeout: 5_000 }).catch(() => null);
      assert.ok(tip, 'reasons.html: no tooltip with "stopped at step" after showTip on the ' +
        'stopped trial');
      assert.ok(tip.includes(`stopped at step ${stop.step}: ${stop.reason}`),
        `reasons.html: the tooltip says:\n${tip}`);

      // One completed trial: the importance says why it is empty; one parameter: no contours.
      assert.match(await textOf(page, '#chart-importance'),
        /at least 2 completed trials; this study has 1 completed trial/);
      assert.match(await textOf(page, '#contours'), /two numeric parameters.*this space has 1/);
      await page.waitForTimeout(300);
      await screenshot(page, 'reasons.png');
      assertNoProblems(problems, 'reasons.html');
    } finally {
      await page.close();
    }
  }));

// situd.mjs: what the browser tests share (as tests/http/situd.py does for
// the Python suites): the paths CTest gives, the demo loaded into a
// temporary SpatiaLite file with the real `situ` CLI, a real situd on a free
// 127.0.0.1 port (as root: --user nobody, its folder handed over), raw HTTP
// requests to it, and Debian's chromium through playwright-core with nothing
// able to leave the machine.
//
// Environment (set by CTest): SITU_BIN, SITUD_BIN, SITU_GEODATA, SITU_SHOTS,
// SITU_WEB_NODE_MODULES; CHROMIUM (default /usr/bin/chromium).

import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..', '..');
const ENV = process.env;
export const SITU = ENV.SITU_BIN || path.join(ROOT, 'build', 'situ');
export const SITUD = ENV.SITUD_BIN || path.join(ROOT, 'build', 'situd');
export const GEODATA = ENV.SITU_GEODATA || path.join(ROOT, 'geodata', 'demo');
export const SHOTS = ENV.SITU_SHOTS || path.join(ROOT, 'build', 'web-shots');
const NODE_MODULES = ENV.SITU_WEB_NODE_MODULES || path.join(ROOT, 'daemon', 'web', 'node_modules');
const CHROMIUM = ENV.CHROMIUM || '/usr/bin/chromium';
const CHROMIUM_FLAGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--use-angle=swiftshader', '--enable-unsafe-swiftshader',
  // a name that is not 127.0.0.1 resolves nowhere, so nothing can leave even unseen
  '--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1',
];

// The running situd: its base URL, process and log file.
export const situd = { base: null, proc: null, log: null };

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function run(cmd, args) {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.error || r.status !== 0) {
    throw new Error(`${path.basename(cmd)} ${args.join(' ')} failed (${r.error ? r.error.message : `exit ${r.status}`}): ${(r.stderr || '').slice(-1500)}`);
  }
  return r.stdout;
}

// The demo loaded into tmp/situ.sqlite; its path. A demo folder written
// before the demo had roads (the committed geodata/demo: its roads.geojson
// is 7.8 MB) is written again, roads and all, into tmp: the same seed gives
// the same data.
export function demoDb(tmp) {
  if (!fs.existsSync(path.join(GEODATA, 'townships.geojson')) && !fs.existsSync(path.join(GEODATA, 'manifest.ini'))) {
    throw new Error(`no demo data in ${GEODATA}: generate it with \`situ demo --out ${GEODATA}\` (scripts/test.sh does)`);
  }
  let dir = GEODATA;
  if (!fs.existsSync(path.join(GEODATA, 'roads.geojson'))) dir = demoWithRoads(tmp);
  const db = path.join(tmp, 'situ.sqlite');
  // CTest's fixture loaded that folder once for every test (SITU_DEMO_ROADS_DB)
  if (dir === ENV.SITU_DEMO_ROADS && fresh(ENV.SITU_DEMO_ROADS_DB)) fs.copyFileSync(ENV.SITU_DEMO_ROADS_DB, db);
  else run(SITU, ['load', '--db', db, '--all', dir]);
  // the base map's named places (not a collection: situd reads them with --places),
  // copied beside the database so that situd's user may read them
  if (fs.existsSync(path.join(dir, 'places.geojson'))) fs.copyFileSync(path.join(dir, 'places.geojson'), path.join(tmp, 'places.geojson'));
  return db;
}

// The demo written again with its roads: once per build into SITU_DEMO_ROADS
// (CTest sets it, so the browser tests share one copy; written again when
// situ is newer than it), else into tmp.
function demoWithRoads(tmp) {
  const dir = ENV.SITU_DEMO_ROADS || path.join(tmp, 'demo');
  if (!fresh(path.join(dir, 'manifest.ini'))) {
    fs.rmSync(dir, { recursive: true, force: true });
    run(SITU, ['demo', '--out', dir]);
  }
  return dir;
}

// True when file (a fixture's) exists and is newer than the situ that made it.
function fresh(file) {
  return !!file && fs.existsSync(file) && fs.statSync(file).mtimeMs >= fs.statSync(SITU).mtimeMs;
}

// A feed token for dept, or null with the reason when the CLI cannot make one.
export function feedToken(db, dept) {
  const r = spawnSync(SITU, ['token', 'add', dept, '--db', db, '--label', 'web-test'], { encoding: 'utf8' });
  if (r.status !== 0) return { token: null, why: `situ token add ${dept} failed: ${(r.stderr || '').trim().slice(0, 300)}` };
  return { token: r.stdout.trim(), why: null };
}

// situd refuses to serve as root: run as root (as CI is), it gets --user nobody
// and the folder of its database, as an operator would hand it to a service user.
function serviceUser(db) {
  if (process.getuid() !== 0) return [];
  const { uid, gid } = nobodyIds();
  const folder = path.dirname(db);
  fs.chownSync(folder, uid, gid);
  for (const name of fs.readdirSync(folder)) fs.chownSync(path.join(folder, name), uid, gid);
  return ['--user', 'nobody'];
}

function nobodyIds() {
  const line = fs.readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith('nobody:'));
  const [, , uid, gid] = line.split(':');
  return { uid: Number(uid), gid: Number(gid) };
}

// Starts situd on db (its log in tmp), with the places.geojson beside db
// when there is one, and waits for /healthz (200, with the road graph that
// situd builds behind its port ready).
export async function startSitud(tmp, db) {
  const port = await freePort();
  situd.base = `http://127.0.0.1:${port}`;
  situd.log = path.join(tmp, 'situd.log');
  const log = fs.openSync(situd.log, 'w');
  const places = path.join(path.dirname(db), 'places.geojson');
  const withPlaces = fs.existsSync(places) ? ['--places', places] : [];
  situd.proc = spawn(SITUD, ['--db', db, '--listen', `127.0.0.1:${port}`, ...withPlaces, ...serviceUser(db)],
    { stdio: ['ignore', log, log] });
  const deadline = Date.now() + 60000;
  while (Date.now() < deadline) {
    if (situd.proc.exitCode !== null) throw new Error(`situd exited: ${tail(situd.log)}`);
    const r = await request('GET', '/healthz').catch(() => null);
    if (r && r.status === 200 && !String(r.body).includes('"roads":"loading"')) return;
    await sleep(100);
  }
  throw new Error(`situd not ready in 60 s: ${tail(situd.log)}`);
}

export async function stopSitud() {
  const p = situd.proc;
  if (!p || p.exitCode !== null) return;
  p.kill('SIGTERM');
  await new Promise((r) => { p.once('exit', r); setTimeout(r, 10000); });
}

export function tail(file) {
  try { return fs.readFileSync(file, 'utf8').slice(-3000); } catch { return ''; }
}

// A raw HTTP request to situd (the path is sent exactly as given, dots and
// escapes included); resolves to {status, headers, body}. For a stream
// (text/event-stream) only the head is read.
export function request(method, rawPath, { headers = {}, body = null } = {}) {
  return new Promise((resolve, reject) => {
    const u = new URL(situd.base);
    const req = http.request({ host: u.hostname, port: u.port, method, path: rawPath, headers, timeout: 30000 }, (res) => {
      if ((res.headers['content-type'] || '').startsWith('text/event-stream')) {
        resolve({ status: res.statusCode, headers: res.headers, body: Buffer.alloc(0) });
        res.destroy();
        return;
      }
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('timeout', () => req.destroy(new Error(`timeout: ${method} ${rawPath}`)));
    req.on('error', reject);
    if (body) req.write(body);
    req.end();
  });
}

export const json = (r) => JSON.parse(r.body.toString('utf8'));

// Debian's chromium with a fresh profile under tmp; options are playwright's
// launchPersistentContext options (viewport, timezoneId, geolocation ...).
export async function launchChromium(tmp, options) {
  if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: run scripts/setup.sh (Debian package chromium)`);
  const pw = path.join(NODE_MODULES, 'playwright-core', 'index.mjs');
  if (!fs.existsSync(pw)) throw new Error(`${pw} is missing: run npm ci in daemon/web (scripts/setup.sh does)`);
  const { chromium } = await import(pathToFileURL(pw).href);
  return chromium.launchPersistentContext(fs.mkdtempSync(path.join(tmp, 'chromium-')), {
    executablePath: CHROMIUM, headless: true, args: CHROMIUM_FLAGS, ...options,
  });
}

// Moves the wall's map (window.__situ.map) to center at zoom at once and
// waits until it is idle.
export function jump(page, center, zoom) {
  return page.evaluate(async ([c, z]) => {
    const map = window.__situ.map;
    map.stop();
    map.jumpTo({ center: c, zoom: z });
    await new Promise((ok) => map.once('idle', ok));
  }, [center, zoom]);
}

// api.test.mjs: /api, the OpenAPI 3.0 document, against the daemon it
// describes. A real situd on the demo (roads and all, tests/web/situd.mjs):
// the document is valid OpenAPI 3.0 (@apidevtools/swagger-parser); every row
// of daemon/routes.c is documented and every documented path is routed; every
// operation is called with its documented examples and its answer (status,
// media type, JSON body by ajv) is one the document lists, and so are its
// errors (a required parameter left out, an unknown parameter, a path
// parameter that names nothing); every feed event example is POSTed and
// accepted, each with a required member left out is rejected naming it, and
// the feeds' 400/401/403/404/413/415/422 answers are the documented problems.
// A drill runs (issue 19), so that the /drills/{id} paths are called too.
// The documented response headers are checked too (Content-Crs naming the
// crs asked, CRS84 by default), the crs/bbox-crs parameters list the CRSs
// each collection declares, and the export paths are those of the format
// table in layers/export/export_file.c, each with its media type.
//
// Environment (set by CTest): as tests/web/situd.mjs, SITU_WEB_NODE_MODULES
// for the validators (daemon/web's devDependencies).

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { demoDb, feedToken, request, situd, sleep, startSitud, stopSitud } from '../web/situd.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..', '..');
const NODE_MODULES = process.env.SITU_WEB_NODE_MODULES || path.join(ROOT, 'daemon', 'web', 'node_modules');
const require = createRequire(path.join(NODE_MODULES, 'noop.js'));
const SwaggerParser = require('@apidevtools/swagger-parser');
const Ajv = require('ajv');
const addFormats = require('ajv-formats');

const ajv = new Ajv({ strict: false, discriminator: true, allErrors: true });
addFormats(ajv);
ajv.addFormat('xml', true);
ajv.addFormat('binary', true);

let tmp, doc, raw, tokens = {};
const validators = new Map();

before(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'situ-api-'));
  const db = demoDb(tmp);
  for (const dept of ['water_resources', 'transport']) {
    const t = feedToken(db, dept);
    assert.ok(t.token, t.why);
    tokens[dept] = t.token;
  }
  const em = feedToken(db, 'emergency_management');
  assert.ok(em.token, em.why);
  tokens.emergency_management = em.token;
  await startSitud(tmp, db);
  // a drill runs, so that /api gives its id as the example of /drills/{id}
  const d = await request('POST', '/drills', {
    headers: { 'content-type': 'application/json', authorization: `Bearer ${em.token}` },
    body: JSON.stringify({ scenario_name: 'xiang_flood', speed: 'max' }),
  });
  assert.equal(d.status, 201, d.body.toString('utf8'));
  const r = await request('GET', '/api');
  assert.equal(r.status, 200);
  assert.match(r.headers['content-type'], /^application\/vnd\.oai\.openapi\+json/);
  raw = JSON.parse(r.body.toString('utf8'));
  doc = await SwaggerParser.dereference(structuredClone(raw));
});

after(async () => {
  await stopSitud();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

const METHODS = ['get', 'post', 'put', 'patch', 'delete'];
const operations = () => Object.entries(doc.paths).flatMap(([p, item]) =>
  METHODS.filter((m) => item[m]).map((m) => ({ path: p, method: m, op: item[m] })));

function validatorFor(schema) {
  if (!validators.has(schema)) validators.set(schema, ajv.compile(schema));
  return validators.get(schema);
}

// The answer r of op is one the document lists: its status, its required
// headers (valid against their schemas), its media type, and a JSON body
// valid against that media type's schema. Returns the body.
function checkAnswer(where, op, r) {
  const documented = op.responses[String(r.status)] || op.responses.default;
  assert.ok(documented, `${where}: status ${r.status} is not documented (${Object.keys(op.responses)}): ${r.body.toString('utf8').slice(0, 300)}`);
  for (const [name, h] of Object.entries(documented.headers || {})) {
    const value = r.headers[name.toLowerCase()];
    if (!h.required && value === undefined) continue;
    assert.ok(value !== undefined, `${where}: ${r.status} has no ${name} header`);
    const v = validatorFor(h.schema);
    assert.ok(v(value), `${where}: ${name}: ${value}: ${ajv.errorsText(v.errors)}`);
  }
  const ctype = (r.headers['content-type'] || '').split(';')[0].trim();
  if (!documented.content) {
    assert.equal(r.body.length, 0, `${where}: ${r.status} documents no body`);
    return null;
  }
  const media = Object.entries(documented.content).find(([t]) => t.split(';')[0].trim() === ctype);
  assert.ok(media, `${where}: ${r.status} answered ${ctype}, documented ${Object.keys(documented.content)}`);
  if (!/json$/.test(ctype) || !r.body.length) return null;
  const body = JSON.parse(r.body.toString('utf8'));
  if (media[1].schema) {
    const v = validatorFor(media[1].schema);
    assert.ok(v(body), `${where}: ${r.status} ${ctype} body against its schema: ${ajv.errorsText(v.errors)}\n${JSON.stringify(body).slice(0, 600)}`);
  }
  return body;
}

// The URL of op from its examples; params given override, null removes.
function urlOf(p, op, override = {}) {
  const params = op.parameters || [];
  let url = p;
  const query = new URLSearchParams();
  for (const prm of params) {
    const v = prm.name in override ? override[prm.name] : prm.example;
    if (prm.in === 'path') {
      // a feature id is an example only where the collection has features
      if (v === undefined && prm.name === 'featureId') return null;
      assert.ok(v !== undefined, `${p}: path parameter ${prm.name} has no example`);
      url = url.replace(`{${prm.name}}`, encodeURIComponent(String(v)));
    } else if (prm.in === 'query' && v !== undefined && v !== null) {
      query.set(prm.name, String(v));
    } else if (prm.in === 'query' && prm.required && !(prm.name in override)) {
      assert.fail(`${p}: required parameter ${prm.name} has no example`);
    }
  }
  for (const [k, v] of Object.entries(override)) {
    if (v !== null && !params.some((prm) => prm.name === k)) query.set(k, String(v));
  }
  const qs = query.toString();
  return qs ? `${url}?${qs}` : url;
}

test('the document is valid OpenAPI 3.0', async () => {
  assert.equal(raw.openapi, '3.0.3');
  await SwaggerParser.validate(structuredClone(raw));
  assert.match(raw.servers[0].url, /^http:\/\/127\.0\.0\.1:\d+$/);
});

test('the collection ids and department codes are the ones situd serves', async () => {
  const feeds = JSON.parse((await request('GET', '/feeds')).body.toString('utf8'));
  assert.deepEqual(raw.components.parameters.dept.schema.enum, feeds.departments.map((d) => d.code));
  assert.equal(feeds.departments.length, 19);
  const colls = JSON.parse((await request('GET', '/collections')).body.toString('utf8'));
  assert.deepEqual([...raw.components.parameters.collectionId.schema.enum].sort(),
    colls.collections.map((c) => c.id).sort());
  for (const id of colls.collections.map((c) => c.id)) {
    assert.ok(raw.paths[`/collections/${id}/items`], `no items path for ${id}`);
  }
});

test('crs and bbox-crs take the CRSs every collection declares', async () => {
  const colls = JSON.parse((await request('GET', '/collections')).body.toString('utf8')).collections;
  const params = raw.components.parameters;
  for (const c of colls) {
    assert.ok(c.crs.length >= 6, `${c.id} declares ${c.crs}`);
    for (const name of ['crs', 'bbox-crs', 'exportCrs']) {
      assert.deepEqual(params[name].schema.enum, c.crs, `${name} against ${c.id}'s crs list`);
    }
    const items = doc.paths[`/collections/${c.id}/items`].get.parameters.map((x) => x.name);
    for (const name of ['crs', 'bbox-crs', 'bbox']) assert.ok(items.includes(name), `${c.id} items: no ${name}`);
    const one = doc.paths[`/collections/${c.id}/items/{featureId}`].get.parameters.map((x) => x.name);
    assert.ok(one.includes('crs'), `${c.id} items/{featureId}: no crs`);
  }
});

// The rows of the format table: {"ext", "GDAL name", "media type", n, RULE}.
function exportFormats() {
  const table = fs.readFileSync(path.join(ROOT, 'layers', 'export', 'export_file.c'), 'utf8');
  const rows = [...table.matchAll(/\{"([a-z.]+)", "[^"]+", "([^"]+)", [01],\s*(SITU_EXPORT_\w+)\}/g)]
    .map((m) => ({ ext: m[1], mime: m[2].split(';')[0].trim(), rule: m[3] }));
  assert.ok(rows.length >= 6, `read only ${rows.length} rows of the export formats`);
  return rows;
}

test('every export format is described with its media type and CRS rule', () => {
  const formats = exportFormats();
  const documented = Object.keys(doc.paths).filter((p) => p.startsWith('/export/'));
  assert.deepEqual(documented.sort(), formats.flatMap((f) =>
    [`/export/{collection}.${f.ext}`, `/export/drill.${f.ext}`]).sort());
  for (const f of formats) {
    for (const p of [`/export/{collection}.${f.ext}`, `/export/drill.${f.ext}`]) {
      const op = doc.paths[p].get;
      const ok = op.responses['200'];
      assert.deepEqual(Object.keys(ok.content).map((t) => t.split(';')[0].trim()), [f.mime], p);
      assert.equal('Content-Crs' in ok.headers, f.rule !== 'SITU_EXPORT_NO_COORDS', `${p}: Content-Crs`);
      const crs = op.parameters.find((x) => x.name === 'crs');
      assert.ok(crs, `${p}: no crs parameter`);
      assert.equal(crs.schema.enum.length > 3, f.rule === 'SITU_EXPORT_ANY_CRS', `${p}: crs ${crs.schema.enum}`);
      assert.equal(op.parameters.some((x) => x.name === 'encoding'), f.ext === 'shp.zip', `${p}: encoding`);
      for (const status of ['400', '404', '500', '503', '507']) assert.ok(op.responses[status], `${p}: no ${status}`);
    }
  }
});

test('every route of daemon/routes.c is documented, and every documented path is routed', () => {
  const table = fs.readFileSync(path.join(ROOT, 'daemon', 'routes.c'), 'utf8');
  const rows = [...table.matchAll(/\{"(GET|POST|PUT|PATCH|DELETE)", "(\/[^"]*)", "\w+", situd_route_\w+\}/g)]
    .map((m) => ({ method: m[1].toLowerCase(), path: m[2] }));
  assert.ok(rows.length >= 25, `read only ${rows.length} rows of routes.c`);
  const paths = Object.keys(doc.paths);
  for (const row of rows) {
    const prefix = row.path.endsWith('/') && row.path.length > 1;
    const hit = paths.filter((p) => (prefix ? p.startsWith(row.path) : p === row.path) && doc.paths[p][row.method]);
    assert.ok(hit.length, `routes.c serves ${row.method.toUpperCase()} ${row.path}${prefix ? '…' : ''}, /api does not describe it`);
  }
  for (const { path: p, method } of operations()) {
    const routed = rows.some((row) => row.method === method &&
      (row.path.endsWith('/') && row.path.length > 1 ? p.startsWith(row.path) : p === row.path));
    assert.ok(routed, `/api describes ${method.toUpperCase()} ${p}, no row of routes.c serves it`);
  }
});

test('every GET answers bad requests with its documented problems', async () => {
  let checked = 0;
  for (const { path: p, op } of operations().filter((o) => o.method === 'get')) {
    const params = op.parameters || [];
    if (op.responses['400'] && !op['x-situ-ignores-unknown-parameters'] && urlOf(p, op)) {
      const url = urlOf(p, op, { no_such_parameter: 1 });
      const r = await request('GET', url);
      assert.equal(r.status, 400, `GET ${url}`);
      assert.equal(checkAnswer(`GET ${url}`, op, r).parameter, 'no_such_parameter');
      checked++;
    }
    for (const prm of params.filter((x) => x.in === 'query' && x.required)) {
      const url = urlOf(p, op, { [prm.name]: null });
      const r = await request('GET', url);
      assert.equal(r.status, 400, `GET ${url} without ${prm.name}`);
      assert.equal(checkAnswer(`GET ${url}`, op, r).parameter, prm.name, `GET ${url}`);
      checked++;
    }
    const first = params.find((x) => x.in === 'path');
    if (first && op.responses['404']) {
      const url = urlOf(p, op, { [first.name]: '999999999' });
      const r = await request('GET', url);
      assert.ok([400, 404].includes(r.status), `GET ${url}: ${r.status}`);
      checkAnswer(`GET ${url}`, op, r);
      checked++;
    }
  }
  assert.ok(checked >= 60, `${checked} bad requests`);
});

const FEED = '/feeds/{dept}/events';
const post = (p, body, headers) => request('POST', p, { headers: { 'content-type': 'application/json', ...headers }, body });
const bearer = (dept) => ({ authorization: `Bearer ${tokens[dept]}` });

test('every feed event example is valid against its schema and accepted by situd', async () => {
  const op = doc.paths[FEED].post;
  const media = op.requestBody.content['application/json'];
  const examples = Object.entries(media.examples);
  const types = new Set(examples.flatMap(([, e]) => e.value.events.map((ev) => ev.type)));
  for (const t of ['observation', 'camera', 'station', 'feature_update', 'alert', 'closure', 'closure_end']) {
    assert.ok(types.has(t), `no example of a ${t} event`);
  }
  const url = urlOf(FEED, op);
  const schema = validatorFor(media.schema);
  for (const [name, ex] of examples) {
    assert.ok(schema(ex.value), `example ${name} against EventBatch: ${ajv.errorsText(schema.errors)}`);
    const r = await post(url, JSON.stringify(ex.value), bearer('water_resources'));
    assert.equal(r.status, 200, `example ${name}: ${r.body}`);
    const answer = checkAnswer(`POST ${url} ${name}`, op, r);
    for (const res of answer.results) assert.equal(res.status, 'accepted', `example ${name}: ${JSON.stringify(res)}`);
  }
  const again = await post(url, JSON.stringify(examples[0][1].value), bearer('water_resources'));
  assert.equal(checkAnswer(`POST ${url} again`, op, again).results[0].status, 'duplicate');
});

// after the feed examples: /alerts/{id}/impact's example is the alert they post
test('every GET answers its examples as documented', async () => {
  // the posted alert reaches the snapshot in the publisher's next rebuild
  const impact = urlOf('/alerts/{id}/impact', doc.paths['/alerts/{id}/impact'].get);
  for (let i = 0; i < 50 && (await request('GET', impact)).status !== 200; i++) await sleep(100);
  const gets = operations().filter((o) => o.method === 'get');
  assert.ok(gets.length >= 50, `${gets.length} GET operations`);
  const CRS84 = 'http://www.opengis.net/def/crs/OGC/1.3/CRS84';
  let called = 0, crsAsked = 0;
  for (const { path: p, op } of gets) {
    const url = urlOf(p, op);
    if (!url) continue; /* an empty collection's feature */
    called++;
    // with its crs example, and without it (the default, CRS84); the drill
    // bundle only without (GDAL takes seconds to write it in a Gauss-Krueger
    // zone; test_export_crs writes exports in one)
    const crs = (op.parameters || []).find((x) => x.name === 'crs' && x.in === 'query' && x.example);
    const noCrs = crs && urlOf(p, op, { crs: null });
    const asked = !crs ? [[url, CRS84]] : p.startsWith('/export/drill.') ? [[noCrs, CRS84]]
      : [[url, crs.example], [noCrs, CRS84]];
    for (const [u, want] of asked) {
      const r = await request('GET', u, { headers: { accept: 'application/json' } });
      assert.ok(r.status >= 200 && r.status < 300, `GET ${u}: ${r.status} ${r.body.toString('utf8').slice(0, 300)}`);
      checkAnswer(`GET ${u}`, op, r);
      if (op.responses['200'].headers?.['Content-Crs']) {
        assert.equal(r.headers['content-crs'], `<${want}>`, `GET ${u}`);
        crsAsked++;
      }
    }
  }
  assert.ok(called >= gets.length - 2, `${called} of ${gets.length} GET operations called`);
  assert.ok(crsAsked >= 2 * (7 + 8 + 4) + 6, `${crsAsked} answers' Content-Crs checked`);
});

test('an event without a member its schema requires is rejected naming it', async () => {
  const op = doc.paths[FEED].post;
  const media = op.requestBody.content['application/json'];
  const event = validatorFor(media.schema.properties.events.items);
  const mutants = [];
  for (const [name, ex] of Object.entries(media.examples)) {
    const ev = ex.value.events[0];
    const oneOf = media.schema.properties.events.items.oneOf.find((s) => s.properties.type.enum[0] === ev.type);
    for (const member of oneOf.required.filter((m) => m !== 'id' && m !== 'type')) {
      const m = { ...ev, id: `${ev.id}-no-${member}` };
      delete m[member];
      assert.ok(!event(m), `the schema accepts ${name} without ${member}`);
      mutants.push({ ev: m, field: member });
    }
    const extra = { ...ev, id: `${ev.id}-extra`, colour: 'red' };
    assert.ok(!event(extra), `the schema accepts ${name} with an unknown member`);
    mutants.push({ ev: extra, field: 'colour' });
  }
  const url = urlOf(FEED, op);
  const r = await post(url, JSON.stringify({ events: mutants.map((m) => m.ev) }), bearer('water_resources'));
  const answer = checkAnswer(`POST ${url} mutants`, op, r);
  answer.results.forEach((res, i) => {
    assert.equal(res.status, 'rejected', `${mutants[i].ev.id} was ${res.status}`);
    // a circle closure without its Point is refused for the radius_m left alone
    const also = mutants[i].field === 'geometry' && 'radius_m' in mutants[i].ev ? ['radius_m'] : [];
    assert.ok([mutants[i].field, ...also].includes(res.field), `${mutants[i].ev.id}: ${res.field}: ${res.reason}`);
  });
});

test('the CAP example is accepted', async () => {
  const op = doc.paths['/feeds/{dept}/cap'].post;
  const xml = op.requestBody.content['application/cap+xml'].example;
  const url = urlOf('/feeds/{dept}/cap', op);
  const r = await request('POST', url, { headers: { 'content-type': 'application/cap+xml', ...bearer('water_resources') }, body: xml });
  assert.equal(r.status, 200, r.body.toString('utf8'));
  assert.equal(checkAnswer(`POST ${url}`, op, r).results[0].status, 'accepted');
});

test('the feeds answer their documented problems', async () => {
  const op = doc.paths[FEED].post;
  const url = urlOf(FEED, op);
  const ok = JSON.stringify({ events: [] });
  const cases = [
    ['no token', 401, () => post(url, ok, {})],
    ['a revoked or unknown token', 401, () => post(url, ok, { authorization: 'Bearer nope' })],
    ["another department's token", 403, () => post(url, ok, bearer('transport'))],
    ['no such department', 404, () => post('/feeds/rivers_office/events', ok, bearer('water_resources'))],
    ['text/plain', 415, () => post(url, ok, { ...bearer('water_resources'), 'content-type': 'text/plain' })],
    ['malformed JSON', 400, () => post(url, '{"events": [', bearer('water_resources'))],
    ['not {"events": [...]}', 400, () => post(url, '{"event": []}', bearer('water_resources'))],
    ['10,001 events', 413, () => post(url, JSON.stringify({ events: Array.from({ length: 10001 }, (_, i) => ({ id: `e${i}`, type: 'closure_end', closure: 'x' })) }), bearer('water_resources'))],
  ];
  for (const [what, status, send] of cases) {
    const r = await send();
    assert.equal(r.status, status, `${what}: ${r.body}`);
    const body = checkAnswer(`POST ${url} (${what})`, op, r);
    assert.equal(body.status, status);
  }
  const capOp = doc.paths['/feeds/{dept}/cap'].post;
  const capUrl = urlOf('/feeds/{dept}/cap', capOp);
  const cap = (body) => request('POST', capUrl, { headers: { 'content-type': 'application/cap+xml', ...bearer('water_resources') }, body });
  let r = await cap('<alert');
  assert.equal(r.status, 400);
  checkAnswer(`POST ${capUrl} (not XML)`, capOp, r);
  const exercise = capOp.requestBody.content['application/cap+xml'].example
    .replace('<status>Actual', '<status>Exercise').replace(/<identifier>[^<]*/, '<identifier>YZ-DRILL-1');
  r = await cap(exercise);
  assert.equal(r.status, 422, r.body.toString('utf8'));
  checkAnswer(`POST ${capUrl} (an exercise)`, capOp, r);
});

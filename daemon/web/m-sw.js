// m-sw.js, served as /m/sw.js: the phone page's service worker (scope /m/).
// Keeps the page (its files and the map library) so that it opens with the
// network gone; gives back the last good answers the page saved in the
// Cache Storage 'situ-m-answers' (each with its X-Situ-Saved-At time) when
// situd cannot be reached; and keeps the officer's own township's tiles,
// z10 to z14, which the page names in a message {type: 'township', code, bbox},
// and the villages around it (its box widened by VILLAGE_MARGIN degrees, at
// most MAX_VILLAGES: some hundreds of KB at worst) with the list of
// townships, so that a village or a township is still found by name
// offline: /places?kind=village&q= is then answered from the villages as
// situd would (exact name, then prefix, then part of it).
// Does not touch /events (the stream goes to the network) nor POSTs.
//
//   page files: from the cache at once, refreshed from the network 10 s later
//   answers and tiles: the network; when it fails, the cache (a village
//   search: the kept villages); else a 503

const PAGE = 'situ-m-page-1';
const ANSWERS = 'situ-m-answers';
const TILES = 'situ-m-tiles';
const PAGE_FILES = ['./', 'phone.js', 'i18n.js', 'util.js', 'phone.css', 'layers.js', 'maplibre-gl.mjs', 'maplibre-gl-worker.mjs', 'maplibre-gl.css'];
const TILE_ZOOMS = [10, 11, 12, 13, 14];
const REFRESH_AFTER_MS = 10000;
const MAX_TILES = 400; // a township is some tens of tiles; a bad bbox must not fetch the city
const PLACES = 'situ-m-places';
const KEPT_VILLAGES = '/places?kind=village&kept=1'; // the key of the kept villages in PLACES
const VILLAGE_MARGIN = 0.2; // degrees (about 20 km) around the township's box
const MAX_VILLAGES = 2000;
const TOWNSHIP_LIST = '/townships?limit=10000'; // what phone.js's search asks, kept beside the villages

self.addEventListener('install', (e) => {
  e.waitUntil(caches.open(PAGE).then((c) => c.addAll(PAGE_FILES)).then(() => self.skipWaiting()));
});

self.addEventListener('activate', (e) => {
  e.waitUntil(caches.keys()
    .then((keys) => Promise.all(keys.filter((k) => k.startsWith('situ-m-page-') && k !== PAGE).map((k) => caches.delete(k))))
    .then(() => self.clients.claim()));
});

self.addEventListener('fetch', (e) => {
  const u = new URL(e.request.url);
  if (e.request.method !== 'GET' || u.origin !== location.origin || u.pathname === '/events') return;
  const scope = new URL(self.registration.scope).pathname;
  if (u.pathname.startsWith(scope) && !u.pathname.endsWith('.json')) e.respondWith(pageFile(e));
  else e.respondWith(networkElse(e.request, u.pathname.startsWith('/tiles/') ? TILES : ANSWERS));
});

// From the cache (the map worker's ?v= ignored), refreshed from the network
// 10 s later, when the page has had its answers (a weak network carries the
// first list first); from the network when not kept.
async function pageFile(e) {
  const c = await caches.open(PAGE);
  const kept = await c.match(e.request, { ignoreSearch: true });
  const refresh = () => fetch(e.request).then((r) => {
    if (r.ok) c.put(new URL(e.request.url).pathname, r.clone());
    return r;
  });
  if (!kept) return refresh().catch(() => offline());
  e.waitUntil(new Promise((ok) => setTimeout(ok, REFRESH_AFTER_MS)).then(refresh).catch(() => {}));
  return kept;
}

async function networkElse(req, cacheName) {
  try {
    return await fetch(req);
  } catch {
    const kept = await (await caches.open(cacheName)).match(req.url);
    const u = new URL(req.url);
    return kept || (u.pathname === '/places' && await villagesOffline(u.searchParams)) || offline();
  }
}

function offline() {
  return new Response(JSON.stringify({ type: 'about:blank', title: 'Service Unavailable', status: 503, detail: 'offline: situd cannot be reached' }),
    { status: 503, headers: { 'Content-Type': 'application/problem+json' } });
}

// ---- the township's tiles -----------------------------------------------------------

self.addEventListener('message', (e) => {
  const d = e.data || {};
  if (d.type !== 'township' || !Array.isArray(d.bbox)) return;
  e.waitUntil(Promise.all([
    keepTiles(d.code, d.bbox).then((n) => e.source && e.source.postMessage({ type: 'tiles-kept', code: d.code, n })),
    Promise.all([keepVillages(d.code, d.bbox), keepAnswer(TOWNSHIP_LIST)])
      .then(([n]) => e.source && e.source.postMessage({ type: 'villages-kept', code: d.code, n })),
  ]));
});

function tileOf(lon, lat, z) {
  const n = 2 ** z;
  const r = (Math.max(-85, Math.min(85, lat)) * Math.PI) / 180;
  return [Math.floor(((lon + 180) / 360) * n), Math.floor(((1 - Math.log(Math.tan(r) + 1 / Math.cos(r)) / Math.PI) / 2) * n)];
}

function tilesOf([w, s, e, n]) {
  const out = [];
  for (const z of TILE_ZOOMS) {
    const [x0, y0] = tileOf(w, n, z);
    const [x1, y1] = tileOf(e, s, z);
    for (let x = x0; x <= x1; x++) for (let y = y0; y <= y1; y++) out.push(`/tiles/all/${z}/${x}/${y}.mvt`);
  }
  return out;
}

let keptFor = null;

// Fetches the tiles of township code's bbox not yet kept (another
// township's are dropped first), four at a time; resolves to the number kept.
async function keepTiles(code, bbox) {
  const paths = tilesOf(bbox);
  if (paths.length > MAX_TILES) return 0;
  const c = await caches.open(TILES);
  if (keptFor !== code) {
    const want = new Set(paths.map((p) => new URL(p, location.origin).href));
    for (const req of await c.keys()) if (!want.has(req.url)) await c.delete(req);
    keptFor = code;
  }
  const todo = [];
  for (const p of paths) if (!(await c.match(p))) todo.push(p);
  const worker = async () => {
    for (let p = todo.shift(); p; p = todo.shift()) {
      try {
        const r = await fetch(p);
        if (r.ok || r.status === 204) await c.put(p, r);
      } catch { /* offline: next time */ }
    }
  };
  await Promise.all([worker(), worker(), worker(), worker()]);
  return (await c.keys()).length;
}

// ---- the villages around the township, for a search by name offline ------------------

// Keeps the villages within township code's bbox widened by VILLAGE_MARGIN
// (at most MAX_VILLAGES), unless they are kept already; resolves to the
// number kept (0 when situd could not be reached and none are).
async function keepVillages(code, [w, s, e, n]) {
  const c = await caches.open(PLACES);
  const kept = await c.match(KEPT_VILLAGES);
  if (kept && kept.headers.get('X-Situ-Township') === code) return Number(kept.headers.get('X-Situ-Count'));
  const box = [w - VILLAGE_MARGIN, s - VILLAGE_MARGIN, e + VILLAGE_MARGIN, n + VILLAGE_MARGIN].map((v) => v.toFixed(5));
  try {
    const r = await fetch(`/places?kind=village&limit=${MAX_VILLAGES}&bbox=${box.join(',')}`);
    const doc = r.ok ? await r.json() : null;
    if (!doc || !Array.isArray(doc.features)) return kept ? Number(kept.headers.get('X-Situ-Count')) : 0;
    await c.put(KEPT_VILLAGES, new Response(JSON.stringify(doc.features), { headers: {
      'Content-Type': 'application/json', 'X-Situ-Saved-At': String(Date.now()), 'X-Situ-Township': code, 'X-Situ-Count': String(doc.features.length),
    } }));
    return doc.features.length;
  } catch {
    return kept ? Number(kept.headers.get('X-Situ-Count')) : 0;
  }
}

// Keeps situd's answer to url among the page's answers (as phone.js keeps
// those it asks), marked with its time; a failure keeps the last one.
async function keepAnswer(url) {
  try {
    const r = await fetch(url, { headers: { Accept: 'application/json' } });
    if (!r.ok) return;
    const body = await r.text();
    await (await caches.open(ANSWERS)).put(url, new Response(body, {
      headers: { 'Content-Type': 'application/json', 'X-Situ-Saved-At': String(Date.now()) } }));
  } catch { /* offline: the last one kept stays */ }
}

// The answer to /places?{q} from the kept villages, ranked as situd ranks
// (the name itself, then names starting with q, then holding it; kept
// order within a rank), marked with the time they were kept; null when
// none are kept or villages were not asked.
async function villagesOffline(q) {
  const kept = await (await caches.open(PLACES)).match(KEPT_VILLAGES);
  if (!kept || !(q.get('kind') || 'village').split(',').includes('village')) return null;
  const text = q.get('q') || '', limit = Math.max(0, Number(q.get('limit')) || 10);
  const box = (q.get('bbox') || '').split(',').map(Number);
  const within = ([x, y]) => box.length !== 4 || box.some(Number.isNaN) || (x >= box[0] && y >= box[1] && x <= box[2] && y <= box[3]);
  const rank = (name) => (name === text ? 0 : name.startsWith(text) ? 1 : name.includes(text) ? 2 : -1);
  const hits = (await kept.json()).map((f, i) => ({ f, i, r: rank(f.properties.name) }))
    .filter((h) => h.r >= 0 && within(h.f.geometry.coordinates)).sort((a, b) => a.r - b.r || a.i - b.i);
  const features = hits.slice(0, limit).map((h) => h.f);
  return new Response(JSON.stringify({ type: 'FeatureCollection', numberMatched: hits.length, numberReturned: features.length, features }),
    { headers: { 'Content-Type': 'application/geo+json', 'X-Situ-Saved-At': kept.headers.get('X-Situ-Saved-At') } });
}

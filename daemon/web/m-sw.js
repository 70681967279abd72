// m-sw.js, served as /m/sw.js: the phone page's service worker (scope /m/).
// Keeps the page (its files and the map library) so that it opens with the
// network gone; gives back the last good answers the page saved in the
// Cache Storage 'situ-m-answers' (each with its X-Situ-Saved-At time) when
// situd cannot be reached; and keeps the officer's own township's tiles,
// z10 to z14, which the page names in a message {type: 'township', code, bbox}.
// Does not touch /events (the stream goes to the network) nor POSTs.
//
//   page files: from the cache at once, refreshed from the network 10 s later
//   answers and tiles: the network; when it fails, the cache; else a 503

const PAGE = 'situ-m-page-1';
const ANSWERS = 'situ-m-answers';
const TILES = 'situ-m-tiles';
const PAGE_FILES = ['./', 'phone.js', 'i18n.js', 'util.js', 'phone.css', 'layers.js', 'maplibre-gl.mjs', 'maplibre-gl-worker.mjs', 'maplibre-gl.css'];
const TILE_ZOOMS = [10, 11, 12, 13, 14];
const REFRESH_AFTER_MS = 10000;
const MAX_TILES = 400; // a township is some tens of tiles; a bad bbox must not fetch the city

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
    return kept || offline();
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
  e.waitUntil(keepTiles(d.code, d.bbox).then((n) => e.source && e.source.postMessage({ type: 'tiles-kept', code: d.code, n })));
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

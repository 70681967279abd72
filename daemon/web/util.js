// util.js: small helpers the map wall's and the phone page's modules share:
// the base path of situd's API (a drill's under /drills/{id}/), JSON requests
// to situd that report the status instead of throwing, a DOM builder that
// never parses markup (feature properties come from outside), a debouncer
// and the township search.

import { zoned } from './i18n.js';

// ---- the API's base: the live picture, or a drill (#19) ----------------------------

// A drill's id as situd names it; anything else in ?drill= is refused, never
// put into a URL or the page.
export const DRILL_ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

// The drill the page shows, from its query string (?drill=ID): null for the
// live picture, {id, base: '/drills/ID/'} for a drill, {error} when ?drill=
// is there but no drill id.
export function drillOf(search) {
  const q = new URLSearchParams(search);
  if (!q.has('drill')) return null;
  const id = q.get('drill');
  return DRILL_ID.test(id) ? { id, base: `/drills/${id}/` } : { error: 'drill' };
}

export const drill = drillOf(typeof location === 'undefined' ? '' : location.search);

// The URL of situd's path p for this page: p itself for the live picture; in
// a drill, p under the drill's base (every route of the API, links situd
// wrote without the prefix too), except the page's own files under /web/
// (the same for every store) and the drills' own routes (/drills/...).
export function api(p, d = drill) {
  if (!d || !d.base || typeof p !== 'string' || !p.startsWith('/') || p.startsWith('//')) return p;
  if (p.startsWith('/drills/') || p.startsWith('/web/')) return p;
  return d.base + p.slice(1);
}

// The localStorage key of what this page keeps (a drill's apart from the live picture's).
export function storageKey(k, d = drill) {
  return d && d.id ? `${k}.drill.${d.id}` : k;
}

// GET (or POST) url (a path of situd's, under the page's base: api()); resolves
// to {ok, status, data}. data is the parsed JSON body, or null. Never rejects:
// a dead situd is status 0.
export async function getJSON(url, init) {
  try {
    const r = await fetch(api(url), { cache: 'no-cache', ...init, headers: { Accept: 'application/json', ...(init && init.headers) } });
    let data = null;
    try { data = await r.json(); } catch { data = null; }
    return { ok: r.ok, status: r.status, data };
  } catch {
    return { ok: false, status: 0, data: null };
  }
}

// Every page of a paged request (OGC API items, /townships), following "next"
// links, up to max entries of the array `key` ('features' for items).
export async function getAllItems(url, max = 20000, key = 'features') {
  const { ok, status, features } = await getAllItemsRevalidated(url, new Map(), max, key);
  return { ok, status, features };
}

// getAllItems revalidated (#20): `kept` (the caller's Map, by page URL) holds
// each page's ETag and rows from the last call, and a page is asked again
// with If-None-Match, so an unchanged page costs a 304 and no body, its rows
// reused. Resolves to {ok, status, features, changed}; changed is false when
// every page was unchanged: the same rows as the last call.
export async function getAllItemsRevalidated(url, kept, max = 20000, key = 'features') {
  const features = [];
  const asked = new Set();
  let next = url;
  let status = 200;
  let changed = false;
  while (next && features.length < max) {
    const page = await getPage(next, kept.get(next), key);
    status = page.status;
    // a later page that fails ends the list; only a failed first page is a failure
    if (!page.ok) {
      kept.delete(next);
      return { ok: features.length > 0, status, features, changed: true };
    }
    if (page.fresh) kept.set(next, page);
    changed = changed || page.fresh;
    asked.add(next);
    features.push(...page.rows);
    next = page.next;
  }
  for (const u of kept.keys()) if (!asked.has(u)) { kept.delete(u); changed = true; }
  return { ok: true, status, features, changed };
}

// One page of url: `old` ({etag, rows, next}) when it has not changed since
// (304), else {ok, fresh: true, status, etag, rows, next} read afresh. The
// browser's cache is left out (no-store): `old` is the cache.
async function getPage(url, old, key) {
  try {
    const headers = { Accept: 'application/json' };
    if (old && old.etag) headers['If-None-Match'] = old.etag;
    const r = await fetch(api(url), { cache: 'no-store', headers });
    if (r.status === 304 && old) return { ...old, fresh: false, status: 304 };
    let data = null;
    try { data = await r.json(); } catch { data = null; }
    if (!r.ok || !data || !Array.isArray(data[key])) return { ok: false, status: r.status };
    const link = (data.links || []).find((l) => l.rel === 'next');
    return { ok: true, fresh: true, status: r.status, etag: r.headers.get('ETag'), rows: data[key],
      next: link && data[key].length ? sameOrigin(link.href) : null };
  } catch {
    return { ok: false, status: 0 };
  }
}

// The path and query of href, on this page's origin (situd may name another host).
function sameOrigin(href) {
  const u = new URL(href, location.href);
  return u.pathname + u.search;
}

// el('div', {class: 'x', onclick: f}, 'text', child...): an element; strings
// become text nodes, null and false children are skipped.
export function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (k === 'style' && typeof v === 'object') Object.assign(e.style, v);
    else e.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

// Replaces the children of node with children.
export function fill(node, ...children) {
  node.replaceChildren();
  for (const c of children.flat()) if (c !== null && c !== undefined && c !== false) node.append(c);
  return node;
}

// f, called at most once per `ms` after the last call.
export function debounce(f, ms) {
  let timer = null;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => f(...args), ms);
  };
}

// The bounding box [w, s, e, n] of a GeoJSON geometry.
export function bboxOf(geom) {
  const b = [Infinity, Infinity, -Infinity, -Infinity];
  const walk = (c) => {
    if (typeof c[0] === 'number') {
      b[0] = Math.min(b[0], c[0]); b[1] = Math.min(b[1], c[1]);
      b[2] = Math.max(b[2], c[0]); b[3] = Math.max(b[3], c[1]);
    } else c.forEach(walk);
  };
  if (geom && geom.coordinates) walk(geom.coordinates);
  return b;
}

// Today in the wall's time zone, YYYY-MM-DD.
export function today() {
  const z = zoned(new Date());
  const p = (n) => String(n).padStart(2, '0');
  return `${z.year}-${p(z.month)}-${p(z.day)}`;
}

// Township search: matches a name (or code) in the /townships list.
export function searchTownships(list, query, max = 8) {
  const q = query.trim();
  if (!q) return [];
  const starts = [], contains = [];
  for (const x of list) {
    const hay = `${x.name} ${x.county_name || ''} ${x.code}`;
    if (x.name.startsWith(q) || x.code.startsWith(q)) starts.push(x);
    else if (hay.includes(q)) contains.push(x);
  }
  return [...starts, ...contains].slice(0, max);
}

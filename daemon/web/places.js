// places.js: the base map's named places on the wall, from situd's /places
// (the file situd read with --places; `situ demo` writes places.geojson):
// county seats (a marked dot, named from z9), township seats (from z11) and
// villages (from z12), both named from z13 (layers places-{county,township,
// village}-{dot,label}). The seats are few (one per township) and come once;
// villages come for the view (its box, widened by half) once the map is at
// VILLAGE_Z, so a city of 200 copies does not send its 700,000 villages. Drawn above the roads and risk zones, under the
// alerts and the four maps' points, whose labels win a collision.

import { getJSON, api } from './util.js';

export const VILLAGE_Z = 12;
export const PLACE_NAMES_Z = 13;
const BEFORE = 'townships-line';
const FONT = ['Noto Sans CJK SC', 'WenQuanYi Zen Hei'];
const EMPTY = { type: 'FeatureCollection', features: [] };

// Per kind: its source, from which zoom its dot and its name are drawn, and its look
// (offset: of the name from the point, in ems).
const KINDS = [
  { kind: 'county_seat', source: 'places-seats', dot: 9, name: 9, r: 5.5, size: 15, offset: 1.2, day: '#000000', dark: '#ffffff' },
  { kind: 'township_seat', source: 'places-seats', dot: 11, name: PLACE_NAMES_Z, r: 4, size: 13, offset: 1.2, day: '#3a3a3a', dark: '#c8ced6' },
  { kind: 'village', source: 'places-villages', dot: VILLAGE_Z, name: PLACE_NAMES_Z, r: 2.6, size: 11.5, offset: 0.6, day: '#6b6b6b', dark: '#8c96a3' },
];

// The layers of one kind: places-{kind}-dot and places-{kind}-label.
function kindLayers(k, dark) {
  const filter = ['==', ['get', 'kind'], k.kind], id = `places-${k.kind.replace('_seat', '')}`;
  const halo = dark ? '#0b1220' : '#ffffff';
  return [
    { id: `${id}-dot`, type: 'circle', source: k.source, filter, minzoom: k.dot,
      paint: { 'circle-radius': k.r, 'circle-color': dark ? k.dark : k.day, 'circle-stroke-color': halo, 'circle-stroke-width': k.kind === 'county_seat' ? 2 : 1 } },
    { id: `${id}-label`, type: 'symbol', source: k.source, filter, minzoom: k.name,
      layout: { 'text-field': ['get', 'name'], 'text-font': FONT, 'text-size': k.size,
        // beside the dot, on whichever side is free; a seat's clear of the township depot that stands there
        'text-variable-anchor': ['left', 'right', 'top', 'bottom'], 'text-radial-offset': k.offset },
      paint: { 'text-color': dark ? '#d8dee9' : '#2b2b2b', 'text-halo-color': halo, 'text-halo-width': 1.4 } },
  ];
}

// The view's box widened by half on each side: [w, s, e, n].
function widened(map) {
  const b = map.getBounds(), dx = (b.getEast() - b.getWest()) / 2, dy = (b.getNorth() - b.getSouth()) / 2;
  return [b.getWest() - dx, b.getSouth() - dy, b.getEast() + dx, b.getNorth() + dy];
}

const inside = (a, b) => a[0] >= b[0] && a[1] >= b[1] && a[2] <= b[2] && a[3] <= b[3];

// Adds the places' sources and layers to map (once its style has loaded)
// and keeps the villages of the view loaded.
export function addPlaces(map, dark) {
  const before = map.getLayer(BEFORE) ? BEFORE : undefined;
  map.addSource('places-seats', { type: 'geojson', data: api('/places?kind=county_seat,township_seat&limit=10000') });
  map.addSource('places-villages', { type: 'geojson', data: EMPTY });
  // villages first, so the seats' names win a collision
  for (const k of [...KINDS].reverse()) for (const l of kindLayers(k, dark)) map.addLayer(l, before);
  let box = null, asked = 0;
  const follow = async () => {
    if (map.getZoom() < VILLAGE_Z) return;
    const want = map.getBounds().toArray().flat();
    if (box && inside(want, box)) return;
    const b = widened(map), mine = ++asked;
    const r = await getJSON(`/places?kind=village&limit=10000&bbox=${b.map((v) => v.toFixed(5)).join(',')}`);
    if (mine !== asked || !r.ok) return;
    box = b;
    map.getSource('places-villages').setData(r.data);
  };
  map.on('moveend', follow);
  follow();
}

// layers.js: the map's style. The base (township polygons and names) and the
// four maps come from situd's vector tiles, one source per collection
// (/tiles/{id}.json), so an event that touches one collection reloads only its
// tiles; the live alerts come as GeoJSON (they are few and change by the
// minute). Each map is a group of layers the duty officer toggles, styled by
// type and level, with the legend rows that explain it. No glyphs URL: labels
// are drawn with the machine's own CJK font, so nothing leaves situd.

import { t, tv } from './i18n.js';

export const FONT = ['Noto Sans CJK SC', 'WenQuanYi Zen Hei'];
export const IDEOGRAPH_FONT = "'Noto Sans CJK SC', 'WenQuanYi Zen Hei', sans-serif";

// Chinese warning colours, also used for levels 1 (highest) to 4.
export const SEVERITY = { red: '#e60012', orange: '#ff7a00', yellow: '#f2c200', blue: '#1769e0' };
const LEVEL = { 1: SEVERITY.red, 2: SEVERITY.orange, 3: SEVERITY.yellow, 4: SEVERITY.blue };

export const HAZARD_TYPE = {
  flood: '#2f7fd8', waterlogging: '#5aa6e8', landslide: '#a0522d', debris_flow: '#8b5a2b',
  collapse: '#c08040', subsidence: '#7d6b5d', forest_fire: '#2e8b3e', earthquake: '#7b3fa0',
  drought: '#d2a03c', wind_hail: '#4fb0a8', snow_ice: '#88b8d8',
};
export const HAZARD_STATUS = { open: '#e60012', rectifying: '#ff7a00', rectified: '#2e9d4f' };
export const TEAM_TYPE = {
  water_rescue: '#1769e0', fire_rescue: '#e03a1e', forest_fire: '#2e8b3e', mine_rescue: '#6d4c41',
  hazmat: '#8e24aa', medical: '#d81b60', geological: '#a0522d', power: '#f9a825',
  communications: '#00838f', militia: '#558b2f', volunteer: '#ef6c00', road: '#546e7a',
};
export const STATION_STATUS = { normal: '#2e9d4f', warning: '#f2c200', alarm: '#e60012', offline: '#9aa0a6' };
const DEPOT = '#7b4a12';
const CLUSTER = '#37474f';

// The tiled collections, bottom to top, and the toggles over them.
export const TILED = ['townships', 'risk_zones', 'resources', 'hazard_sources', 'hazards', 'stations'];
export const GROUPS = ['risk_zones', 'hazards', 'hazard_sources', 'resources', 'stations', 'alerts'];
// Layers whose features open a details panel when clicked.
export const CLICKABLE = [
  'hazards-point', 'hazards-cluster', 'hazard_sources-point', 'hazard_sources-cluster',
  'resources-team', 'resources-depot', 'resources-cluster', 'stations-point',
  'stations-camera', 'stations-cluster', 'risk_zones-point', 'risk_zones-cluster',
];

const isCluster = ['==', ['get', 'cluster'], true];
const notCluster = ['!=', ['get', 'cluster'], true];
const isPoint = ['==', ['geometry-type'], 'Point'];
const isPolygon = ['==', ['geometry-type'], 'Polygon'];

function match(field, table, fallback) {
  const m = ['match', ['to-string', ['get', field]]];
  for (const [k, v] of Object.entries(table)) m.push(k, v);
  m.push(fallback);
  return m;
}

function group(id, layer) {
  return { ...layer, metadata: { 'situ:group': id } };
}

// A hidden danger is overdue when not rectified and its deadline is before today.
export const OVERDUE = ['all', ['!=', ['get', 'status'], 'rectified'], ['has', 'deadline'],
  ['<', ['to-string', ['get', 'deadline']], ['global-state', 'today']]];

// A circle of `impact_radius_m` metres at latitude lat: pixels double per zoom.
function metresToPixels(lat) {
  const z0 = (40075016.686 / 512) * Math.cos((lat * Math.PI) / 180);
  const r = ['to-number', ['get', 'impact_radius_m'], 0];
  return ['interpolate', ['exponential', 2], ['zoom'], 0, ['/', r, z0], 22, ['/', r, z0 / 2 ** 22]];
}

function clusterLayers(id, color, labelColor) {
  return [
    group(id, {
      id: `${id}-cluster`, type: 'circle', source: id, 'source-layer': id, filter: isCluster,
      paint: {
        'circle-color': color, 'circle-opacity': 0.85, 'circle-stroke-color': '#fff', 'circle-stroke-width': 1.5,
        'circle-radius': ['step', ['to-number', ['get', 'point_count'], 2], 9, 10, 12, 50, 16, 200, 21],
      },
    }),
    group(id, {
      id: `${id}-cluster-count`, type: 'symbol', source: id, 'source-layer': id, filter: isCluster,
      layout: { 'text-field': ['to-string', ['get', 'point_count']], 'text-font': FONT, 'text-size': 11, 'text-allow-overlap': true },
      paint: { 'text-color': labelColor || '#fff' },
    }),
  ];
}

function townshipLayers(dark) {
  return [
    group('townships', {
      id: 'townships-fill', type: 'fill', source: 'townships', 'source-layer': 'townships',
      paint: { 'fill-color': dark ? '#16233a' : '#ffffff', 'fill-opacity': dark ? 0.9 : 0.85, 'fill-antialias': false },
    }),
  ];
}

function townshipTopLayers(dark) {
  return [
    group('townships', {
      id: 'townships-line', type: 'line', source: 'townships', 'source-layer': 'townships',
      paint: { 'line-color': dark ? '#5b7296' : '#7d8a99', 'line-width': ['interpolate', ['linear'], ['zoom'], 7, 0.5, 12, 1.5] },
    }),
    group('townships', {
      id: 'townships-selected', type: 'line', source: 'townships', 'source-layer': 'townships',
      filter: ['==', ['get', 'township_code'], ['global-state', 'selected']],
      paint: { 'line-color': dark ? '#00e5ff' : '#0050b3', 'line-width': 4 },
    }),
  ];
}

function townshipLabel(dark) {
  return group('townships', {
    id: 'townships-label', type: 'symbol', source: 'township-labels', minzoom: 7,
    layout: {
      'text-field': ['get', 'name'], 'text-font': FONT,
      'text-size': ['interpolate', ['linear'], ['zoom'], 7, dark ? 12 : 10, 11, dark ? 20 : 15],
      'text-max-width': 6, 'text-padding': 4,
    },
    paint: { 'text-color': dark ? '#c9d6ea' : '#33414f', 'text-halo-color': dark ? '#0b1220' : '#ffffff', 'text-halo-width': 1.4 },
  });
}

function riskZoneLayers() {
  const level = ['to-number', ['get', 'risk_level'], 4];
  return [
    group('risk_zones', {
      id: 'risk_zones-fill', type: 'fill', source: 'risk_zones', 'source-layer': 'risk_zones', filter: isPolygon,
      paint: {
        'fill-color': match('hazard_type', HAZARD_TYPE, '#999'),
        'fill-opacity': ['match', level, 1, 0.6, 2, 0.45, 3, 0.32, 0.2],
        'fill-antialias': false, // risk_zones-line draws the edge
      },
    }),
    group('risk_zones', {
      id: 'risk_zones-line', type: 'line', source: 'risk_zones', 'source-layer': 'risk_zones', filter: isPolygon,
      paint: { 'line-color': match('risk_level', LEVEL, '#999'), 'line-width': ['match', level, 1, 2.2, 2, 1.6, 1] },
    }),
    group('risk_zones', {
      id: 'risk_zones-point', type: 'circle', source: 'risk_zones', 'source-layer': 'risk_zones',
      filter: ['all', isPoint, notCluster],
      paint: {
        'circle-color': match('hazard_type', HAZARD_TYPE, '#999'), 'circle-radius': 4,
        'circle-stroke-color': match('risk_level', LEVEL, '#999'), 'circle-stroke-width': 1.5,
      },
    }),
    ...clusterLayers('risk_zones', match('risk_level_min', LEVEL, CLUSTER)),
  ];
}

function resourceLayers() {
  return [
    group('resources', {
      id: 'resources-team', type: 'circle', source: 'resources', 'source-layer': 'resources',
      filter: ['all', notCluster, ['==', ['get', 'category'], 'team']],
      paint: {
        'circle-color': match('team_type', TEAM_TYPE, '#546e7a'),
        'circle-radius': ['interpolate', ['linear'], ['zoom'], 7, 4.5, 12, 8],
        'circle-stroke-color': '#ffffff', 'circle-stroke-width': 1.5,
      },
    }),
    group('resources', {
      id: 'resources-depot', type: 'symbol', source: 'resources', 'source-layer': 'resources',
      filter: ['all', notCluster, ['==', ['get', 'category'], 'depot']],
      layout: { 'icon-image': 'depot', 'icon-size': ['interpolate', ['linear'], ['zoom'], 7, 0.8, 12, 1.3], 'icon-allow-overlap': true },
    }),
    ...clusterLayers('resources', DEPOT),
  ];
}

function hazardSourceLayers(lat) {
  return [
    group('hazard_sources', {
      id: 'hazard_sources-radius', type: 'circle', source: 'hazard_sources', 'source-layer': 'hazard_sources',
      filter: notCluster,
      paint: {
        'circle-radius': metresToPixels(lat), 'circle-color': match('grade', LEVEL, '#999'), 'circle-opacity': 0.1,
        'circle-stroke-color': match('grade', LEVEL, '#999'), 'circle-stroke-width': 1, 'circle-stroke-opacity': 0.7,
        'circle-pitch-alignment': 'map',
      },
    }),
    group('hazard_sources', {
      id: 'hazard_sources-point', type: 'symbol', source: 'hazard_sources', 'source-layer': 'hazard_sources',
      filter: notCluster,
      layout: {
        'icon-image': ['concat', 'source-', ['to-string', ['get', 'grade']]], 'icon-allow-overlap': true,
        'icon-size': ['interpolate', ['linear'], ['zoom'], 7, 0.8, 12, 1.3],
      },
    }),
    ...clusterLayers('hazard_sources', match('grade_min', LEVEL, CLUSTER)),
  ];
}

function hazardLayers(dark) {
  return [
    group('hazards', {
      id: 'hazards-overdue', type: 'circle', source: 'hazards', 'source-layer': 'hazards',
      filter: ['all', notCluster, OVERDUE],
      paint: {
        'circle-radius': ['interpolate', ['linear'], ['zoom'], 7, 5, 10, 9, 13, 14], 'circle-color': '#e60012', 'circle-opacity': 0.18,
        'circle-stroke-color': '#e60012', 'circle-stroke-width': 1.5,
      },
    }),
    group('hazards', {
      id: 'hazards-point', type: 'circle', source: 'hazards', 'source-layer': 'hazards', filter: notCluster,
      paint: {
        'circle-color': match('status', HAZARD_STATUS, '#999'),
        'circle-radius': ['interpolate', ['linear'], ['zoom'], 7, ['case', OVERDUE, 4.5, ['==', ['get', 'level'], 'major'], 4, 3], 12, ['case', OVERDUE, 8, ['==', ['get', 'level'], 'major'], 7, 5.5]],
        'circle-stroke-color': ['case', OVERDUE, dark ? '#ffffff' : '#000000', '#ffffff'],
        'circle-stroke-width': ['case', OVERDUE, 2, 1],
      },
    }),
    ...clusterLayers('hazards', '#b71c1c'),
  ];
}

function stationLayers() {
  const camera = ['==', ['get', 'kind'], 'camera'];
  return [
    group('stations', {
      id: 'stations-point', type: 'circle', source: 'stations', 'source-layer': 'stations',
      filter: ['all', notCluster, ['!', camera]],
      paint: {
        'circle-color': ['case', ['==', ['get', 'online'], false], STATION_STATUS.offline, match('status', STATION_STATUS, STATION_STATUS.normal)],
        'circle-radius': ['match', ['get', 'status'], 'alarm', 6, 'warning', 5, 3.5],
        'circle-stroke-color': '#0b1220', 'circle-stroke-width': 1,
      },
    }),
    group('stations', {
      id: 'stations-camera', type: 'symbol', source: 'stations', 'source-layer': 'stations',
      filter: ['all', notCluster, camera],
      layout: { 'icon-image': ['case', ['==', ['get', 'online'], false], 'camera-off', 'camera-on'], 'icon-allow-overlap': true },
    }),
    ...clusterLayers('stations', '#00695c'),
  ];
}

function alertLayers(dark) {
  const color = match('severity', SEVERITY, '#888');
  return [
    group('alerts', {
      id: 'alerts-fill', type: 'fill', source: 'alerts',
      paint: { 'fill-color': color, 'fill-opacity': dark ? 0.28 : 0.22 },
    }),
    group('alerts', {
      id: 'alerts-line', type: 'line', source: 'alerts',
      paint: { 'line-color': color, 'line-width': 3, 'line-dasharray': [3, 1.5] },
    }),
  ];
}

function alertLabel(dark) {
  return group('alerts', {
    id: 'alerts-label', type: 'symbol', source: 'alerts',
    layout: { 'text-field': ['coalesce', ['get', 'headline'], ['get', 'event']], 'text-font': FONT, 'text-size': dark ? 20 : 14, 'symbol-placement': 'point' },
    paint: { 'text-color': match('severity', SEVERITY, '#888'), 'text-halo-color': dark ? '#000' : '#fff', 'text-halo-width': 2 },
  });
}

function nearestLayers() {
  return [
    { id: 'nearest-lines', type: 'line', source: 'nearest', filter: ['==', ['geometry-type'], 'LineString'],
      paint: { 'line-color': '#0050b3', 'line-width': 2.5, 'line-dasharray': [2, 1] } },
    { id: 'nearest-points', type: 'circle', source: 'nearest', filter: isPoint,
      paint: { 'circle-radius': ['case', ['has', 'rank'], 11, 6], 'circle-color': ['case', ['has', 'rank'], '#0050b3', '#e60012'],
        'circle-stroke-color': '#fff', 'circle-stroke-width': 2 } },
    { id: 'nearest-rank', type: 'symbol', source: 'nearest', filter: ['all', isPoint, ['has', 'rank']],
      layout: { 'text-field': ['to-string', ['get', 'rank']], 'text-font': FONT, 'text-size': 12, 'text-allow-overlap': true },
      paint: { 'text-color': '#fff' } },
  ];
}

// The vector source of collection id from its TileJSON answer (tj, or null
// when /tiles/{id}.json failed: the contract's URL template then stands in,
// so the rest of the map still loads and a failed tile is asked again later).
// Tile URLs are kept on this page's origin, whatever host situd names.
export function vectorSource(id, tj) {
  const own = (u) => {
    const x = new URL(u, location.href);
    return `${location.origin}${decodeURI(x.pathname)}${x.search}`;
  };
  const tiles = tj && Array.isArray(tj.tiles) && tj.tiles.length ? tj.tiles.map(own) : [`${location.origin}/tiles/${id}/{z}/{x}/{y}.mvt`];
  const src = { type: 'vector', tiles, minzoom: tj?.minzoom ?? 0, maxzoom: tj?.maxzoom ?? 14 };
  if (Array.isArray(tj?.bounds) && tj.bounds.length === 4) src.bounds = tj.bounds;
  return src;
}

// The whole style. tilejson: {id: TileJSON or null} of the tiled collections;
// lat: the city's latitude (for metre radii); dark: the wall's theme; today:
// YYYY-MM-DD for overdue.
export function buildStyle({ tilejson, lat, dark, today }) {
  const sources = {
    alerts: { type: 'geojson', data: { type: 'FeatureCollection', features: [] } },
    nearest: { type: 'geojson', data: { type: 'FeatureCollection', features: [] } },
    'township-labels': { type: 'geojson', data: { type: 'FeatureCollection', features: [] } }, // labels.js
  };
  for (const id of TILED) sources[id] = vectorSource(id, tilejson[id]);
  return {
    version: 8,
    state: { today: { default: today }, selected: { default: '' } },
    sources,
    layers: [
      { id: 'background', type: 'background', paint: { 'background-color': dark ? '#070d18' : '#dfe5ec' } },
      ...townshipLayers(dark),
      ...riskZoneLayers(),
      ...townshipTopLayers(dark),
      ...alertLayers(dark),
      ...resourceLayers(),
      ...hazardSourceLayers(lat),
      ...hazardLayers(dark),
      ...stationLayers(),
      townshipLabel(dark),
      alertLabel(dark),
      ...nearestLayers(),
    ],
  };
}

// ---- icons: drawn on a canvas, so no sprite is fetched -------------------------

function canvasIcon(size, draw) {
  const ratio = 2;
  const c = document.createElement('canvas');
  c.width = c.height = size * ratio;
  const g = c.getContext('2d');
  g.scale(ratio, ratio);
  draw(g, size);
  return { image: g.getImageData(0, 0, c.width, c.height), options: { pixelRatio: ratio } };
}

function shape(g, size, kind) {
  const s = size, h = s / 2;
  g.beginPath();
  if (kind === 'diamond') {
    g.moveTo(h, 1); g.lineTo(s - 1, h); g.lineTo(h, s - 1); g.lineTo(1, h);
  } else {
    g.rect(2, 2, s - 4, s - 4);
  }
  g.closePath();
}

const ICONS = {
  depot: () => canvasIcon(14, (g, s) => {
    shape(g, s, 'square'); g.fillStyle = DEPOT; g.fill(); g.lineWidth = 1.5; g.strokeStyle = '#fff'; g.stroke();
    g.fillStyle = '#fff'; g.fillRect(5, 5, s - 10, s - 10);
  }),
  'camera-on': () => cameraIcon('#00a65a'),
  'camera-off': () => cameraIcon('#8a8f96'),
};
for (const [grade, color] of Object.entries(LEVEL)) {
  ICONS[`source-${grade}`] = () => canvasIcon(16, (g, s) => {
    shape(g, s, 'diamond'); g.fillStyle = color; g.fill(); g.lineWidth = 1.5; g.strokeStyle = '#fff'; g.stroke();
  });
}

function cameraIcon(color) {
  return canvasIcon(16, (g) => {
    g.fillStyle = color; g.strokeStyle = '#fff'; g.lineWidth = 1.2;
    g.beginPath(); g.rect(1.5, 4, 10, 8); g.fill(); g.stroke();
    g.beginPath(); g.moveTo(11.5, 7); g.lineTo(15, 5); g.lineTo(15, 11); g.lineTo(11.5, 9); g.closePath(); g.fill(); g.stroke();
  });
}

// Adds icon `id` to the map when a layer asks for it.
export function addMissingIcon(map, id) {
  const make = ICONS[id];
  if (!make || map.hasImage(id)) return;
  const { image, options } = make();
  map.addImage(id, image, options);
}

// ---- the legend -----------------------------------------------------------------

// Legend rows per group: [swatch kind, colour, label].
export function legend() {
  const rows = {};
  rows.risk_zones = [
    ...Object.entries(HAZARD_TYPE).map(([k, c]) => ['fill', c, tv('hazard_type', k)]),
    ...Object.entries(LEVEL).map(([n, c]) => ['line', c, t('risk_level_n', n)]),
  ];
  rows.hazards = [
    ...Object.entries(HAZARD_STATUS).map(([k, c]) => ['dot', c, tv('status', k)]),
    ['ring', '#e60012', t('overdue')],
  ];
  rows.hazard_sources = [
    ...Object.entries(LEVEL).map(([n, c]) => ['diamond', c, t('grade_n', n)]),
    ['ring', '#888', t('impact_radius')],
  ];
  rows.resources = [
    ['square', DEPOT, t('depots')],
    ...Object.entries(TEAM_TYPE).map(([k, c]) => ['dot', c, tv('team_type', k)]),
  ];
  rows.stations = [
    ...Object.entries(STATION_STATUS).map(([k, c]) => ['dot', c, tv('status', k)]),
    ['camera', '#00a65a', `${t('cameras')} · ${t('online')}`],
    ['camera', '#8a8f96', `${t('cameras')} · ${t('offline')}`],
  ];
  rows.alerts = Object.entries(SEVERITY).reverse().map(([k, c]) => ['fill', c, tv('severity', k)]);
  return rows;
}

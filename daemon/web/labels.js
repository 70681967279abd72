// labels.js: one name per township. A polygon label drawn straight from the
// vector tiles repeats in every tile the township crosses; instead the
// township fragments of the loaded tiles are grouped by code, and each name
// is placed once, inside the largest fragment, on a GeoJSON point source
// ('township-labels') that the label layer reads.

// Area of a ring (lon/lat, shoelace; sign ignored).
function ringArea(r) {
  let a = 0;
  for (let i = 0, j = r.length - 1; i < r.length; j = i++) a += (r[j][0] - r[i][0]) * (r[j][1] + r[i][1]);
  return Math.abs(a / 2);
}

// A point inside polygon rings (outer first): the middle of the widest run
// of the horizontal line through the outer ring's middle latitude.
function interiorPoint(rings) {
  const outer = rings[0];
  const ys = outer.map((p) => p[1]);
  const y = (Math.min(...ys) + Math.max(...ys)) / 2;
  const xs = [];
  for (const r of rings) {
    for (let i = 0, j = r.length - 1; i < r.length; j = i++) {
      const [x1, y1] = r[j], [x2, y2] = r[i];
      if ((y1 > y) !== (y2 > y)) xs.push(x1 + ((y - y1) * (x2 - x1)) / (y2 - y1));
    }
  }
  xs.sort((a, b) => a - b);
  let best = null;
  for (let i = 0; i + 1 < xs.length; i += 2) if (!best || xs[i + 1] - xs[i] > best[1] - best[0]) best = [xs[i], xs[i + 1]];
  return best ? [(best[0] + best[1]) / 2, y] : outer[0];
}

function polygonsOf(g) {
  if (g.type === 'Polygon') return [g.coordinates];
  if (g.type === 'MultiPolygon') return g.coordinates;
  return [];
}

// The label points of the township features of the loaded tiles.
function labelPoints(features) {
  const best = {};
  for (const f of features) {
    const code = f.properties.township_code;
    if (!code || !f.properties.name) continue;
    for (const rings of polygonsOf(f.geometry)) {
      const area = ringArea(rings[0]);
      if (!best[code] || area > best[code].area) best[code] = { area, rings, name: f.properties.name };
    }
  }
  return Object.entries(best).map(([code, b]) => ({
    type: 'Feature', properties: { township_code: code, name: b.name },
    geometry: { type: 'Point', coordinates: interiorPoint(b.rings) },
  }));
}

// Keeps the 'township-labels' source in step with the townships tiles.
export function followTownshipLabels(map) {
  let queued = false;
  const update = () => {
    queued = false;
    const feats = map.querySourceFeatures('townships', { sourceLayer: 'townships' });
    map.getSource('township-labels').setData({ type: 'FeatureCollection', features: labelPoints(feats) });
  };
  map.on('sourcedata', (e) => {
    if (e.sourceId !== 'townships' || !map.isSourceLoaded('townships') || queued) return;
    queued = true;
    requestAnimationFrame(update);
  });
}

// The one point an area's label goes on: inside the largest polygon of a
// (Multi)Polygon geometry g; null for another geometry.
export function labelPoint(g) {
  let best = null;
  for (const rings of polygonsOf(g)) if (!best || ringArea(rings[0]) > ringArea(best[0])) best = rings;
  return best ? interiorPoint(best) : null;
}

// panels.js: what the duty officer reads beside the map: a feature's details
// (its full record from /collections/{id}/items/{fid}), the nearest teams and
// supplies to a clicked point (/locate and /nearest: by road, ranked by
// travel time with the routes drawn, when situd has a road network; else by
// straight line, drawn as lines to the depots), a road closure, a township's four-map summary (/townships/{code}) and the
// township search over /townships. Everything is built as DOM nodes from
// text, never from markup.

import { t, tv, tf, tn, localTime, qtyUnit, reading } from './i18n.js';
import { SEVERITY, REACH_MINUTES } from './layers.js';
import { getJSON, getAllItemsRevalidated, el, fill, today, api } from './util.js';
import { gw } from './glance.js';

// The schema's field row of collection cid named name, or undefined.
function fieldOf(schema, cid, name) {
  const c = schema.collections.find((x) => x.id === cid);
  return c && c.fields.find((f) => f.name === name);
}

function itemName(schema, code) {
  return tn(schema.items.find((i) => i.code === code)) || code;
}

// A property value as the officer reads it.
function showValue(schema, name, v, townships, props = {}) {
  if (v === null || v === undefined || v === '') return null;
  if ((name === 'value' || name === 'threshold') && props.metric) return reading(v, props.metric);
  if (name === 'township_code') return townships[v] ? `${townships[v].name} (${v})` : v;
  if (name === 'impact_radius_m') return t('km', Number(v));
  if (name === 'dept') return tn(schema.departments.find((d) => d.code === v)) || v;
  if (name === 'risk_level') return t('level_n', v);
  if (name === 'grade') return t('grade_n', v);
  if (typeof v === 'boolean') return tv('online', v);
  if (typeof v === 'string' && /^\d{4}-\d\d-\d\dT\d\d:\d\d/.test(v)) return localTime(v);
  return tv(name, v);
}

function itemsTable(schema, items) {
  if (!Array.isArray(items) || !items.length) return null;
  return el('table', { class: 'items' }, items.map((it) =>
    el('tr', {}, el('td', {}, itemName(schema, it.item)),
      el('td', { class: 'num' }, qtyUnit(it.qty, it.unit)))));
}

export class Panels {
  // schema: /web/schema.json; node: the info panel; map: the MapLibre map.
  constructor({ schema, node, map }) {
    Object.assign(this, { schema, node, map });
    this.townships = {};
    this.townshipPages = new Map(); // /townships' pages as last read, by URL (loadTownships)
    this.item = '';
    this.minQty = 0;
    this.teamType = ''; // a team type picked: the nearest teams of that type
    this.availableOnly = false; // deployed and standby resources left out
    this.lastPoint = null;
    this.seq = 0; // the panel's latest question: an older answer is dropped
    this.roadNetwork = false; // situd routes by road (set once the roads are known)
    this.byRoad = true; // the officer's choice while there is a network
    this.reachSeq = 0;
  }

  // Every page of /townships (a nation holds tens of thousands), each asked
  // again with its ETag (#20): {list, changed}, changed false when no page
  // changed since the last call (the same rows, nothing downloaded).
  async loadTownships() {
    const r = await getAllItemsRevalidated('/townships?limit=10000', this.townshipPages, 200000, 'townships');
    const list = r.ok ? r.features : [];
    if (r.changed || !r.ok) this.townships = Object.fromEntries(list.map((x) => [x.code, x]));
    return { list, changed: r.changed || !r.ok };
  }

  close() {
    this.seq++;
    fill(this.node);
    this.node.classList.remove('open');
    this.map.getSource('nearest').setData({ type: 'FeatureCollection', features: [] });
  }

  show(title, ...body) {
    fill(this.node, el('header', {}, el('h3', {}, title), el('button', { class: 'close', title: t('close'), onclick: () => this.close() }, '×')), ...body);
    this.node.classList.add('open');
  }

  // ---- details -----------------------------------------------------------------

  // Shows the clicked tile feature f of collection cid (a cluster, or one feature).
  async details(cid, f) {
    const my = ++this.seq;
    const p = f.properties || {};
    if (cid === 'closures') return this.closure(p);
    if (p.cluster === true || p.cluster === 'true') {
      this.show(t(cid), el('p', {}, t('cluster', p.point_count)), this.clusterRows(cid, p));
      this.map.easeTo({ center: f.geometry.coordinates, zoom: Math.min(this.map.getZoom() + 2, 16) });
      return;
    }
    let props = p;
    if (p.id) {
      const r = await getJSON(`/collections/${cid}/items/${encodeURIComponent(p.id)}`);
      if (my !== this.seq) return;
      if (r.ok && r.data && r.data.properties) props = { ...r.data.properties, id: r.data.id ?? p.id };
    }
    this.show(`${t(cid)} · ${props.name || props.headline || props.id || ''}`, this.propTable(cid, props));
  }

  clusterRows(cid, p) {
    const rows = Object.entries(p).filter(([k]) => /_(min|sum)$/.test(k) || k.startsWith('item_'));
    return el('table', { class: 'props' }, rows.map(([k, v]) => {
      const name = k.replace(/_(min|sum)$/, '').replace(/^item_/, '');
      const label = k.startsWith('item_') ? itemName(this.schema, name) : `${tf(fieldOf(this.schema, cid, name), name)} (${k.endsWith('_min') ? 'min' : t('total')})`;
      return el('tr', {}, el('th', {}, label), el('td', {}, Number(v).toLocaleString()));
    }));
  }

  propTable(cid, props) {
    const c = this.schema.collections.find((x) => x.id === cid);
    const names = [...(c ? c.fields.map((f) => f.name) : []), 'township_code', 'updated_at'];
    for (const k of Object.keys(props)) if (!names.includes(k) && !k.startsWith('item_') && k !== 'items' && k !== 'extra') names.push(k);
    const overdue = cid === 'hazards' && props.status !== 'rectified' && props.deadline && String(props.deadline) < today();
    const rows = names.map((n) => {
      const v = showValue(this.schema, n, props[n], this.townships, props);
      return v === null ? null : el('tr', {}, el('th', {}, tf(fieldOf(this.schema, cid, n), n)),
        el('td', {}, v, n === 'deadline' && overdue ? el('span', { class: 'overdue' }, ` ${t('overdue')}`) : null));
    });
    return [el('table', { class: 'props' }, rows), itemsTable(this.schema, props.items)];
  }

  // ---- nearest supplies ------------------------------------------------------------

  itemPicker() {
    const sel = el('select', { class: 'item-picker', onchange: (e) => { this.item = e.target.value; this.rerun(); } },
      el('option', { value: '' }, t('any_item')),
      this.schema.items.map((i) => el('option', { value: i.code, selected: i.code === this.item }, tn(i))));
    const qty = el('input', { class: 'min-qty', type: 'number', min: 0, step: 100, value: this.minQty || '', placeholder: t('min_qty'),
      onchange: (e) => { this.minQty = Math.max(0, Number(e.target.value) || 0); this.rerun(); } });
    return el('div', { class: 'picker' }, el('label', {}, t('item'), ' ', sel), el('label', {}, t('min_qty'), ' ', qty), this.teamPicker());
  }

  // The team types of the schema (resources.team_type), and whether deployed
  // and standby resources are left out.
  teamPicker() {
    const f = fieldOf(this.schema, 'resources', 'team_type');
    const types = f && f.values ? (Array.isArray(f.values) ? f.values : String(f.values).split('|')) : [];
    const sel = el('select', { class: 'team-picker', onchange: (e) => { this.teamType = e.target.value; if (this.teamType) this.item = ''; this.rerun(); } },
      el('option', { value: '' }, gw('any_team')),
      types.map((k) => el('option', { value: k, selected: k === this.teamType }, tv('team_type', k))));
    const avail = el('input', { type: 'checkbox', class: 'available-only', checked: this.availableOnly, onchange: (e) => { this.availableOnly = e.target.checked; this.rerun(); } });
    return [el('label', {}, gw('team_type'), ' ', sel), el('label', {}, avail, ` ${gw('available_only')}`)];
  }

  rerun() {
    if (this.lastPoint) this.nearest(this.lastPoint);
  }

  // The roads changed (a closure came or went): an open answer by road is asked again.
  roadsChanged() {
    if (this.lastPoint && this.node.classList.contains('open') && this.node.querySelector('.nearest-list.by-road')) this.rerun();
    if (this.reachFrom) this.reach(this.reachFrom);
  }

  modePicker() {
    if (!this.roadNetwork) return null;
    const radio = (v, label) => el('label', {}, el('input', { type: 'radio', name: 'nearest-mode', value: v, checked: this.byRoad === (v === 'road'),
      onchange: () => { this.byRoad = v === 'road'; this.rerun(); } }), ` ${label}`);
    return el('div', { class: 'mode' }, radio('road', t('by_road')), radio('line', t('straight')));
  }

  // Queries and shows the nearest resources to lngLat, with lines to them;
  // zones are the risk-zone features drawn under the click.
  async nearest(lngLat, zones = this.lastZones || []) {
    const my = ++this.seq;
    this.lastPoint = lngLat;
    this.lastZones = zones;
    const { lng, lat } = lngLat;
    const q = new URLSearchParams({ lon: lng.toFixed(6), lat: lat.toFixed(6), collection: 'resources', k: '5' });
    if (this.item) q.set('item', this.item);
    if (this.item && this.minQty) q.set('min_qty', String(this.minQty));
    if (this.teamType && !this.item) { q.set('category', 'team'); q.set('team_type', this.teamType); }
    if (this.availableOnly) q.set('status', 'available');
    const byRoad = this.roadNetwork && this.byRoad;
    const list = el('div', { class: `nearest-list${byRoad ? ' by-road' : ''}` }, '…');
    const here = el('div', { class: 'here' });
    this.show(t('nearest'), this.modePicker(), this.itemPicker(), here, this.zoneLines(zones), list);
    this.locate(lng, lat, here);
    let r = byRoad ? await getJSON(`/nearest?${q}&by=road&route=1`) : null;
    let note = null;
    // off the network (no road near the point: 400), or situd still building its road graph
    // (503, #20): the straight line answers
    if (r && (r.status === 400 || r.status === 503)) {
      note = el('p', { class: 'warn' }, (r.data && r.data.detail) || t('no_results'));
      r = null;
    }
    if (!r) r = await getJSON(`/nearest?${q}`);
    if (my !== this.seq) return;
    if (!r.ok || !r.data || !Array.isArray(r.data.features)) {
      fill(list, el('p', { class: 'warn' }, t('unavailable', t('nearest_route'), r.status || 'offline')));
      return;
    }
    const roadAnswer = r.data.query && r.data.query.by === 'road';
    const features = r.data.features;
    this.drawNearest([lng, lat], features);
    this.reveal([lng, lat], features);
    // fewer than asked: situd counts the matching ones no road reaches
    const unreachable = roadAnswer && Number.isFinite(r.data.query.unreachable) ? r.data.query.unreachable : null;
    fill(list, note, features.length ? el('ol', { class: 'results' }, features.map((f) => this.resultRow(f)))
      : el('p', {}, t('no_results')),
    unreachable === null ? null : el('p', { class: 'unreachable', 'data-n': unreachable }, unreachable ? t('unreachable_n', unreachable) : t('all_reachable')));
  }

  resultRow(f) {
    const p = f.properties || {};
    const match = this.item && Array.isArray(p.items) ? p.items.find((i) => i.item === this.item) : null;
    const road = Number.isFinite(p.travel_s);
    const busy = p.status === 'deployed' || p.status === 'standby';
    return el('li', { class: `result${busy ? ' busy' : ''}`, 'data-status': p.status || '', onclick: () => this.map.easeTo({ center: f.geometry.coordinates, zoom: Math.max(this.map.getZoom(), 12) }) },
      el('span', { class: 'rname' }, p.name || f.id), // its text is the name alone: the tests read it
      p.status ? el('span', { class: `rstatus ${p.status}` }, gw('status')[p.status] || p.status) : null,
      road ? el('div', { class: 'rroad' }, el('span', { class: 'rtime', 'data-s': p.travel_s }, t('minutes', p.travel_s)),
        ` · ${t('by_road_km', Number(p.road_m))} · ${t('straight_km', Number(p.distance_m))}`) : null,
      el('div', { class: 'rmeta' },
        road ? '' : el('span', { class: 'rkind' }, `${gw('straight_line')} `),
        road ? '' : `${t('km', Number(p.distance_m))} ${p.bearing_deg !== undefined ? t('bearing', Number(p.bearing_deg)) : ''}`,
        p.township_name ? ` · ${p.township_name}` : '',
        p.category ? ` · ${tv('category', p.category)}` : '',
        p.team_type ? ` · ${tv('team_type', p.team_type)}` : '',
        p.personnel ? ` · ${p.personnel}${t('personnel')}` : ''),
      match ? el('div', { class: 'rqty' }, `${itemName(this.schema, match.item)} ${qtyUnit(match.qty, match.unit)}`) : null,
      p.contact || p.phone ? el('div', { class: 'rcontact' }, p.contact ? `${gw('contact')} ${p.contact}` : '',
        p.phone ? [' · ', el('a', { href: `tel:${p.phone}`, onclick: (e) => e.stopPropagation() }, p.phone)] : null) : null);
  }

  // The risk zones under the click, each opening its details.
  zoneLines(zones) {
    const seen = new Set();
    return zones.filter((f) => !seen.has(f.properties.id) && seen.add(f.properties.id)).map((f) => {
      const p = f.properties;
      return el('p', { class: 'zone-line', onclick: () => this.details('risk_zones', f) },
        el('b', {}, `${t('risk_zones')}: `), `${tv('hazard_type', p.hazard_type)} · ${t('level_n', p.risk_level)} · ${p.name || ''}`);
    });
  }

  // Moves the map so that the point and every result are in view, when some are not.
  reveal(from, features) {
    const pts = [from, ...features.filter((f) => f.geometry && f.geometry.type === 'Point').map((f) => f.geometry.coordinates)];
    const view = this.map.getBounds();
    if (pts.every((c) => view.contains(c))) return;
    const b = [Math.min(...pts.map((c) => c[0])), Math.min(...pts.map((c) => c[1])), Math.max(...pts.map((c) => c[0])), Math.max(...pts.map((c) => c[1]))];
    this.map.fitBounds(b, { padding: 80, maxZoom: 13, duration: 800 });
  }

  drawNearest(from, features) {
    const out = [{ type: 'Feature', properties: {}, geometry: { type: 'Point', coordinates: from } }];
    features.forEach((f, i) => {
      if (!f.geometry || f.geometry.type !== 'Point') return;
      out.push({ type: 'Feature', properties: { rank: i + 1 }, geometry: f.geometry });
      const route = f.properties && f.properties.route;
      if (route && route.type === 'LineString') out.push({ type: 'Feature', properties: { route_rank: i + 1 }, geometry: route });
      else out.push({ type: 'Feature', properties: { rank_line: i + 1 }, geometry: { type: 'LineString', coordinates: [from, f.geometry.coordinates] } });
    });
    out.sort((a, b) => (b.properties.route_rank || 0) - (a.properties.route_rank || 0)); // the first route drawn last, on top
    this.map.getSource('nearest').setData({ type: 'FeatureCollection', features: out });
  }

  // Fills node with the township at the point, the alerts over it and the
  // hazard sources that reach it.
  async locate(lng, lat, node) {
    const r = await getJSON(`/locate?lon=${lng.toFixed(6)}&lat=${lat.toFixed(6)}`);
    if (!r.ok || !r.data) return;
    const d = r.data;
    fill(node,
      d.township ? el('p', {}, el('b', {}, `${t('here')}: `), `${d.township.county_name || ''} ${d.township.name}`) : null,
      (d.alerts || []).map((a) => el('p', { class: 'alert-line' }, el('b', { class: 'sev', style: { background: SEVERITY[a.severity] || '#888' } }, tv('severity', a.severity)), ` ${a.headline || tv('event', a.event)}`)),
      (d.hazard_sources || []).length ? el('p', {}, `${t('hazard_sources')}: `, d.hazard_sources.map((h) => h.name).join('、')) : null);
  }

  // ---- road closures and reach -------------------------------------------------------

  // Shows a closure area of /closures (its properties p).
  closure(p) {
    const row = (k, v) => (v === null || v === undefined || v === '' ? null : el('tr', {}, el('th', {}, t(k)), el('td', {}, v)));
    const dept = this.schema.departments.find((d) => d.code === p.dept);
    this.show(`${t('closure')} · ${p.reason || ''}`, el('table', { class: 'props closure' },
      row('reason', p.reason),
      row('until', p.until ? localTime(p.until) : t('until_unknown')),
      row('closed_by', dept ? tn(dept) : p.dept),
      row('segments_closed', p.segments_closed),
      row('radius_m', p.radius_m ? t('km', Number(p.radius_m)) : null)));
  }

  // Draws the 10/20/30-minute reach areas from lngLat (the largest under).
  async reach(lngLat) {
    const my = ++this.reachSeq;
    this.reachFrom = lngLat;
    const r = await getJSON(`/reach?lon=${lngLat.lng.toFixed(6)}&lat=${lngLat.lat.toFixed(6)}&minutes=${REACH_MINUTES.join(',')}`);
    if (my !== this.reachSeq || !this.reachFrom) return;
    const areas = r.ok && r.data && Array.isArray(r.data.features) ? r.data.features.filter((f) => f.properties && f.properties.kind === 'area') : [];
    areas.sort((a, b) => b.properties.minutes - a.properties.minutes);
    this.map.getSource('reach').setData({ type: 'FeatureCollection', features: areas });
    return r.status;
  }

  clearReach() {
    this.reachSeq++;
    this.reachFrom = null;
    this.map.getSource('reach').setData({ type: 'FeatureCollection', features: [] });
  }

  // ---- township summary ---------------------------------------------------------------

  async summary(code) {
    const my = ++this.seq;
    const r = await getJSON(`/townships/${encodeURIComponent(code)}`);
    if (my !== this.seq || !r.ok || !r.data) return;
    const s = r.data;
    const m = s.maps || {};
    this.show(`${s.county_name || ''} ${s.name}`, el('div', { class: 'summary' },
      el('p', { class: 'sub' }, `${t('summary')} · ${code}`, s.population ? ` · ${Number(s.population).toLocaleString()}` : ''),
      el('div', { class: 'actions' },
        drillExport(code),
        el('a', { class: 'print', href: '#', onclick: (e) => { e.preventDefault(); window.print(); } }, gw('print'))),
      this.block('risk_zones', m.risk_zones, (x) => [counts(x.by_level, (k) => t('level_n', k)), counts(x.by_type, (k) => tv('hazard_type', k))]),
      this.block('hazards', m.hazards, (x) => [counts(x.by_status, (k) => tv('status', k)), x.overdue ? el('span', { class: 'overdue' }, `${t('overdue')} ${x.overdue}`) : null]),
      this.block('hazard_sources', m.hazard_sources, (x) => [counts(x.by_grade, (k) => t('grade_n', k))]),
      this.block('resources', m.resources, (x) => [counts(x.by_category, (k) => tv('category', k)),
        counts(Object.fromEntries(Object.entries(x.items || {}).map(([k, v]) => [k, qtyUnit(v.qty, v.unit)])), (k) => itemName(this.schema, k))]),
      this.block('stations', s.stations, (x) => [counts(x.by_status, (k) => tv('status', k)), x.cameras ? `${t('cameras')} ${x.cameras_online}/${x.cameras}` : null]),
      el('div', { class: 'block' }, el('h4', {}, `${t('active_alerts')} ${(s.alerts || []).length}`),
        (s.alerts || []).map((a) => el('p', { class: 'alert-line' }, el('b', { class: 'sev', style: { background: SEVERITY[a.severity] || '#888' } }, tv('severity', a.severity)), ` ${a.headline || tv('event', a.event)}`)))));
  }

  block(cid, x, rows) {
    if (!x) return null;
    return el('div', { class: `block ${cid}` }, el('h4', {}, `${t(cid)} `, el('b', {}, String(x.total ?? 0))), rows(x));
  }
}

// The drill export of township code's four maps (situd's /export/drill.{fmt}):
// a format picker and the link, whose address and file name follow it.
export const DRILL_FORMATS = ['geojson', 'gpkg', 'shp.zip', 'csv', 'xlsx', 'kml'];

function drillExport(code) {
  const link = el('a', { class: 'drill-export' }, gw('drill_export'));
  const point = (fmt) => {
    link.href = api(`/export/drill.${fmt}?townships=${encodeURIComponent(code)}`);
    link.download = `drill-${code}.${fmt}`;
  };
  point(DRILL_FORMATS[0]);
  const pick = el('select', { class: 'drill-format', 'aria-label': gw('drill_format'), onchange: (e) => point(e.target.value) },
    DRILL_FORMATS.map((f) => el('option', { value: f }, gw(`fmt_${f}`))));
  return el('span', { class: 'drill' }, link, ' ', pick);
}

// "k1 n1 · k2 n2" from a {key: count} object.
function counts(obj, label) {
  const parts = Object.entries(obj || {}).map(([k, v]) => `${label(k)} ${typeof v === 'number' ? v.toLocaleString() : v}`);
  return parts.length ? el('div', { class: 'counts' }, parts.join(' · ')) : null;
}

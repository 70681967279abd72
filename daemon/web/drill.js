// drill.js: the wall as a drill's (#19). /?drill=ID shows the drill's own
// store: every path the page asks situd for goes under /drills/ID/ (util.js's
// api(), through which getJSON and the tiles, the event stream, the places
// and the export links pass). Every view of a drill is marked as an exercise,
// in both languages, on the desk and on the wall (?wall=1):
//  - a banner above the top bar naming the exercise, its state (running,
//    paused, finished, stopped), its scenario time and speed, from situd's
//    GET /drills/ID, asked every POLL_MS; it stays once the drill has ended;
//  - a diagonal watermark over the map ("演练 EXERCISE"), which takes no clicks;
//  - the document's title prefixed with the marking;
// and the alert banner and ticker carry the marking too (alerts.js, live.js).
// A ?drill= that is no drill id, or names a drill situd does not know,
// shows an error page instead of the map: nothing of it is put into a URL,
// and it reaches the page as text only.
//
// Alerts are in force at the drill's scenario time (alertTime()), which runs
// at the drill's speed between two answers of the status.
//
// window.__situ.drill: {id, status, error} for the browser test.

import { t, tv, localTime } from './i18n.js';
import { drill, getJSON, el, fill } from './util.js';

const POLL_MS = 3000;
const WATERMARK_COPIES = 60;
const LEAD_MS = 1000;

// The status of GET /drills/ID ({id, exercise_id, title, state, speed:
// 1..60 or "max", scenario_start: RFC 3339, scenario_ms: since the start,
// injects: {total, applied, failed, pending}}) as the page reads it.
function readStatus(d) {
  const start = Date.parse(d.scenario_start || ''), offset = Number(d.scenario_ms);
  const n = d.injects || {};
  return {
    title: String(d.title || d.exercise_id || ''),
    state: String(d.state || ''),
    speed: d.speed === 'max' ? 'max' : Number(d.speed) || 1,
    offsetMs: Number.isFinite(offset) ? offset : null,
    scenarioMs: Number.isFinite(start) && Number.isFinite(offset) ? start + offset : null,
    done: Number.isFinite(n.total) ? { done: (n.applied || 0) + (n.failed || 0), total: n.total } : null,
  };
}

// "T+1:05:00": ms since the drill's start.
function sinceStart(ms) {
  const s = Math.floor(Math.max(0, ms) / 1000), p2 = (n) => String(n).padStart(2, '0');
  return `T+${Math.floor(s / 3600)}:${p2(Math.floor(s / 60) % 60)}:${p2(s % 60)}`;
}

// Replaces the page with an error about the drill asked for (why: text).
export function drillError(situ, why) {
  situ.drill = { id: drill && drill.id, error: why };
  document.title = `${t('exercise')} · ${why}`;
  document.body.className = 'drill drill-error';
  fill(document.body, el('div', { id: 'drill-error', role: 'alert' },
    el('b', { class: 'exercise' }, t('exercise')), el('p', {}, why), el('a', { href: '/' }, t('drill_live'))));
}

export class DrillMark {
  // situ: window.__situ; wall: the video wall.
  constructor({ situ, wall }) {
    Object.assign(this, { situ, wall });
    this.status = null; // readStatus of the last answer
    this.polledAt = 0; // performance.now() of that answer
    situ.drill = { id: drill.id, status: null, error: null };
    document.title = `${t('exercise')} · ${document.title}`;
    document.body.classList.add('drill');
    this.banner = el('div', { id: 'drill-banner', role: 'status' });
    document.body.prepend(this.banner);
    this.lost = null;
    this.render();
  }

  // Asks the drill's status once, then every POLL_MS; resolves to the first
  // answer's HTTP status (404: no such drill).
  async start() {
    const first = await this.poll();
    if (first !== 404) this.timer = setInterval(() => this.poll(), POLL_MS);
    return first;
  }

  async poll() {
    const r = await getJSON(`/drills/${drill.id}`);
    if (r.ok && r.data) {
      this.status = readStatus(r.data);
      this.polledAt = performance.now();
      this.situ.drill.status = r.data;
    }
    this.lost = r.ok ? null : r.status;
    this.render();
    return r.status;
  }

  // The drill's scenario time now (ms since the epoch): the last answer's,
  // run on at the drill's speed while it runs; the wall clock until then.
  now() {
    const s = this.status;
    if (!s || s.scenarioMs === null) return Date.now();
    const running = s.state === 'running' && s.speed !== 'max';
    return s.scenarioMs + (running ? (performance.now() - this.polledAt) * s.speed : 0);
  }

  // The time alerts are judged in force at: now(), a second of the drill's
  // ahead (the status is as old as its trip, and an inject applied at its
  // scenario time starts at once: at 60x, 100 ms late would hide it).
  alertTime() {
    const s = this.status;
    const speed = !s || s.speed === 'max' ? 1 : s.speed;
    return this.now() + LEAD_MS * speed;
  }

  // The watermark over the map: many diagonal copies of the marking.
  watermark(container) {
    const copies = Array.from({ length: WATERMARK_COPIES }, () => el('span', {}, t('exercise')));
    container.append(el('div', { id: 'drill-watermark', 'aria-hidden': 'true' }, el('div', { class: 'tiles' }, copies)));
  }

  // The banner: the marking, the exercise, its state and scenario time, and
  // the HTTP status of the last poll when it failed (0: situd unreachable).
  render() {
    const s = this.status, lost = this.lost;
    this.banner.className = s ? `state-${s.state}` : '';
    const parts = s ? [
      el('span', { class: 'title' }, s.title),
      el('span', { class: 'state' }, tv('drill_state', s.state)),
      s.scenarioMs === null ? null : el('span', { class: 'time' },
        `${t('drill_time')} ${sinceStart(this.now() - s.scenarioMs + s.offsetMs)} · ${localTime(new Date(this.now()))}`),
      el('span', { class: 'speed' }, t('drill_speed', s.speed)),
      s.done ? el('span', { class: 'injects' }, t('drill_injects', s.done.done, s.done.total)) : null,
    ] : [];
    fill(this.banner, el('b', { class: 'exercise' }, t('exercise')), parts,
      lost === null ? null : el('span', { class: 'lost' }, t('drill_status_lost', lost || 'offline')),
      el('span', { class: 'notice' }, t('drill_notice')),
      this.wall ? null : el('a', { class: 'live-link', href: '/' }, t('drill_live')));
  }
}

// Following a session live: the server-sent events stream (`reading` and `mood` events), or
// polling the readings and the session every few seconds where the browser has no
// EventSource or the stream is refused (e.g. too many streams open in other tabs).

import { api } from "./api.js";

const POLL_MS = 1500;

export class LiveFeed {
  // onReadings([primary readings]) and onMood({v, a}) receive what arrives; onError(err) a
  // polling failure.
  constructor(sessionId, { onReadings, onMood, onError = () => {} }) {
    this.id = sessionId;
    this.onReadings = onReadings;
    this.onMood = onMood;
    this.onError = onError;
    this.source = null;
    this.timer = null;
    this.since = null;
  }

  start() {
    if (!("EventSource" in window)) { this.poll(); return; }
    const source = new EventSource(`/api/sessions/${this.id}/events`);
    this.source = source;
    source.addEventListener("reading", (e) => {
      const r = JSON.parse(e.data);
      if (r.is_primary) this.readings([r]);
    });
    source.addEventListener("mood", (e) => {
      const m = JSON.parse(e.data);
      if (m.valence !== null) this.onMood({ v: m.valence, a: m.arousal });
    });
    source.addEventListener("end", (e) => {
      // reconnect false: access to this session ended (assignment, consent, erasure)
      if (!JSON.parse(e.data).reconnect) {
        this.stop();
        this.onError(new Error("live updates ended: you no longer have access to this session"));
      }
    });
    source.addEventListener("error", () => {
      // CLOSED: the server refused the stream (too many open, an error), so poll instead.
      // While CONNECTING the browser reconnects by itself and resumes from Last-Event-ID.
      if (source.readyState === EventSource.CLOSED) { this.source = null; this.poll(); }
    });
  }

  stop() {
    if (this.source) this.source.close();
    this.source = null;
    clearInterval(this.timer);
    this.timer = null;
  }

  readings(list) {
    if (!list.length) return;
    this.since = list[list.length - 1].captured_at;
    this.onReadings(list);
  }

  poll() {
    if (this.timer) return;
    this.tick();
    this.timer = setInterval(() => this.tick(), POLL_MS);
  }

  async tick() {
    try {
      const since = this.since ? `&since=${encodeURIComponent(this.since)}` : "";
      const page = await api(`/api/sessions/${this.id}/readings?primary=1&page_size=200${since}`);
      this.readings(page.results);
      const s = await api(`/api/sessions/${this.id}`);
      if (s.mood_valence !== null) this.onMood({ v: s.mood_valence, a: s.mood_arousal });
    } catch (err) {
      this.onError(err);
    }
  }
}

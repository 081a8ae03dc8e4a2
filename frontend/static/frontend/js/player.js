// The session's player: one playlist track at a time, in an <audio> element when the track has
// a local file (audio_url), else in Spotify's embed player (external_id). Every start, pause,
// resume, finish and skip goes to POST /api/sessions/{id}/playback, in order, each with its own
// client_event_id so a retry is stored once. The player sits outside the playlist's list, so a
// rebuilt playlist never interrupts the track that plays.

import { api, el, fmtClock, toast } from "./api.js";

export const playable = (track) => Boolean(track.audio_url || track.external_id);

export const embedUrl = (track) =>
  `https://open.spotify.com/embed/track/${encodeURIComponent(track.external_id)}`;

const RETRY_MS = 1000;

export class Player {
  // parts: the template's elements {audio, embed, now, time, toggle, next, skip}.
  // upcoming() -> the playlist's [{rec, track}] still to play, in order;
  // onTrack(trackId | null) is told which track is current.
  constructor(sessionId, parts, { upcoming, onTrack = () => {} }) {
    Object.assign(this, parts);
    this.sessionId = sessionId;
    this.upcoming = upcoming;
    this.onTrack = onTrack;
    this.current = null;  // {rec, track, embed, shownAt}
    // idle: nothing current; starting: an audio track waits for its first `play`;
    // playing / paused: as the patient hears it (an embed counts as playing once shown).
    this.state = "idle";
    this.stopped = false;  // the session ended: nothing plays any more
    this.heard = new Set();  // track ids started on this page: the queue moves past them
    this.sent = Promise.resolve();  // the chain that keeps events in order
    this.audio.addEventListener("play", () => this.onPlay());
    this.audio.addEventListener("pause", () => this.onPause());
    this.audio.addEventListener("ended", () => this.onEnded());
    this.audio.addEventListener("timeupdate", () => this.showTime());
    this.toggle.addEventListener("click", () => this.toggleAudio());
    this.next.addEventListener("click", () => this.finish());
    this.skip.addEventListener("click", () => this.skipCurrent());
    this.show();
  }

  nextEntry() {
    const fresh = ({ track }) => playable(track) && !this.heard.has(track.id);
    return this.upcoming().find(fresh) || null;
  }

  // Start an entry (a row's Play button) or the next in the queue. A track still playing is
  // not reported: the server closes it as interrupted when the new one starts.
  play(entry = this.nextEntry()) {
    if (this.stopped) return;
    if (this.current && entry && this.current.track.id === entry.track.id) {
      if (!this.current.embed && this.audio.paused) this.resumeAudio();
      return;
    }
    this.silence();
    this.current = entry && { ...entry, embed: !entry.track.audio_url, shownAt: Date.now() };
    this.onTrack(entry ? entry.track.id : null);
    if (!entry) {  // the queue ran out: Play starts what a rebuilt playlist adds
      this.show();
      return;
    }
    this.heard.add(entry.track.id);
    if (this.current.embed) {
      this.embed.replaceChildren(el("iframe", {
        src: embedUrl(entry.track), title: `Spotify player: ${entry.track.title}`,
        width: "100%", height: "152", loading: "lazy", style: "border:0",
        allow: "autoplay; clipboard-write; encrypted-media",
      }));
      this.state = "playing";
      this.record("started", 0);
    } else {
      this.state = "starting";  // `play` records started once the audio really begins
      this.audio.src = entry.track.audio_url;
      this.resumeAudio();
    }
    this.show();
  }

  resumeAudio() {
    // The first play follows a click; later ones (the queue moving on) rely on that
    // activation. If the browser still refuses, the Play button waits for the patient.
    this.audio.play().catch((err) => { if (err.name !== "AbortError") this.show(); });
  }

  toggleAudio() {
    if (!this.current) this.play();
    else if (this.audio.paused) this.resumeAudio();
    else this.audio.pause();
  }

  onPlay() {
    if (this.state === "starting") this.record("started", this.position());
    else if (this.state === "paused") this.record("resumed", this.position());
    else return;
    this.state = "playing";
    this.show();
  }

  onPause() {
    // an ended track pauses too (then `ended` reports it); a replaced one is not playing
    if (this.state !== "playing" || this.audio.ended || !this.current || this.current.embed) return;
    this.record("paused", this.position());
    this.state = "paused";
    this.show();
  }

  onEnded() {
    if (this.state === "playing") this.finish();
  }

  // The track played to its end (the audio's `ended`, or "Next" under an embed).
  finish() {
    if (!this.current) return;
    const end = this.current.embed ? this.position() : this.cap(this.audio.duration * 1000);
    this.record("finished", end);
    this.play();
  }

  skipCurrent() {
    if (!this.current) return;
    this.record("skipped", this.position());
    this.play();
  }

  // The session ended (or is ending): report where the track stood, then go quiet.
  stop() {
    this.stopped = true;
    if (this.current && this.state === "playing") this.record("paused", this.position());
    this.silence();
    this.current = null;
    this.state = "idle";
    this.audio.removeAttribute("src");
    this.onTrack(null);
    this.show();
    return this.sent;
  }

  silence() {
    this.state = "idle";  // before pausing, so the `pause` that follows is not reported
    this.audio.pause();
    this.embed.replaceChildren();
  }

  // Milliseconds into the current track. An embed (another site's frame) cannot be observed:
  // its position is the wall-clock time since it was shown, capped at the track's length.
  position() {
    const c = this.current;
    return this.cap(c.embed ? Date.now() - c.shownAt : this.audio.currentTime * 1000);
  }

  // The server refuses positions past the track's stated length (beyond a little slack); a
  // local file may run a few milliseconds longer than its catalogue entry says.
  cap(ms) {
    const whole = Number.isFinite(ms) ? Math.round(ms) : 0;
    return Math.max(0, Math.min(whole, this.current.track.duration_ms));
  }

  record(kind, positionMs) {
    const body = { item: this.current.rec.id, kind, position_ms: positionMs,
      client_event_id: crypto.randomUUID() };
    this.sent = this.sent.then(() => this.send(body));
    return this.sent;
  }

  async send(body, tries = 3) {
    try {
      await api(`/api/sessions/${this.sessionId}/playback`, { method: "POST", body });
    } catch (err) {
      if (err.status === undefined && tries > 1) {  // no answer: the same event id again
        await new Promise((done) => setTimeout(done, RETRY_MS));
        return this.send(body, tries - 1);
      }
      if (err.code === "session_ended" && !this.stopped) this.stop();
      else toast(`Could not record playback: ${err.message}`);
    }
  }

  show() {
    const c = this.current;
    const next = c ? null : this.nextEntry();
    const said = c ? `Now playing: ${c.track.title} — ${c.track.artist}${
      this.state === "paused" ? " (paused)" : ""}`
      : next ? `Next up: ${next.track.title} — ${next.track.artist}`
        : "Nothing to play yet.";
    if (this.now.textContent !== said) this.now.textContent = said;  // aria-live: only changes
    const audio = c && !c.embed;
    this.toggle.hidden = Boolean(c && c.embed);
    this.toggle.disabled = this.stopped || (!c && !next);
    this.toggle.textContent = audio && !this.audio.paused ? "Pause" : "Play";
    this.next.hidden = !(c && c.embed);
    this.skip.disabled = !c;
    this.showTime();
  }

  showTime() {
    const c = this.current;
    this.time.textContent = c && !c.embed
      ? `${fmtClock(this.audio.currentTime * 1000)} / ${fmtClock(c.track.duration_ms)}` : "";
  }
}

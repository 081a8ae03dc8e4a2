// The session playlist (recommendations API): title, artist, why it was chosen, a Play button
// (the player is player.js), like / skip / dislike. A dislike may rebuild the playlist; the
// server says so.

import { api, el, toast } from "./api.js";
import { playable } from "./player.js";

// GET /api/sessions/{id}/playlist -> {id, tracks: [{id, position, track: {...}, reason}]}
export function entries(data) {
  const list = Array.isArray(data) ? data : data.tracks || data.results || [];
  return list.map((item) => ({ rec: item, track: item.track && typeof item.track === "object"
    ? item.track : item }));
}

// Spotify's page for the track (a secondary way to listen); none for local-audio tracks,
// whose external_id is only the catalogue's key.
export function listenUrl(track) {
  if (track.external_url) return track.external_url;
  return track.external_id && !track.audio_url
    ? `https://open.spotify.com/track/${encodeURIComponent(track.external_id)}` : null;
}

const KINDS = [["like", "liked", "Like"], ["skip", "skipped", "Skip"],
  ["dislike", "disliked", "Dislike"]];

export class Playlist {
  // onChange(data) is called with each playlist shown (its target is the goal's point);
  // onPlay({rec, track}) when the patient presses a row's Play.
  constructor(sessionId, list, status, { readOnly = false, onChange = null, onPlay = null } = {}) {
    this.onChange = onChange;
    this.onPlay = onPlay;
    this.playing = null;  // the track id the player has as current
    this.sessionId = sessionId;
    this.list = list;
    this.status = status;
    this.readOnly = readOnly;
    this.requested = false;
    this.signature = "";
    this.feedback = {};  // track id -> latest kind given on this page
  }

  async refresh() {
    let data;
    try {
      data = await api(`/api/sessions/${this.sessionId}/playlist`);
      if (data.id === null && !this.readOnly && !this.requested) {
        // none yet: build the first one now from the check-in (the worker adapts it later)
        this.requested = true;
        data = await api(`/api/sessions/${this.sessionId}/playlist`, { method: "POST", body: {} });
      }
    } catch (err) {
      this.status.textContent = `Playlist unavailable: ${err.message}`;
      return;
    }
    this.render(data);
  }

  render(data) {
    this.data = data;
    const items = entries(data);
    const signature = JSON.stringify([data.id, items.map((i) => i.track.id), this.feedback]);
    if (signature === this.signature) return;
    this.signature = signature;
    if (this.onChange) this.onChange(data);
    for (const { rec, track } of items) {
      if (rec.feedback && !this.feedback[track.id]) this.feedback[track.id] = rec.feedback;
    }
    this.status.textContent = items.length
      ? `${items.length} tracks, from your current mood towards your goal${
        data.trigger ? ` (updated: ${data.trigger})` : ""}.`
      : data.id === null ? "No tracks yet: they appear once your mood is known."
        : "No tracks matched this mood and goal (the catalogue may be empty).";
    this.list.replaceChildren(...items.map((item) => this.row(item)));
  }

  // Entries still to play, in order: not played before this playlist was built, and not
  // skipped or disliked on this page.
  upcoming() {
    return entries(this.data || []).filter(({ rec, track }) => !rec.already_played
      && !["skipped", "disliked"].includes(this.feedback[track.id]));
  }

  // Mark the player's current track without rebuilding the list.
  setPlaying(trackId) {
    this.playing = trackId;
    for (const li of this.list.children) {
      if (Number(li.dataset.track) === trackId) li.setAttribute("aria-current", "true");
      else li.removeAttribute("aria-current");
    }
  }

  row({ rec, track }) {
    const url = listenUrl(track);
    const given = this.feedback[track.id];
    const li = el("li", { "data-track": track.id,
      "aria-current": track.id === this.playing ? "true" : null },
      el("span", { class: "track" }, el("strong", { text: track.title }), " — ", track.artist,
        url ? [" ", this.listenLink(track, url)] : null,
        rec.reason ? el("small", { class: "muted reason" }, el("br"), rec.reason) : null));
    if (this.onPlay && playable(track)) {
      li.append(el("button", { type: "button", class: "secondary",
        "aria-label": `Play: ${track.title}`, onclick: () => this.onPlay({ rec, track }) },
      "Play"));
    }
    if (!this.readOnly) {
      for (const [kind, stored, label] of KINDS) {
        li.append(el("button", {
          type: "button", class: "secondary", "aria-pressed": given === stored ? "true" : "false",
          "aria-label": `${label}: ${track.title}`, onclick: () => this.send(track, kind),
        }, label));
      }
    } else if (given) {
      li.append(el("span", { class: "badge", text: given }));
    }
    return li;
  }

  listenLink(track, url) {
    return el("small", {}, el("a", { href: url, target: "_blank", rel: "noopener noreferrer",
      onclick: () => { if (!this.readOnly) this.send(track, "play", { quiet: true }); } },
    "Listen on Spotify", el("span", { class: "sr-only" }, ` to ${track.title} (opens a new tab)`)));
  }

  async send(track, kind, { quiet = false } = {}) {
    try {
      const result = await api(`/api/sessions/${this.sessionId}/feedback`, {
        method: "POST", body: { track: track.id, kind },
      });
      this.feedback[track.id] = result.feedback.kind;
      if (!quiet) toast(`“${track.title}”: ${result.feedback.kind}.`);
      this.render(result.playlist || this.data);  // new feedback changes the signature
    } catch (err) {
      if (!quiet) toast(`Could not save feedback: ${err.message}`);
    }
  }
}

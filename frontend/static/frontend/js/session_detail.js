// One session in detail: timeline of estimated mood, check-ins, emotions, tracks, notes.
// The session report (reports API) gives the smoothed timeline, check-ins and emotions; the
// playback API gives the tracks heard, each stretch with what it did to the mood.

import { api, el, fmtClock, fmtNum, fmtSigned, toast } from "./api.js";
import { COLORS, lineChart } from "./charts.js";
import { LiveFeed } from "./live.js";

const root = document.getElementById("session-page");
const id = root.dataset.session;
const $ = (x) => document.getElementById(x);
const PHASES = { before: "Before", after: "After", standalone: "Check-in" };

function checkinList(checkins) {
  return checkins.length ? el("dl", { class: "facts" }, checkins.flatMap((c) => [
    el("dt", { text: PHASES[c.phase] || c.phase }),
    el("dd", { text: `pleasantness ${fmtNum(c.valence, 1)}, energy ${fmtNum(c.arousal, 1)}${
      c.word ? `, “${c.word}”` : ""}${c.note ? ` — ${c.note}` : ""}` })]))
    : el("p", { class: "muted", text: "No check-ins." });
}

function emotionTable(shares) {
  const sorted = Object.entries(shares).filter(([, v]) => v).sort((a, b) => b[1] - a[1]);
  return sorted.length ? el("table", {},
    el("thead", {}, el("tr", {}, el("th", { scope: "col", text: "Emotion" }),
      el("th", { scope: "col", text: "Share of pictures" }))),
    el("tbody", {}, sorted.map(([e, share]) => el("tr", {}, el("td", { text: e }),
      el("td", { text: `${Math.round(100 * share)}%` })))))
    : el("p", { class: "muted", text: "No readings." });
}

async function fromReport() {
  const r = await api(`/api/reports/sessions/${id}`);
  lineChart($("timeline-chart"), {
    label: "Estimated valence and arousal over the session (smoothed)",
    series: [
      { label: "pleasantness (valence)", color: COLORS.valence,
        points: r.timeline.map((p) => ({ t: p.t, y: p.valence_smoothed })) },
      { label: "energy (arousal)", color: COLORS.arousal,
        points: r.timeline.map((p) => ({ t: p.t, y: p.arousal_smoothed })) },
      { label: "self-report", color: COLORS.self, dotsOnly: true,
        points: Object.values(r.checkins).filter(Boolean)
          .map((c) => ({ t: c.created_at, y: c.valence })) },
    ],
  });
  const f = r.frames;
  $("timeline-summary").textContent = `${f.total} picture(s): ${f.analysed} analysed, `
    + `${f.no_face} without a face, ${f.failed} failed, ${f.pending} pending. `
    + (r.readings ? `Mean pleasantness ${fmtNum(r.valence.mean)}, energy ${fmtNum(r.arousal.mean)}; `
      + `change from start to end ${fmtNum(r.change.valence)} / ${fmtNum(r.change.arousal)}.` : "");
  $("checkins").replaceChildren(checkinList(Object.entries(r.checkins)
    .filter(([, c]) => c).map(([phase, c]) => ({ phase, ...c }))));
  $("emotions").replaceChildren(emotionTable(r.emotion_share));
}

// What a played stretch did: the change in the (smoothed) mood over it, and along the goal.
function effectText(l) {
  if (l.outcome === "playing") return "still playing";
  if (l.effect_progress === null) return "not enough faces to tell";
  const basis = [l.effect_faces ? `${l.effect_faces} face${l.effect_faces === 1 ? "" : "s"}` : null,
    l.effect_source.includes("checkin") ? "check-ins" : null].filter(Boolean).join(" and ");
  return `pleasantness ${fmtSigned(l.effect_valence)}, energy ${fmtSigned(l.effect_arousal)}; `
    + `toward the goal ${fmtSigned(l.effect_progress)} (${basis})`;
}

async function loadPlayback() {
  const p = await api(`/api/sessions/${id}/playback`);
  $("playlist-status").textContent = p.listening.length
    ? `${p.tracks_played} track${p.tracks_played === 1 ? "" : "s"}, ${fmtClock(p.listened_ms)} `
      + "of listening in total." : "No tracks were played.";
  $("playlist").replaceChildren(...p.listening.map((l) => el("li", {},
    el("span", { class: "track" }, el("strong", { text: l.track.title }), " — ", l.track.artist),
    el("span", { class: `badge${l.outcome === "finished" ? " good" : ""}`,
      text: l.outcome }),
    el("span", { text: `listened ${fmtClock(l.listened_ms)}` }),
    el("span", { class: "muted", text: effectText(l) }))));
}

async function load() {
  await Promise.all([
    fromReport().catch((err) => {
      $("timeline-summary").textContent = `Could not load: ${err.message}`;
    }),
    loadPlayback().catch((err) => {
      $("playlist-status").textContent = `Could not load the tracks: ${err.message}`;
    }),
  ]);
}

const notes = $("notes-form");
if (notes) {
  notes.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      await api(`/api/sessions/${id}`, { method: "PATCH", body: { therapist_notes: $("notes").value } });
      toast("Notes saved.");
    } catch (err) { toast(`Could not save: ${err.message}`); }
  });
}

// A session still running: follow it (event stream or polling) and redraw at most every 3 s.
function followLive() {
  if (root.dataset.active !== "1") return;
  let pending = null;
  const redraw = () => {
    if (pending) return;
    pending = setTimeout(() => { pending = null; load().catch(() => {}); }, 3000);
  };
  new LiveFeed(id, { onReadings: redraw, onMood: redraw }).start();
}

load();
followLive();

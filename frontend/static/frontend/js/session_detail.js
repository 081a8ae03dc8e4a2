// One session in detail: timeline of estimated mood, check-ins, emotions, tracks, notes.
// The session report (reports API) gives a smoothed timeline and the tracks played; without
// it the page draws the raw readings and asks the playlist API for the tracks.

import { api, el, fmtDate, fmtNum, toast } from "./api.js";
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
  $("playlist-status").textContent = r.tracks.length ? "" : "No tracks were played.";
  $("playlist").replaceChildren(...r.tracks.map((t) => {
    const mood = t.detected_mood || {};
    return el("li", {},
      el("span", { class: "track" }, el("strong", { text: t.track.title }), " — ", t.track.artist),
      t.kind ? el("span", { class: "badge", text: t.kind }) : null,
      el("span", { class: "muted", text: `${fmtDate(t.at)}; estimated mood around it: ${
        mood.readings ? `${fmtNum(mood.valence)} / ${fmtNum(mood.arousal)}` : "no readings"}` }));
  }));
}

async function load() {
  await fromReport();
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

load().catch((err) => { $("timeline-summary").textContent = `Could not load: ${err.message}`; });
followLive();

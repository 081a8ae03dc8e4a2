// Patient page (therapist view) and the patient's own history: trend, self-report vs detected,
// sessions, what works (what_works.js), exports. Trend, flags and exports come from the
// reports API.

import { api, apiAll, el, fmtDate, fmtDuration, fmtNum, moodWords } from "./api.js";
import { COLORS, lineChart, trendText } from "./charts.js";
import { showWhatWorks } from "./what_works.js";

const root = document.getElementById("patient-page");
const patientId = root.dataset.patient;
const own = root.dataset.own === "1";
const $ = (id) => document.getElementById(id);

function checkinText(c) {
  if (!c) return "—";
  return `${fmtNum(c.valence, 1)} / ${fmtNum(c.arousal, 1)}${c.word ? ` “${c.word}”` : ""}`;
}

async function load() {
  const query = own ? "" : `?patient=${patientId}`;
  const [sessions, checkins] = await Promise.all([
    apiAll(`/api/sessions${query}`), apiAll(`/api/checkins${query}`),
  ]);
  sessions.sort((a, b) => new Date(a.started_at) - new Date(b.started_at));
  const bySession = {};
  for (const c of checkins) if (c.session) (bySession[c.session] ||= {})[c.phase] = c;

  const detected = sessions.filter((s) => s.mood_valence !== null);
  await loadTrend();

  lineChart($("compare-chart"), {
    label: "Pleasantness per session: self-reported before and after, and estimated from the face",
    series: [
      { label: "self-report before", color: COLORS.other, dots: true,
        points: sessions.filter((s) => bySession[s.id]?.before)
          .map((s) => ({ t: s.started_at, y: bySession[s.id].before.valence })) },
      { label: "self-report after", color: COLORS.self, dots: true,
        points: sessions.filter((s) => bySession[s.id]?.after)
          .map((s) => ({ t: s.started_at, y: bySession[s.id].after.valence })) },
      { label: "estimated", color: COLORS.valence, dots: true,
        points: detected.map((s) => ({ t: s.started_at, y: s.mood_valence })) },
    ],
  });

  const rows = [...sessions].reverse().map((s) => el("tr", {},
    el("td", {}, el("a", { href: `/sessions/${s.id}/` }, fmtDate(s.started_at))),
    el("td", { text: s.goal }),
    el("td", { text: s.ended_at ? fmtDuration(s.started_at, s.ended_at) : "open" }),
    el("td", { text: s.mood_valence === null ? "—"
      : `${moodWords(s.mood_valence, s.mood_arousal)} (${fmtNum(s.mood_valence)}, ${fmtNum(s.mood_arousal)})` }),
    el("td", { text: checkinText(bySession[s.id]?.before) }),
    el("td", { text: checkinText(bySession[s.id]?.after) })));
  $("sessions-body").replaceChildren(...(rows.length ? rows
    : [el("tr", {}, el("td", { colspan: 6, text: "No sessions yet." }))]));
}

// Weekly trend from the reports API.
async function loadTrend() {
  const data = await api(`/api/reports/patients/${patientId}/trend?bucket=week`);
  const at = (b) => b.start;
  $("trend-basis").textContent = "Weekly means of the mood estimated from the face "
    + "(approximate) and of the self-reported check-ins, from −1 to +1.";
  const filled = data.buckets.filter((b) => b.readings > 0 || b.self_reported.checkins > 0);
  lineChart($("trend-chart"), {
    label: "Weekly mean mood: estimated valence and arousal, self-reported valence",
    series: [
      { label: "estimated pleasantness", color: COLORS.valence, dots: true, points: filled
        .filter((b) => b.valence.mean !== null).map((b) => ({ t: at(b), y: b.valence.mean })) },
      { label: "estimated energy", color: COLORS.arousal, dots: true, points: filled
        .filter((b) => b.arousal.mean !== null).map((b) => ({ t: at(b), y: b.arousal.mean })) },
      { label: "self-reported pleasantness", color: COLORS.self, dots: true, points: filled
        .filter((b) => b.self_reported.valence !== null)
        .map((b) => ({ t: at(b), y: b.self_reported.valence })) },
    ],
  });
  $("trend-summary").replaceChildren(
    el("span", { text: `Weekly means, ${data.start.slice(0, 10)} to ${data.end.slice(0, 10)}. ` }),
    el("strong", { text: `Trend: ${trendText(data.trend)}.` }),
    !own && data.flags.length ? el("ul", { class: "flags" }, data.flags.map((f) => el("li", {},
      el("span", { class: "badge flag", text: f.code.replaceAll("_", " ") }), " ", f.text))) : "");
  return true;
}

// The therapist's exports of this patient's data (each download is audited when it happens).
function showExports() {
  if (own) return;
  const base = `/api/reports/patients/${patientId}`;
  $("exports-status").textContent = "Download this patient's data (last 30 days by default):";
  $("export-links").replaceChildren(
    el("a", { class: "button", href: `${base}/export.csv?kind=readings`, download: "" },
      "Readings (CSV)"),
    el("a", { class: "button", href: `${base}/export.csv?kind=sessions`, download: "" },
      "Sessions (CSV)"),
    el("a", { class: "button", href: `${base}/export.csv?kind=daily`, download: "" },
      "Daily summary (CSV)"),
    el("a", { class: "button", href: `${base}/report.pdf`, target: "_blank" }, "Report (PDF)"));
}

load().catch((err) => {
  $("sessions-body").replaceChildren(el("tr", {}, el("td", { colspan: 6, class: "error",
    text: `Could not load sessions: ${err.message}` })));
});
showExports();
showWhatWorks(patientId, own);

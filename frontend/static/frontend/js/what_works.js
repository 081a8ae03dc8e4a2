// "What works" on the patient page: per goal, the audio features and tracks with the strongest
// measured responses (GET /api/patients/{id}/what-works), and for the therapist the switch that
// lets the recommender learn from this patient (PUT /api/patients/{id}/music-learning).

import { api, el, fmtSigned } from "./api.js";

const GOALS = { calm: "Calmer", uplift: "Brighter mood", energise: "More energy" };
const $ = (id) => document.getElementById(id);
const plural = (n, one, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

// The server names each feature by the end that moved the mood toward the goal ("gentle" for
// a negative energy effect); the effect is shown along that end, so it reads as a gain.
function featureItem(f) {
  const flip = f.effect < 0;
  const [lo, hi] = flip ? [-f.interval90[1], -f.interval90[0]] : f.interval90;
  const name = f.feature.replace(":", ": ");
  return el("li", {}, el("strong", { text: f.words }), ` (${name}): `,
    `${fmtSigned(flip ? -f.effect : f.effect)} toward the goal, 90% interval ${fmtSigned(lo)} to ${
      fmtSigned(hi)}`, f.clear ? [" ", el("span", { class: "badge good", text: "clear" })] : null);
}

// Features whose 90% interval excludes zero are findings; the rest are only leading
// estimates, kept one click away so a handful of plays does not read as a pattern.
function featureList(features) {
  const clear = features.filter((f) => f.clear);
  const leading = features.filter((f) => !f.clear);
  return [el("h4", { text: "Features" }),
    clear.length ? el("ul", {}, clear.map(featureItem))
      : el("p", { class: "muted", text: "No audio feature stands out yet: every interval still includes zero." }),
    leading.length ? el("details", {}, el("summary", { text: `Leading estimates (${leading.length}, not yet clear)` }),
      el("ul", {}, leading.map(featureItem))) : null];
}

function trackTable(tracks) {
  const head = ["Track", "Toward the goal", "90% interval", "Plays", "Sessions"];
  return el("div", { class: "table-wrap" }, el("table", {},
    el("thead", {}, el("tr", {}, head.map((h) => el("th", { scope: "col", text: h })))),
    el("tbody", {}, tracks.map((t) => el("tr", {},
      el("td", { text: `${t.track.title} — ${t.track.artist}` }),
      el("td", { text: fmtSigned(t.progress) }),
      el("td", { text: `${fmtSigned(t.interval90[0])} to ${fmtSigned(t.interval90[1])}` }),
      el("td", { text: String(t.plays) }), el("td", { text: String(t.sessions) }))))));
}

function goalBlock(goal, data) {
  const known = data.features.length || data.tracks.length;
  return el("div", { class: "works", "data-goal": goal },
    el("h3", { text: GOALS[goal] || goal }),
    known ? null : el("p", { class: "muted", text: "No measured responses yet." }),
    data.features.length ? featureList(data.features) : null,
    data.tracks.length ? [
      el("h4", { text: `Tracks (${plural(data.measured_plays, "measured play")})` }),
      trackTable(data.tracks)] : null);
}

function showSwitch(patientId, enabled) {
  const box = $("learning-switch");
  const say = (on) => {
    $("learning-status").textContent = on
      ? "Learning is on: playlists lean toward what this patient responded to."
      : "Learning is off: playlists use the general mood model only.";
  };
  box.checked = enabled;
  box.disabled = false;
  say(enabled);
  box.addEventListener("change", async () => {
    box.disabled = true;
    try {
      const result = await api(`/api/patients/${patientId}/music-learning`, {
        method: "PUT", body: { enabled: box.checked } });
      box.checked = result.enabled;
      say(result.enabled);
    } catch (err) {
      box.checked = !box.checked;
      $("learning-status").textContent = `Could not change it: ${err.message}`;
    } finally {
      box.disabled = false;
    }
  });
}

export async function showWhatWorks(patientId, own) {
  let data;
  try {
    data = await api(`/api/patients/${patientId}/what-works`);
  } catch (err) {
    $("works-basis").textContent = `Could not load: ${err.message}`;
    return;
  }
  $("works-notice").textContent = data.notice;
  $("works-notice").hidden = false;
  $("works-basis").textContent = `Based on ${plural(data.sessions, "session")} and ${
    plural(data.measured_stretches, "measured stretch", "measured stretches")} of listening.`;
  const goals = Object.entries(data.goals);
  const any = goals.some(([, g]) => g.features.length || g.tracks.length);
  $("works-goals").replaceChildren(...(any ? goals.map(([goal, g]) => goalBlock(goal, g))
    : [el("p", { class: "muted", text: "No measured responses yet." })]));
  if (!own) showSwitch(patientId, data.learning_enabled);
}

// Therapist caseload: patients, last session, recent trend, flags. From the reports API
// (one request, server-side flags).

import { api, el, fmtDate, moodWords, showError } from "./api.js";
import { trendText } from "./charts.js";

const body = document.getElementById("caseload-body");
const note = document.getElementById("caseload-note");

function reportRow(row) {
  const p = row.patient;
  const last = row.last_session;
  const trend = trendText(row.recent_trend);
  return el("tr", { "data-patient": p.id },
    el("th", { scope: "row" }, el("a", { href: `/patients/${p.id}/` }, p.name || p.username)),
    el("td", {}, last ? [el("a", { href: `/sessions/${last.id}/` }, fmtDate(last.started_at)),
      el("br"), el("small", { class: "muted", text: last.mean && last.mean.valence !== null
        ? moodWords(last.mean.valence, last.mean.arousal) : "no readings" })] : "never"),
    el("td", { text: String(row.sessions_last_90_days) }),
    el("td", {}, el("span", { class: trend.startsWith("falling") ? "badge flag"
      : trend.startsWith("rising") ? "badge good" : "badge", text: trend })),
    el("td", {}, row.flags.length ? el("ul", { class: "flags" }, row.flags.map((f) =>
      el("li", {}, el("span", { class: "badge flag", text: f.code.replaceAll("_", " ") }), " ",
        el("small", { text: f.text })))) : el("span", { class: "badge good", text: "none" })));
}

async function load() {
  const rows = (await api("/api/reports/caseload")).patients.map(reportRow);
  note.textContent = "Sessions: last 90 days. Trend: mean estimated pleasantness per session, "
    + "as a slope with its 95% interval. Flags are observations about the recorded data, "
    + "not diagnoses.";
  body.replaceChildren(...(rows.length ? rows
    : [el("tr", {}, el("td", { colspan: 5, text: "No patients are assigned to you." }))]));
}

load().catch((err) => body.replaceChildren(el("tr", {}, el("td", { colspan: 5, class: "error",
  text: `Could not load the caseload: ${err.message}` }))));

document.getElementById("invite-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const $ = (id) => document.getElementById(id);
  $("invite-error").hidden = true;
  try {
    const invitation = await api("/api/invitations", {
      method: "POST", body: { email: $("invite-email").value.trim() },
    });
    $("invite-link").value = new URL(invitation.accept_url, location.origin).href;
    $("invite-expires").textContent = fmtDate(invitation.expires_at);
    $("invite-result").hidden = false;
    $("invite-link").select();
  } catch (err) {
    showError($("invite-error"), err);
  }
});

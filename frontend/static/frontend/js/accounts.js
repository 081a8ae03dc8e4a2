// Admin: accounts (create, deactivate, a patient's erasure; only the patient exports their data) and
// therapist-patient assignments, via /api/users and /api/assignments. Password resets and finer
// edits stay in the Django admin.

import { api, apiAll, el, fmtDate, showError, toast } from "./api.js";

const $ = (id) => document.getElementById(id);
const me = Number($("accounts-page").dataset.me);

async function load() {
  const [users, assignments] = await Promise.all([apiAll("/api/users"), apiAll("/api/assignments")]);
  $("users-body").replaceChildren(...users.map((u) => el("tr", { "data-user": u.id },
    el("th", { scope: "row", text: u.username }), el("td", { text: u.role }),
    el("td", { text: u.email || "—" }), el("td", { text: u.is_active ? "yes" : "no" }),
    el("td", { text: fmtDate(u.last_login) }),
    el("td", {}, el("div", { class: "row actions" }, u.is_active && u.id !== me ? el("button", { type: "button",
      class: "secondary", "aria-label": `Deactivate ${u.username}`, onclick: () => deactivate(u) },
    "Deactivate") : "", u.role === "patient" ? [
      el("button", { type: "button", class: "danger", "aria-label": `Erase ${u.username}`,
        onclick: () => erase(u) }, "Erase…")] : null)))));
  const option = (u) => el("option", { value: u.id, text: u.username });
  const active = users.filter((u) => u.is_active);
  $("assign-therapist").replaceChildren(...active.filter((u) => u.role === "therapist").map(option));
  $("assign-patient").replaceChildren(...active.filter((u) => u.role === "patient").map(option));
  $("assignments-body").replaceChildren(...(assignments.length ? assignments.map((a) => el("tr", {},
    el("td", { text: a.therapist_username }), el("td", { text: a.patient_username }),
    el("td", { text: fmtDate(a.started_at) }), el("td", { text: a.ended_at ? fmtDate(a.ended_at) : "—" }),
    el("td", {}, a.ended_at ? "" : el("button", { type: "button", class: "secondary",
      "aria-label": `End assignment of ${a.patient_username} to ${a.therapist_username}`,
      onclick: () => endAssignment(a) }, "End"))))
    : [el("tr", {}, el("td", { colspan: 5, text: "No assignments." }))]));
}

async function deactivate(user) {
  if (!confirm(`Deactivate ${user.username}? Their history is kept.`)) return;
  try {
    await api(`/api/users/${user.id}`, { method: "DELETE" });
    toast(`${user.username} deactivated.`);
    await load();
  } catch (err) { toast(err.message); }
}

// Erasure cannot be undone: the admin types the username again, as the API requires.
async function erase(user) {
  const typed = prompt(`Erase ${user.username} and all their data? This cannot be undone.\n`
    + "Type the username to confirm:");
  if (typed === null) return;
  try {
    await api(`/api/users/${user.id}/erase`, { method: "POST", body: { confirm: typed } });
    toast(`${user.username} and their data were erased.`);
    await load();
  } catch (err) { toast(err.message); }
}

async function endAssignment(a) {
  try {
    await api(`/api/assignments/${a.id}/end`, { method: "POST" });
    toast("Assignment ended.");
    await load();
  } catch (err) { toast(err.message); }
}

$("user-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const f = event.target;
  $("user-error").hidden = true;
  try {
    const body = { username: f.username.value.trim(), email: f.email.value.trim(),
      role: f.role.value, password: f.password.value };
    const user = await api("/api/users", { method: "POST", body });
    toast(`Account ${user.username} created.`);
    f.reset();
    await load();
  } catch (err) {
    const details = err.details ? ` ${JSON.stringify(err.details)}` : "";
    showError($("user-error"), `${err.message}${details}`);
  }
});

$("assign-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  $("assign-error").hidden = true;
  try {
    await api("/api/assignments", { method: "POST", body: {
      therapist: Number($("assign-therapist").value), patient: Number($("assign-patient").value) } });
    toast("Therapist assigned.");
    await load();
  } catch (err) { showError($("assign-error"), err); }
});

load().catch((err) => toast(`Could not load accounts: ${err.message}`));

// Admin catalogue: list + search, CSV import with progress and the rejected-row report,
// edit a track. Talks to /api/tracks, /api/tracks/import and /api/tracks/imports.

import { api, el, fmtDate, fmtNum, showError, toast } from "./api.js";

const $ = (id) => document.getElementById(id);
const state = { page: 1, q: "", tracks: [] };
const EDITABLE = [
  ["title", "Title", "text"], ["artist", "Artist", "text"], ["album", "Album", "text"],
  ["genre", "Genre", "text"], ["external_url", "Link to listen", "url"],
  ["valence", "Valence (0–1)", "number"], ["energy", "Energy (0–1)", "number"],
  ["tempo", "Tempo (BPM)", "number"], ["is_active", "Active (offered in playlists)", "checkbox"],
];

async function loadTracks() {
  const q = state.q ? `&q=${encodeURIComponent(state.q)}` : "";
  const data = await api(`/api/tracks?page=${state.page}&ordering=title${q}`);
  state.tracks = data.results;
  $("tracks-count").textContent = `${data.count} track(s)${state.q ? ` matching “${state.q}”` : ""}.`;
  $("tracks-body").replaceChildren(...(data.results.length ? data.results.map((t) => el("tr",
    { "data-track": t.id, class: t.is_active ? null : "muted" },
    el("td", {}, t.external_url ? el("a", { href: t.external_url, target: "_blank",
      rel: "noopener noreferrer" }, t.title) : t.title, t.is_active ? "" : " (inactive)"),
    el("td", { text: t.artist }), el("td", { text: t.genre || "—" }),
    el("td", { text: fmtNum(t.valence) }), el("td", { text: fmtNum(t.energy) }),
    el("td", { text: fmtNum(t.tempo, 0) }),
    el("td", {}, el("button", { type: "button", class: "secondary", "aria-label": `Edit ${t.title}`,
      onclick: () => edit(t) }, "Edit"))))
    : [el("tr", {}, el("td", { colspan: 7, text: "No tracks." }))]));
  $("export-link").href = `/api/tracks/export${state.q ? `?q=${encodeURIComponent(state.q)}` : ""}`;
  $("prev-page").disabled = !data.previous;
  $("next-page").disabled = !data.next;
}

$("search-form").addEventListener("submit", (event) => {
  event.preventDefault();
  state.q = $("search").value.trim();
  state.page = 1;
  loadTracks().catch((err) => toast(err.message));
});
$("prev-page").addEventListener("click", () => { state.page -= 1; loadTracks(); });
$("next-page").addEventListener("click", () => { state.page += 1; loadTracks(); });

// ---- import ----
async function loadImports() {
  const data = await api("/api/tracks/imports");
  const jobs = (data.results || data).slice(0, 10);
  $("imports-body").replaceChildren(...(jobs.length ? jobs.map((j) => el("tr", {},
    el("td", { text: fmtDate(j.started_at) }), el("td", { text: j.filename }),
    el("td", { text: j.status }), el("td", { text: String(j.total_rows) }),
    el("td", { text: String(j.created_count) }), el("td", { text: String(j.updated_count) }),
    el("td", { text: String(j.rejected_count) })))
    : [el("tr", {}, el("td", { colspan: 7, text: "No imports yet." }))]));
}

function showJob(job) {
  const bar = $("import-bar");
  if (job.total_rows) {
    bar.max = job.total_rows;
    bar.value = job.processed_rows;
  } else {
    bar.removeAttribute("value");  // indeterminate until the rows are counted
  }
  $("import-status").textContent = `${job.status}: ${job.processed_rows} of ${job.total_rows || "?"} rows`;
}

function report(job) {
  const facts = [["File", job.filename], ["Rows", job.total_rows], ["Created", job.created_count],
    ["Updated", job.updated_count], ["Duplicates in the file", job.duplicate_rows],
    ["Rejected", job.rejected_count]];
  const parts = [el("h3", { text: `Import ${job.status}` }),
    el("dl", { class: "facts", id: "import-facts" }, facts.flatMap(([k, v]) =>
      [el("dt", { text: k }), el("dd", { text: String(v) })]))];
  if (job.error) parts.push(el("p", { class: "error", text: job.error }));
  if (job.rejected.length) {
    parts.push(el("h3", { text: "Rejected rows" }), el("div", { class: "table-wrap" },
      el("table", { id: "rejected-rows" },
        el("thead", {}, el("tr", {}, el("th", { scope: "col", text: "Line" }),
          el("th", { scope: "col", text: "Why" }))),
        el("tbody", {}, job.rejected.map((r) => el("tr", {}, el("td", { text: String(r.line) }),
          el("td", { text: r.reasons.join("; ") })))))));
    if (job.rejected_count > job.rejected.length) {
      parts.push(el("p", { class: "muted",
        text: `Showing the first ${job.rejected.length} of ${job.rejected_count} rejected rows.` }));
    }
  }
  $("import-report").replaceChildren(...parts);
}

$("import-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const file = $("import-file").files[0];
  if (!file) { toast("Choose a CSV file first."); return; }
  const form = new FormData();
  form.append("file", file, file.name);
  $("import-button").disabled = true;
  $("import-progress").hidden = false;
  $("import-report").replaceChildren();
  showJob({ status: "uploading", processed_rows: 0, total_rows: 0 });
  // The import runs inside the POST; its job row reports progress meanwhile.
  const since = Date.now() - 5000;
  const timer = setInterval(async () => {
    try {
      const jobs = await api("/api/tracks/imports?status=running");
      const job = (jobs.results || jobs).find((j) => new Date(j.started_at) >= since
        && j.filename === file.name);
      if (job) showJob(job);
    } catch { /* progress is a nicety; the final report still comes */ }
  }, 700);
  try {
    const job = await api("/api/tracks/import", { method: "POST", body: form });
    showJob(job);
    report(job);
    toast(`Imported ${file.name}: ${job.created_count} new, ${job.rejected_count} rejected.`);
    await Promise.all([loadTracks(), loadImports()]);
  } catch (err) {
    $("import-status").textContent = "";
    const p = el("p", { class: "error", role: "alert" });
    showError(p, err);
    $("import-report").replaceChildren(p);
  } finally {
    clearInterval(timer);
    $("import-button").disabled = false;
  }
});

// ---- edit ----
function edit(track) {
  const fields = EDITABLE.map(([name, label, type]) => {
    const id = `edit-${name}`;
    const input = el("input", { id, name, type, step: type === "number" ? "any" : null });
    if (type === "checkbox") input.checked = track[name];
    else input.value = track[name] ?? "";
    return type === "checkbox"
      ? el("label", { for: id }, input, " ", label)
      : [el("label", { for: id, text: label }), input];
  });
  $("edit-fields").replaceChildren(...fields.flat());
  $("edit-heading").textContent = `Edit “${track.title}”`;
  $("edit-error").hidden = true;
  $("edit-form").onsubmit = async (event) => {
    event.preventDefault();
    const body = {};
    for (const [name, , type] of EDITABLE) {
      const input = $(`edit-${name}`);
      body[name] = type === "checkbox" ? input.checked : type === "number" ? Number(input.value)
        : input.value.trim();
    }
    try {
      await api(`/api/tracks/${track.id}`, { method: "PATCH", body });
      $("edit-dialog").close();
      toast("Track saved.");
      await loadTracks();
    } catch (err) {
      const details = err.details ? ` ${JSON.stringify(err.details)}` : "";
      showError($("edit-error"), `${err.message}${details}`);
    }
  };
  $("edit-dialog").showModal();
  $(`edit-${EDITABLE[0][0]}`).focus();
}
$("edit-cancel").addEventListener("click", () => $("edit-dialog").close());

loadTracks()
  .then(() => loadImports())
  .catch((err) => toast(`Could not load tracks: ${err.message}`));

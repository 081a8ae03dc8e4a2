// Patient session page: consent, before check-in + goal, live camera session, closing check-in,
// summary. Mood comes from the worker: server-sent events when available, else polling.

import { api, apiAll, el, fmtDuration, fmtNum, moodWords, showError, toast } from "./api.js";
import { Camera, photoToJpeg } from "./camera.js";
import { vaPlane } from "./charts.js";
import { bindCheckin, readCheckin } from "./checkin.js";
import { LiveFeed } from "./live.js";
import { Player } from "./player.js";
import { entries, Playlist } from "./playlist.js";

const $ = (id) => document.getElementById(id);
const state = { session: null, consent: false, trail: [], live: null, mood: null, target: null,
  uploads: 0, uploadsAtReading: 0, analysed: 0, camera: null, playlist: null, player: null };

function show(section) {
  for (const id of ["before-card", "during", "after-card", "summary-card"]) $(id).hidden = id !== section;
}

// ---- consent ----
async function loadConsent() {
  const data = await api("/api/me/consent");
  setConsent(Boolean(data.consent), data.consent);
}

function setConsent(given, record) {
  state.consent = given;
  $("consent-card").hidden = given;
  $("withdraw-consent").hidden = !given;
  $("consent-state").textContent = given
    ? `You consented to emotion analysis (notice ${record ? record.notice_version : ""}).`
    : "You have not consented to emotion analysis: the camera stays off.";
  $("camera-start").disabled = !given;
  $("photo").disabled = !given;
  if (!given) $("privacy-details").open = true;  // the notice explains what consent covers
  if (!given && state.camera && state.camera.on) stopCamera();
}

$("give-consent").addEventListener("click", async () => {
  try {
    const record = await api("/api/me/consent", { method: "POST", body: {} });
    setConsent(true, record);
    toast("Consent recorded. You can start the camera.");
  } catch (err) { toast(err.message); }
});

$("withdraw-consent").addEventListener("click", async () => {
  try {
    await api("/api/me/consent", { method: "DELETE" });
    setConsent(false, null);
    toast("Consent withdrawn: the camera is off and no more pictures are analysed.");
  } catch (err) { toast(err.message); }
});

// ---- before ----
async function findOpenSession() {
  const page = await api("/api/sessions?page_size=1");
  const latest = (page.results || page)[0];
  if (latest && latest.is_active) {
    $("resume").hidden = false;
    $("resume-when").textContent = new Date(latest.started_at).toLocaleString();
    $("resume-button").onclick = () => enterSession(latest);
    $("close-open-button").onclick = async () => {
      await api(`/api/sessions/${latest.id}/end`, { method: "POST" });
      $("resume").hidden = true;
    };
  }
}

$("before-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  $("before-error").hidden = true;
  $("start-session").disabled = true;
  try {
    const session = await api("/api/sessions", { method: "POST", body: { goal: $("goal").value } });
    await api("/api/checkins", {
      method: "POST", body: { session: session.id, phase: "before", ...readCheckin("before") },
    });
    enterSession(session);
  } catch (err) {
    showError($("before-error"), err);
  } finally {
    $("start-session").disabled = false;
  }
});

// ---- during ----
function enterSession(session) {
  state.session = session;
  $("session-id").textContent = `#${session.id}`;
  $("session-goal").textContent = $("goal").querySelector(`option[value="${session.goal}"]`)
    ?.textContent || session.goal;
  show("during");
  // the notice stays one click away; on a phone the camera and mood matter more now
  if (state.consent) $("privacy-details").open = false;
  vaPlane($("va-plane"), { label: "Estimated mood" });
  state.playlist = new Playlist(session.id, $("playlist"), $("playlist-status"), {
    onChange: (data) => {
      if (state.player) state.player.show();  // "Next up" follows a rebuilt playlist
      if (data.target_valence === undefined || data.target_valence === null) return;
      state.target = { v: data.target_valence, a: data.target_arousal };
      drawMood(state.mood || state.trail[state.trail.length - 1] || null);
    },
    onPlay: (entry) => state.player.play(entry),
  });
  state.player = new Player(session.id, {
    audio: $("player-audio"), embed: $("player-embed"), now: $("now-playing"),
    time: $("player-time"), toggle: $("player-toggle"), next: $("player-next"),
    skip: $("player-skip"),
  }, {
    upcoming: () => state.playlist.upcoming(),
    onTrack: (trackId) => {
      state.playlist.setPlaying(trackId);
      if (trackId !== null) offerTrackCheckin(trackId);
    },
  });
  state.camera = new Camera($("preview"), uploadFrame);
  state.playlist.refresh();  // the first playlist starts from the check-in
  state.live = new LiveFeed(session.id, {
    onReadings, onMood,
    onError: (err) => { $("playlist-status").textContent = `Connection problem: ${err.message}`; },
  });
  state.live.start();
  $("camera-start").focus();
}

// ---- a check-in with the track that plays (or just played) ----
// The patient's own rating joins the faces in measuring what the track did to their mood.
function offerTrackCheckin(trackId) {
  const entry = entries(state.playlist.data || {}).find(({ track }) => track.id === trackId);
  if (!entry) return;
  state.ratedTrack = entry.track;
  $("track-rating-title").textContent = entry.track.title;
  $("track-rating").hidden = false;
}

$("track-rating-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const track = state.ratedTrack;
  if (!track) return;
  try {
    const result = await api(`/api/sessions/${state.session.id}/feedback`, {
      method: "POST", body: { track: track.id, kind: "played", ...readCheckin("track") },
    });
    $("track-rating").open = false;
    toast(`Thanks: your mood with “${track.title}” is saved.`);
    if (result.playlist) state.playlist.render(result.playlist);
  } catch (err) { toast(`Could not save it: ${err.message}`); }
});

async function uploadFrame(blob, capturedAt) {
  const form = new FormData();
  form.append("image", blob, "frame.jpg");
  if (capturedAt) form.append("captured_at", capturedAt);
  // a retry of this very frame (after a lost answer) is recognised and not analysed twice
  form.append("client_frame_id", crypto.randomUUID());
  try {
    await api(`/api/sessions/${state.session.id}/frames`, { method: "POST", body: form });
    state.uploads += 1;
    updateCameraStatus();
  } catch (err) {
    if (err.code === "consent_required") setConsent(false, null);
    if (err.code === "session_ended") { stopCamera(); state.player.stop(); }
    showError($("camera-error"), err);
  }
}

const NO_FACE_AFTER = 8;  // uploads without a new reading before the hint shows (~5 s)

function updateCameraStatus() {
  const on = state.camera && state.camera.on;
  $("camera-status").textContent = `${on ? "Camera on, sending about 1–2 pictures per second. "
    : ""}Pictures sent: ${state.uploads}. Analysed with a face: ${state.analysed}.`;
  $("no-face").hidden = !on || state.uploads - state.uploadsAtReading < NO_FACE_AFTER;
}

async function startCamera() {
  $("camera-error").hidden = true;
  try {
    await state.camera.start();
    $("preview").hidden = false;
    $("camera-off").hidden = true;
    $("camera-start").hidden = true;
    $("camera-stop").hidden = false;
    $("camera-stop").focus();
  } catch (err) {
    showError($("camera-error"), `Camera could not start: ${err.message}`);
  }
  updateCameraStatus();
}

function stopCamera() {
  if (state.camera) state.camera.stop();
  $("preview").hidden = true;
  $("camera-off").hidden = false;
  $("camera-start").hidden = false;
  $("camera-stop").hidden = true;
  updateCameraStatus();
}

$("camera-start").addEventListener("click", startCamera);
$("camera-stop").addEventListener("click", () => { stopCamera(); $("camera-start").focus(); });
$("photo").addEventListener("change", async (event) => {
  const file = event.target.files[0];
  if (!file) return;
  $("camera-error").hidden = true;
  try {
    await uploadFrame(await photoToJpeg(file), new Date().toISOString());
    toast("Photo sent for analysis.");
  } catch (err) {
    showError($("camera-error"), `Could not read that photo: ${err.message}`);
  }
  event.target.value = "";
});

function onReadings(readings) {
  if (!readings.length) return;
  state.uploadsAtReading = state.uploads;
  state.analysed += readings.length;
  for (const r of readings) state.trail.push({ v: r.valence, a: r.arousal });
  state.trail = state.trail.slice(-40);
  const last = readings[readings.length - 1];
  $("emotion").textContent = last.emotion;
  $("confidence").textContent = `(${Math.round(last.confidence * 100)}% likely)`;
  updateCameraStatus();
  if (!state.mood) drawMood(state.trail[state.trail.length - 1]);
}

function onMood(mood) {
  state.mood = mood;
  drawMood(mood);
  const now = Date.now();
  if (now - (state.playlistAt || 0) > 3000) {  // a burst of frames refreshes it once
    state.playlistAt = now;
    state.playlist.refresh();
  }
}

function drawMood(current) {
  vaPlane($("va-plane"), { points: state.trail, current, target: state.target,
    label: "Estimated mood" });
  $("mood-words").textContent = current ? `Right now: ${moodWords(current.v, current.a)}.` : "";
}

$("end-session").addEventListener("click", async () => {
  stopCamera();
  state.live.stop();
  await state.player.stop();  // its last position is recorded before the session closes
  try {
    state.session = await api(`/api/sessions/${state.session.id}/end`, { method: "POST" });
  } catch (err) { toast(err.message); return; }
  show("after-card");
  $("after-valence").focus();
});

// ---- after ----
$("after-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  try {
    await api("/api/checkins", {
      method: "POST", body: { session: state.session.id, phase: "after", ...readCheckin("after") },
    });
    await showSummary();
  } catch (err) { showError($("after-error"), err); }
});
$("skip-after").addEventListener("click", showSummary);

async function showSummary() {
  const s = state.session;
  const [readings, checkins] = await Promise.all([
    apiAll(`/api/sessions/${s.id}/readings?primary=1&page_size=1000`),
    apiAll(`/api/checkins?session=${s.id}`),
  ]);
  const counts = {};
  for (const r of readings) counts[r.emotion] = (counts[r.emotion] || 0) + 1;
  const top = Object.entries(counts).sort((a, b) => b[1] - a[1]);
  const mean = (k) => readings.length ? readings.reduce((a, r) => a + r[k], 0) / readings.length : null;
  const by = (phase) => checkins.find((c) => c.phase === phase);
  const fmtCheckin = (c) => c ? `pleasantness ${fmtNum(c.valence, 1)}, energy ${fmtNum(c.arousal, 1)}${
    c.word ? `, “${c.word}”` : ""}` : "not given";
  const facts = [
    ["Duration", fmtDuration(s.started_at, s.ended_at)],
    ["Pictures analysed with a face", String(readings.length)],
    ["Most detected emotions", top.length ? top.slice(0, 3).map(([e, n]) => `${e} (${n})`).join(", ") : "none"],
    ["Average estimated mood", readings.length ? `${moodWords(mean("valence"), mean("arousal"))} (valence ${fmtNum(mean("valence"))}, arousal ${fmtNum(mean("arousal"))})` : "no readings"],
    ["You said before", fmtCheckin(by("before"))],
    ["You said after", fmtCheckin(by("after"))],
  ];
  $("summary").replaceChildren(el("dl", { class: "facts" },
    facts.flatMap(([k, v]) => [el("dt", { text: k }), el("dd", { text: v })])));
  $("summary-link").href = `/sessions/${s.id}/`;
  show("summary-card");
  $("summary-title").focus?.();
}

// ---- start ----
bindCheckin("before");
bindCheckin("after");
bindCheckin("track");
loadConsent().catch((err) => toast(err.message));
findOpenSession().catch(() => {});

// Accept a therapist's invitation: create the patient account, sign in, go to the session page.
// The token travels in the link's fragment (never sent to the server, so never in a log) and is
// checked, then used, in POST bodies.

import { api, showError } from "./api.js";

const token = decodeURIComponent(location.hash.slice(1));
const form = document.getElementById("invite-form");
const error = document.getElementById("invite-error");

async function check() {
  let invitation = null;
  if (token) {
    try {
      invitation = await api("/api/invitations/lookup", { method: "POST", body: { token } });
    } catch { invitation = null; }
  }
  document.getElementById("invite-checking").hidden = true;
  if (invitation === null) {
    document.getElementById("invite-invalid").hidden = false;
    return;
  }
  document.getElementById("invite-therapist").textContent = invitation.therapist;
  document.getElementById("invite-valid").hidden = false;
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  error.hidden = true;
  const username = form.username.value.trim();
  const password = form.password.value;
  if (!username || password.length < 8) {
    showError(error, "Choose a username and a password of at least 8 characters.");
    return;
  }
  if (password !== form.password2.value) {
    showError(error, "The two passwords differ.");
    return;
  }
  try {
    await api("/api/invitations/accept", {
      method: "POST", body: { token, username, password },
    });
    await api("/api/auth/login", { method: "POST", body: { username, password } });
    history.replaceState(null, "", location.pathname);  // the used token leaves the address bar
    location.assign("/");
  } catch (err) {
    const details = err.details ? ` ${Object.values(err.details).flat().join(" ")}` : "";
    showError(error, `${err.message}${details}`);
  }
});

check();

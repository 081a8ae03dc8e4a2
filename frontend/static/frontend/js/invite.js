// Accept a therapist's invitation: create the patient account, sign in, go to the session page.

import { api, showError } from "./api.js";

const form = document.getElementById("invite-form");
const error = document.getElementById("invite-error");

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
      method: "POST", body: { token: form.dataset.token, username, password },
    });
    await api("/api/auth/login", { method: "POST", body: { username, password } });
    location.assign("/");
  } catch (err) {
    const details = err.details ? ` ${Object.values(err.details).flat().join(" ")}` : "";
    showError(error, `${err.message}${details}`);
  }
});

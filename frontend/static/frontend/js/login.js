import { api, showError } from "./api.js";

const form = document.getElementById("login-form");
const error = document.getElementById("login-error");

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  error.hidden = true;
  const body = { username: form.username.value.trim(), password: form.password.value };
  if (!body.username || !body.password) {
    showError(error, "Enter your username and password.");
    return;
  }
  try {
    await api("/api/auth/login", { method: "POST", body });
    const next = form.dataset.next || "/";
    // only same-site paths: never follow an attacker-supplied absolute URL
    location.assign(next.startsWith("/") && !next.startsWith("//") ? next : "/");
  } catch (err) {
    showError(error, err);
    form.password.focus();
  }
});

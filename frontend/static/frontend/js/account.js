// Your own account: time zone (PATCH /api/me) and password (POST /api/auth/password).

import { api, el, showError, toast } from "./api.js";

const $ = (id) => document.getElementById(id);

const here = Intl.DateTimeFormat().resolvedOptions().timeZone;
if (Intl.supportedValuesOf) {
  $("time-zones").replaceChildren(...Intl.supportedValuesOf("timeZone")
    .map((zone) => el("option", { value: zone })));
}
if (here && here !== $("time-zone").value) {
  $("tz-hint").textContent = `This device is set to ${here}.`;
}

$("tz-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  $("tz-error").hidden = true;
  try {
    const me = await api("/api/me", { method: "PATCH", body: { time_zone: $("time-zone").value.trim() } });
    toast(`Time zone saved: ${me.time_zone}.`);
  } catch (err) {
    const details = err.details ? ` ${Object.values(err.details).flat().join(" ")}` : "";
    showError($("tz-error"), `${err.message}${details}`);
  }
});

$("password-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  $("password-error").hidden = true;
  try {
    await api("/api/auth/password", { method: "POST", body: {
      old_password: $("old-password").value, new_password: $("new-password").value } });
    event.target.reset();
    toast("Password changed.");
  } catch (err) {
    const details = err.details ? ` ${Object.values(err.details).flat().join(" ")}` : "";
    showError($("password-error"), `${err.message}${details}`);
  }
});

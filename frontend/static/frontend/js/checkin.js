// Check-in fieldsets (_checkin.html): live slider read-outs and reading the values.

export function bindCheckin(prefix) {
  for (const name of ["valence", "arousal"]) {
    const input = document.getElementById(`${prefix}-${name}`);
    const out = input.parentElement.querySelector("output");
    const show = () => { out.textContent = Number(input.value).toFixed(1); };
    input.addEventListener("input", show);
    show();
  }
}

export function readCheckin(prefix) {
  const value = (name) => document.getElementById(`${prefix}-${name}`).value;
  return {
    valence: Number(value("valence")),
    arousal: Number(value("arousal")),
    word: value("word").trim(),
  };
}

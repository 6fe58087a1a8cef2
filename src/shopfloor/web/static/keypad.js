// PIN keypad for gloved hands: big keys write into the PIN field; nothing else on the page needs a keyboard.
document.addEventListener("DOMContentLoaded", () => {
  const pad = document.querySelector(".keypad");
  if (!pad) return;
  const field = document.getElementById(pad.dataset.target);
  pad.addEventListener("click", (ev) => {
    const key = ev.target.closest("[data-key]");
    if (!key || key.dataset.key === "OK") return;
    ev.preventDefault();
    if (key.dataset.key === "⌫") field.value = field.value.slice(0, -1);
    else if (field.value.length < 8) field.value += key.dataset.key;
  });
});

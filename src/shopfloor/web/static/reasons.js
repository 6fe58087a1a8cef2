// A reason's colour swatch (set here: the page's policy allows no style attributes in its markup).
for (const el of document.querySelectorAll("[data-colour]")) el.style.background = el.dataset.colour;

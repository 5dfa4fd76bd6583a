// Latchkey admin console: the only script of the console (served as a file; the CSP forbids inline script).
// Copy buttons for a key shown once, and a confirm() before forms marked data-confirm. The server
// checks every confirmation itself: this only saves a round trip.
"use strict";
document.addEventListener("click", function (ev) {
  var btn = ev.target.closest && ev.target.closest("button[data-copy]");
  if (!btn) return;
  var input = document.getElementById(btn.getAttribute("data-copy"));
  if (!input) return;
  input.select();
  var done = function () { btn.textContent = "Copied"; };
  if (navigator.clipboard && navigator.clipboard.writeText) navigator.clipboard.writeText(input.value).then(done, function () { document.execCommand("copy"); done(); });
  else { document.execCommand("copy"); done(); }
});
document.addEventListener("submit", function (ev) {
  var form = ev.target;
  var msg = form.getAttribute && form.getAttribute("data-confirm");
  if (msg && !window.confirm(msg)) ev.preventDefault();
});

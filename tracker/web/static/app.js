// Small enhancements only: every page works without this file.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  // Choosing an event type opens its form at once, ticking a kind filters the timeline at once
  // (the "Next" and "Filter" buttons still work).
  document.querySelectorAll("[data-autosubmit]").forEach(function (control) {
    control.addEventListener("change", function () {
      if (control.form) { control.form.submit(); }
    });
  });
  // An event linked to (#event-...) inside a folded run of routine events: open the run.
  function openTarget() {
    var target = location.hash.length > 1 ? document.getElementById(location.hash.slice(1)) : null;
    var folded = target ? target.closest("details") : null;
    if (folded && !folded.open) { folded.open = true; target.scrollIntoView(); }
  }
  openTarget();
  window.addEventListener("hashchange", openTarget);
  // Each cell of a table that turns into cards on narrow screens is named by its column's heading.
  document.querySelectorAll("table.cards").forEach(function (table) {
    var heads = Array.prototype.map.call(table.querySelectorAll("thead th"), function (th) {
      return th.textContent.trim();
    });
    table.querySelectorAll("tbody tr").forEach(function (row) {
      Array.prototype.forEach.call(row.cells, function (cell, i) {
        if (heads[i] && !cell.hasAttribute("data-label")) { cell.setAttribute("data-label", heads[i]); }
      });
    });
  });
  // The first field with an error gets the focus, so keyboard users land on it.
  var invalid = document.querySelector("[aria-invalid=true]");
  if (invalid) { invalid.focus(); }
});

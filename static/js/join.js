// Session cards: "Opens at 17:45" turns into the Join Session link at that moment, without a reload.
// Included once per waiting card; runs once per page.
(function () {
  "use strict";
  if (window.__joinLinks) return;
  window.__joinLinks = true;
  function check() {
    document.querySelectorAll(".join-soon[data-opens]").forEach(function (span) {
      if (Date.now() < Date.parse(span.dataset.opens)) return;
      var link = document.createElement("a");
      link.className = "button button--primary";
      link.href = span.dataset.url;
      link.textContent = "Join Session";
      span.replaceWith(link);
    });
  }
  setInterval(check, 15000);
  document.addEventListener("visibilitychange", check);
})();

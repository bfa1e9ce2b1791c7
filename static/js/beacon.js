// Analytics beacon: window.analytics.send(name, data[, page]) POSTs one event to /analytics/beacon
// (analytics/views.py). Elements marked data-analytics="recording_played" data-session-id="123"
// report themselves: a <video>/<audio> on its first play, anything else on each click.
// No dependencies; load with defer. Failures are ignored: analytics never gets in the user's way.
(function () {
  "use strict";

  var script = document.currentScript;
  var ENDPOINT = (script && script.dataset.url) || "/analytics/beacon";
  var PAGE = (script && script.dataset.page) || "CSES";

  function csrfToken() {
    try {
      return JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRFToken"] || "";
    } catch (e) {
      return "";
    }
  }

  function send(name, data, page) {
    try {
      return fetch(ENDPOINT, {
        method: "POST",
        keepalive: true, // still delivered when the click navigates away
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
        body: JSON.stringify({ name: name, data: data || {}, page: page || PAGE }),
      }).catch(function () {});
    } catch (e) {
      return Promise.resolve();
    }
  }

  function dataOf(el) {
    var data = {};
    var id = parseInt(el.dataset.sessionId, 10);
    if (!isNaN(id)) data.session_id = id;
    return data;
  }

  // Media: the first play of each element, whenever it was added (play does not bubble: capture).
  document.addEventListener("play", function (event) {
    var el = event.target;
    if (!el.dataset || !el.dataset.analytics || el.dataset.analyticsSent) return;
    el.dataset.analyticsSent = "1";
    send(el.dataset.analytics, dataOf(el));
  }, true);

  // Other elements (a link to the recording, a play button): every click.
  document.addEventListener("click", function (event) {
    var el = event.target.closest ? event.target.closest("[data-analytics]") : null;
    if (!el || el.tagName === "VIDEO" || el.tagName === "AUDIO") return;
    send(el.dataset.analytics, dataOf(el));
  });

  window.analytics = { send: send };
})();

// Session History: keep the page usable when an htmx load fails, and move focus to the detail
// panel when it opens (it has its own URL; without JavaScript the links load whole pages).
document.addEventListener("htmx:beforeSwap", (event) => {
  const target = event.detail.target;
  if (target && target.id === "results" && event.detail.xhr.status === 503) {
    event.detail.shouldSwap = true; // the server's own "Unable to load sessions" state
  }
});
function loadFailed(event) {
  const target = event.detail.target;
  if (!target || !["results", "detail", "calendar"].includes(target.id)) return;
  const url = event.detail.pathInfo ? event.detail.pathInfo.requestPath : window.location.href;
  const box = document.createElement("div");
  box.className = "load-error";
  box.setAttribute("role", "alert");
  const text = document.createElement("p");
  text.textContent = "Unable to load sessions.";
  const retry = document.createElement("a");
  retry.className = "button";
  retry.href = url;
  retry.textContent = "Retry";
  box.append(text, retry);
  target.replaceChildren(box);
}
document.addEventListener("htmx:responseError", loadFailed);
document.addEventListener("htmx:sendError", loadFailed);
document.addEventListener("htmx:afterSwap", (event) => {
  if (event.detail.target && event.detail.target.id === "detail") {
    const panel = document.getElementById("detail");
    const layout = document.querySelector(".history-layout");
    if (layout) layout.classList.add("history-layout--detail");
    if (panel) panel.focus();
  }
});
// Phones: the recording plays in a modal dialog; closing it stops the video.
document.documentElement.classList.add("js");
document.addEventListener("click", (event) => {
  const opener = event.target.closest ? event.target.closest("[data-opens]") : null;
  if (!opener) return;
  const dialog = document.getElementById(opener.dataset.opens);
  if (dialog && dialog.showModal) dialog.showModal();
});
document.addEventListener("close", (event) => {
  if (event.target.matches && event.target.matches(".recording-modal")) {
    const video = event.target.querySelector("video");
    if (video) video.pause();
  }
}, true);
// Typing a date picks "Custom range" under Dates: the dates count only with it (without
// JavaScript the page says so at the date field instead). Runs before htmx reads the form.
document.addEventListener("change", (event) => {
  if (!["f-start", "f-end"].includes(event.target.id) || !event.target.value) return;
  const range = document.getElementById("f-range");
  if (range) range.value = "custom";
}, true);

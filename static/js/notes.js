// Upload progress for the notes form (htmx posts it with XMLHttpRequest, which reports progress).
document.addEventListener("htmx:xhr:progress", (event) => {
  const form = event.target.closest ? event.target.closest(".notes-form") : null;
  if (!form || !event.detail.lengthComputable) return;
  const bar = form.querySelector(".notes-progress");
  const text = form.querySelector("#notes-progress-text");
  const percent = Math.round((event.detail.loaded / event.detail.total) * 100);
  bar.hidden = false;
  bar.value = percent;
  text.textContent = percent < 100 ? `Uploading… ${percent}%` : "Uploaded, saving…";
});

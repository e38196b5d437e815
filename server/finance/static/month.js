/* The month overview's progress bar while the month is being computed: polls the job and
   reloads the page when it is done (a static file: the pages' CSP allows no inline script). */
"use strict";
(function () {
  var box = document.getElementById("progress");
  if (!box) { return; }
  function poll() {
    fetch(box.dataset.url, {credentials: "same-origin"})
      .then(function (r) { return r.json(); })
      .then(function (s) {
        document.getElementById("job-bar").value = s.done;
        document.getElementById("job-count").textContent = s.done + " / " + s.total;
        var waiting = s.status === "queued" || s.status === "running";
        if (waiting) { setTimeout(poll, 700); } else { location.reload(); }
      })
      .catch(function () { setTimeout(poll, 2000); });
  }
  setTimeout(poll, 500);
})();

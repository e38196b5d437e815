// Today's list, live: when the kindergarten's terminals sync, fetch the rows again.
(function () {
  var list = document.getElementById("today-rows");
  if (!list || !window.EventSource) { return; }
  var rowsUrl = list.getAttribute("data-rows");
  var source = new EventSource(list.getAttribute("data-stream"));
  var first = true;
  source.addEventListener("synced", function (event) {
    if (first && event.data === list.getAttribute("data-synced")) { first = false; return; }
    first = false;
    fetch(rowsUrl, { credentials: "same-origin" }).then(function (answer) {
      if (!answer.ok) { return null; }
      return answer.text();
    }).then(function (html) {
      if (html === null) { return; }
      list.innerHTML = html;
      list.setAttribute("data-synced", event.data);
      list.setAttribute("data-updates", String(Number(list.getAttribute("data-updates") || "0") + 1));
    });
  });
})();

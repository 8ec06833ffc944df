// The office's history dialog: a permit's events one at a time (previous / next, or the
// arrow keys), who did what, and the permit as it stood after each event.
(function () {
  "use strict";
  var dt = window.drivethru;
  var dialog = document.getElementById("history-dialog");
  if (!dialog) { return; }
  var statuses = JSON.parse(dialog.dataset.statuses || "{}");
  var events = [];
  var index = 0;

  function el(id) { return document.getElementById(id); }
  function both(indonesian, english) {
    var out = document.createDocumentFragment();
    var id = document.createElement("span");
    id.className = "l-id";
    id.textContent = indonesian;
    var en = document.createElement("span");
    en.className = "l-en";
    en.textContent = english;
    out.appendChild(id);
    out.appendChild(en);
    return out;
  }
  function put(id, content) {
    var node = el(id);
    node.textContent = "";
    if (typeof content === "string") { node.textContent = content; } else { node.appendChild(content); }
  }
  function detailsText(details) {
    return Object.keys(details).filter(function (k) {
      return details[k] !== null && details[k] !== "";
    }).map(function (k) { return k + ": " + details[k]; }).join(" · ") || "—";
  }
  function show(i) {
    index = Math.max(0, Math.min(events.length - 1, i));
    var step = events[index];
    var state = step.state;
    put("history-position", (index + 1) + " / " + events.length + " · v" + step.version);
    put("history-event", both(step.label_id, step.label_en));
    var time = el("history-at");
    time.setAttribute("datetime", step.at);
    time.setAttribute("data-zone", dialog.dataset.zone);
    time.setAttribute("data-zone-name", dialog.dataset.zoneName);
    time.textContent = step.at;
    if (window.drivethruLocalTimes) { window.drivethruLocalTimes(dialog); }
    var who = [step.by, step.lane ? "J" + step.lane : null].filter(Boolean).join(" · ");
    put("history-by", who || "—");
    put("history-details", detailsText(step.details));
    var words = statuses[state.status] || [state.status, state.status];
    put("history-status", both(words[0], words[1]));
    el("history-status").dataset.status = state.status;
    var where = [state.slot, state.window ? "J" + state.window : null, state.team].filter(Boolean);
    put("history-where", where.join(" · ") || "—");
    Array.prototype.forEach.call(el("history-list").children, function (li, n) {
      if (n === index) { li.setAttribute("aria-current", "step"); } else { li.removeAttribute("aria-current"); }
    });
    el("history-prev").disabled = index === 0;
    el("history-next").disabled = index === events.length - 1;
  }
  function list() {
    var ol = el("history-list");
    ol.textContent = "";
    events.forEach(function (step, n) {
      var li = document.createElement("li");
      var button = document.createElement("button");
      button.type = "button";
      button.className = "link";
      button.appendChild(both(step.label_id, step.label_en));
      button.addEventListener("click", function () { show(n); });
      li.appendChild(button);
      ol.appendChild(li);
    });
  }
  function open(id) {
    events = [];
    el("history-error").hidden = true;
    el("history-step").hidden = true;
    dialog.showModal();
    dt.call("GET", "/api/applications/" + encodeURIComponent(id) + "/events").then(function (answer) {
      events = answer.events;
      put("history-number", answer.number);
      list();
      el("history-step").hidden = false;
      show(events.length - 1);
    }).catch(function (err) {
      put("history-error", err.message);
      el("history-error").hidden = false;
    });
  }
  el("history-prev").addEventListener("click", function () { show(index - 1); });
  el("history-next").addEventListener("click", function () { show(index + 1); });
  dialog.addEventListener("keydown", function (ev) {
    if (!events.length) { return; }
    if (ev.key === "ArrowLeft") { ev.preventDefault(); show(index - 1); }
    if (ev.key === "ArrowRight") { ev.preventDefault(); show(index + 1); }
  });
  document.querySelectorAll("button.history-open").forEach(function (button) {
    button.addEventListener("click", function () { open(button.dataset.id); });
  });
})();

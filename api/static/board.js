// The lane board outside the window: plates released to this lane, refreshed live over SSE.
(function () {
  "use strict";
  var body = document.body;
  var lane = body.dataset.lane;
  var list = document.getElementById("board-list");
  var idle = document.getElementById("board-idle");
  var see = document.getElementById("board-see");
  var goTo = document.getElementById("i18n").innerHTML.trim();
  var pending = null;
  function showPlate(text) {
    // "DK1234AB" -> "DK 1234 AB", the way it is painted on the car.
    var m = /^([A-Z]{1,2})(\d{1,4})([A-Z]{0,3})$/.exec(text || "");
    return m ? [m[1], m[2], m[3]].filter(Boolean).join(" ") : (text || "");
  }

  function render(state) {
    list.textContent = "";
    state.released.slice(-4).forEach(function (permit) {
      var li = document.createElement("li");
      var plate = document.createElement("span");
      plate.className = "board-plate";
      plate.textContent = showPlate(permit.plate) || permit.number;
      var where = document.createElement("span");
      where.className = "board-where";
      where.innerHTML = goTo; // our own escaped label from the page, not data
      li.appendChild(plate);
      li.appendChild(where);
      list.appendChild(li);
    });
    idle.hidden = state.released.length > 0;
    var last = state.recent_arrivals[0];
    see.hidden = !(last && last.outcome !== "released" && last.outcome !== "duplicate" &&
      state.released.length === 0);
  }
  // The wait at this lane: "3 mobil · ±6 menit", from our own label templates on the page.
  var queueText = document.getElementById("i18n-queue").innerHTML.trim().split("|");
  var queueLine = document.getElementById("board-queue");
  function renderQueue(queues) {
    var mine = queues.filter(function (q) { return q.lane === lane; })[0];
    if (!mine) { return; }
    queueLine.innerHTML = mine.cars === 0 ? queueText[1] : queueText[0] // numbers only
      .split("{cars}").join(String(Number(mine.cars)))
      .split("{min}").join(String(Number(mine.eta_minutes)));
  }
  function refresh() {
    fetch("/api/lanes/" + encodeURIComponent(lane) + "/board", { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (state) { if (state) { render(state); } })
      .catch(function () { /* the next event retries */ });
    fetch("/api/queue", { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (queues) { if (queues) { renderQueue(queues); } })
      .catch(function () { /* the next event retries */ });
  }
  function soon() {
    if (pending) { return; }
    pending = setTimeout(function () { pending = null; refresh(); }, 150);
  }
  var events = new EventSource("/api/lanes/" + encodeURIComponent(lane) + "/events");
  events.addEventListener("arrival", soon);
  events.addEventListener("changed", soon);
  events.addEventListener("open", refresh);
  refresh();
})();

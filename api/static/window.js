// What the cameras saw: the candidates a plate left open (pick one after the KTP check) and
// the fetch-now list of pre-staged permits. On the console it draws from console.js's state
// ("console-state" events); on the runner's page (body data-runner) it asks every 2 s.
(function () {
  "use strict";
  var dt = window.drivethru;
  var W = dt.labels("i18n-window");
  var PICK = 0, SLOT = 1, LANE = 2, RELEASED = 3, FAILED = 4, NIK_FIRST = 5;
  dt.typed = dt.typed || {}; // NIKs typed at a pick, for the permit's card (console.js)

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) { node.className = cls; }
    if (text !== undefined && text !== null) { node.textContent = text; }
    return node;
  }
  function label(i) { var s = el("span"); s.innerHTML = W[i]; return s; }
  function showPlate(text) {
    var m = /^([A-Z]{1,2})(\d{1,4})([A-Z]{0,3})$/.exec(text || "");
    return m ? [m[1], m[2], m[3]].filter(Boolean).join(" ") : (text || "—");
  }

  function drawFetch(items) {
    var list = document.getElementById("fetch-now");
    if (!list) { return; }
    var key = JSON.stringify(items.map(function (i) { return i.id + i.lane; }));
    if (list.dataset.key === key) { return; }
    list.dataset.key = key;
    list.textContent = "";
    items.forEach(function (i) {
      var li = el("li", "fetch-item");
      li.dataset.id = i.id;
      var slot = el("strong", "fetch-slot"); slot.appendChild(label(SLOT));
      slot.appendChild(document.createTextNode(" " + (i.slot || "?")));
      li.appendChild(slot);
      li.appendChild(el("strong", "plate", showPlate(i.plate)));
      li.appendChild(el("span", "number", i.number));
      li.appendChild(el("span", "holder", i.holder));
      var lane = el("span", "pill"); lane.appendChild(label(LANE));
      lane.appendChild(document.createTextNode(" " + i.lane));
      li.appendChild(lane);
      list.appendChild(li);
    });
    document.getElementById("fetch-none").hidden = items.length > 0;
  }

  var shownVisit = null;
  var looked = null; // an ambiguous plate the operator looked up: shown until picked or a car comes
  function drawCandidates(found, lane) {
    if (found && found.candidates.length) { looked = null; }
    else if (looked) { found = looked; }
    var card = document.getElementById("candidates-card");
    if (!card) { return; }
    var list = document.getElementById("candidates");
    var open = found && found.candidates.length > 0;
    card.hidden = !open;
    if (!open) { shownVisit = null; return; }
    var key = (found.visit || "") + JSON.stringify(found.candidates.map(function (c) { return c.id; }));
    if (shownVisit === key) { return; }
    shownVisit = key;
    document.getElementById("candidates-plate").textContent = showPlate(found.plate);
    document.getElementById("pick-result").textContent = "";
    list.textContent = "";
    var ids = found.candidates.map(function (c) { return c.id; });
    found.candidates.forEach(function (c) {
      var li = el("li", "candidate");
      li.dataset.id = c.id;
      li.appendChild(el("strong", "plate", showPlate(c.plate)));
      li.appendChild(el("span", "holder", c.holder));
      li.appendChild(el("span", "number", c.number));
      var slot = el("span", "slot"); slot.appendChild(label(SLOT));
      slot.appendChild(document.createTextNode(" " + (c.slot || "?")));
      li.appendChild(slot);
      var pick = el("button", "primary pick"); pick.type = "button"; pick.appendChild(label(PICK));
      pick.addEventListener("click", function () { pickOne(lane, found.visit, c.id, ids, pick); });
      li.appendChild(pick);
      list.appendChild(li);
    });
  }

  function pickOne(lane, visit, permitId, ids, button) {
    var nik = document.getElementById("pick-nik").value.trim();
    var reason = document.getElementById("pick-reason").value.trim();
    var out = document.getElementById("pick-result");
    if (!nik && !reason) { out.innerHTML = W[NIK_FIRST]; out.className = "error"; return; }
    var body = { permit_id: permitId, visit: visit, candidates: ids };
    if (nik) { body.nik = nik; } else { body.override_reason = reason; }
    button.disabled = true;
    dt.call("POST", "/api/lanes/" + encodeURIComponent(lane) + "/pick", body).then(function (r) {
      dt.typed[permitId] = { nik: nik, delegate_id: r.delegate_id };
      looked = null;
      out.innerHTML = W[RELEASED]; out.className = "ok";
      document.getElementById("pick-nik").value = "";
      document.getElementById("pick-reason").value = "";
    }).catch(function (err) {
      button.disabled = false;
      out.innerHTML = W[FAILED] + ": "; out.className = "error";
      out.appendChild(document.createTextNode(err.message));
    });
  }

  if (document.body.dataset.runner) {
    var poll = function () {
      dt.call("GET", "/api/lanes/fetch-now").then(function (r) { drawFetch(r.permits); })
        .catch(function () { /* the next poll retries */ });
    };
    poll();
    setInterval(poll, 2000);
  } else {
    var lookup = document.getElementById("lookup");
    lookup.addEventListener("submit", function () {
      // The manual lookup releases an exact or near plate (console.js); an ambiguous one
      // lists its candidates here, to pick after the KTP check.
      if (document.getElementById("lookup-kind").value !== "plate") { return; }
      var lane = document.body.dataset.lane;
      var plate = document.getElementById("lookup-value").value.trim();
      dt.call("GET", "/api/lanes/" + encodeURIComponent(lane) + "/candidates?plate=" +
        encodeURIComponent(plate)).then(function (found) {
        if (found.match !== "ambiguous" || !found.candidates.length) { return; }
        looked = found;
        drawCandidates(null, lane);
      }).catch(function () { /* the lookup's own answer says what failed */ });
    });
    document.addEventListener("console-state", function (ev) {
      var state = ev.detail;
      drawFetch(state.fetch_now || []);
      drawCandidates(state.candidates, state.lane);
    });
  }
})();

// The lane window console: live arrivals over SSE, the permits at the window, the KTP check
// and the handover. Keyboard: H hand over, K tick KTP, R return, / lookup, arrows select.
(function () {
  "use strict";
  var dt = window.drivethru;
  var lane = document.body.dataset.lane;
  var base = "/api/lanes/" + encodeURIComponent(lane);
  var T = dt.labels(); // our own escaped bilingual labels, in the order of the template
  var W = dt.labels("i18n-identity"); // the KTP check's labels (api/pages/lanes.py)
  var NIK_LABEL = 0, NIK_FIRST = 1, OVERRIDE = 2, REASON = 3, AUTH_UNTIL = 4, CODE_OF = 5;
  var HAND = 0, MISMATCH = 1, RETURN = 2, KTP = 3, FETCH = 4, CHECK_OWNER = 5, OR_DELEGATE = 6,
    ARRIVED = 7, LIVE = 8, OFFLINE = 9, HANDED = 10, TICK_FIRST = 11, NOT_FOUND = 12,
    RELEASED = 13, RETURNED = 14, FAILED = 15, RECIPIENT = 16, OWNER = 17, DELEGATE = 18,
    NO_READY = 19, SEE_OPERATOR = 20;
  var METHOD = { code: "QR", plate: "Pelat / Plate", manual: "Manual" };
  var list = document.getElementById("permits");
  var none = document.getElementById("no-permits");
  var cards = {};
  function showPlate(text) {
    // "DK1234AB" -> "DK 1234 AB", the way it is painted on the car.
    var m = /^([A-Z]{1,2})(\d{1,4})([A-Z]{0,3})$/.exec(text || "");
    return m ? [m[1], m[2], m[3]].filter(Boolean).join(" ") : (text || "");
  }
  var selected = null;
  var audio = null;

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) { node.className = cls; }
    if (text !== undefined) { node.textContent = text; }
    return node;
  }
  function label(i) { var s = el("span"); s.innerHTML = T[i]; return s; }

  function unlockAudio() {
    if (!audio && window.AudioContext) { audio = new window.AudioContext(); }
    if (audio && audio.state === "suspended") { audio.resume(); }
  }
  document.addEventListener("pointerdown", unlockAudio);
  document.addEventListener("keydown", unlockAudio);
  function beep() {
    if (!audio || audio.state !== "running") { return; }
    [0, 0.22].forEach(function (at) {
      var osc = audio.createOscillator();
      var gain = audio.createGain();
      osc.frequency.value = 880;
      gain.gain.setValueAtTime(0.25, audio.currentTime + at);
      gain.gain.exponentialRampToValueAtTime(0.001, audio.currentTime + at + 0.18);
      osc.connect(gain).connect(audio.destination);
      osc.start(audio.currentTime + at);
      osc.stop(audio.currentTime + at + 0.2);
    });
  }

  function select(card) {
    if (selected) { selected.classList.remove("selected"); selected.setAttribute("aria-selected", "false"); }
    selected = card;
    if (card) { card.classList.add("selected"); card.setAttribute("aria-selected", "true"); }
  }

  function say(card, html, cls) {
    var out = card.querySelector(".outcome");
    out.className = "outcome " + (cls || "");
    out.innerHTML = html;
  }

  function buildCard(p) {
    var card = el("article", "permit-card");
    card.setAttribute("role", "listitem");
    card.tabIndex = 0;
    card.dataset.id = p.id;
    var head = el("div", "permit-head");
    head.appendChild(el("strong", "plate", showPlate(p.plate) || "—"));
    head.appendChild(el("span", "number", p.number));
    card.appendChild(head);
    var slot = el("p", "slot");
    slot.appendChild(label(FETCH));
    slot.appendChild(el("strong", "slot-name", " " + (p.slot || "?")));
    card.appendChild(slot);
    var who = el("p", "who");
    who.appendChild(label(CHECK_OWNER));
    who.appendChild(el("strong", "", " " + p.holder));
    card.appendChild(who);
    var pick = el("fieldset", "recipient");
    var legend = el("legend"); legend.appendChild(label(RECIPIENT)); pick.appendChild(legend);
    function option(value, text, extra) {
      var l = el("label", "choice");
      var r = el("input"); r.type = "radio"; r.name = "recipient-" + p.id; r.value = value;
      if (extra) { r.dataset.delegate = extra; }
      if (value === "owner") { r.checked = true; }
      l.appendChild(r); l.appendChild(text);
      pick.appendChild(l);
    }
    option("owner", label(OWNER));
    (p.delegates || []).forEach(function (d) {
      var t = el("span"); t.appendChild(label(DELEGATE));
      t.appendChild(document.createTextNode(": " + d.name_masked + " · NIK " + d.nik_masked));
      option("delegate", t, d.delegate_id);
    });
    if ((p.delegates || []).length) {
      var hint = el("p", "muted"); hint.appendChild(label(OR_DELEGATE)); card.appendChild(hint);
    }
    card.appendChild(pick);
    if (p.released_for_delegate) { preselect(card, p); }
    var typed = (dt.typed || {})[p.id]; // typed at the pick among candidates (window.js)
    if (typed && typed.delegate_id) {
      var r = card.querySelector("input[data-delegate='" + typed.delegate_id + "']");
      if (r) { r.checked = true; }
    }
    card.appendChild(identityCheck(p, typed));
    var actions = el("div", "actions");
    var hand = el("button", "primary big hand"); hand.type = "button"; hand.appendChild(label(HAND));
    var wrong = el("button", "warn mismatch"); wrong.type = "button"; wrong.appendChild(label(MISMATCH));
    var back = el("button", "secondary return"); back.type = "button"; back.appendChild(label(RETURN));
    actions.appendChild(hand); actions.appendChild(wrong); actions.appendChild(back);
    card.appendChild(actions);
    card.appendChild(el("p", "outcome"));
    card.setAttribute("role", "listitem");
    card.addEventListener("focusin", function () { select(card); });
    card.addEventListener("click", function () { select(card); });
    hand.addEventListener("click", function () { handOver(card); });
    wrong.addEventListener("click", function () { sendBack(card, "identitas tidak cocok / identity mismatch"); });
    back.addEventListener("click", function () { sendBack(card, "mobil pergi / car left"); });
    return card;
  }

  // The KTP check: the NIK typed from the KTP shown (or its last 6 digits), which the server
  // checks against the chosen recipient's; or, without one, an override and its reason.
  function wlabel(i) { var s = el("span"); s.innerHTML = W[i]; return s; }
  function identityCheck(p, typed) {
    var box = el("div", "ktp");
    var id = "nik-" + p.id;
    var l = el("label"); l.htmlFor = id; l.appendChild(label(KTP)); l.appendChild(wlabel(NIK_LABEL));
    var nik = el("input", "nik"); nik.id = id; nik.inputMode = "numeric"; nik.autocomplete = "off";
    nik.maxLength = 20; nik.placeholder = "16 / 6";
    if (typed && typed.nik) { nik.value = typed.nik; }
    nik.addEventListener("keydown", function (ev) {
      if (ev.key === "Enter") { ev.preventDefault(); handOver(nik.closest(".permit-card")); }
    });
    box.appendChild(l); box.appendChild(nik);
    var over = el("label", "override");
    var tick = el("input"); tick.type = "checkbox"; tick.className = "override-on";
    over.appendChild(tick); over.appendChild(wlabel(OVERRIDE));
    var reason = el("input", "override-reason"); reason.maxLength = 200; reason.hidden = true;
    reason.setAttribute("aria-label", W[REASON].replace(/<[^>]*>/g, " "));
    tick.addEventListener("change", function () { reason.hidden = !tick.checked; if (tick.checked) { reason.focus(); } });
    box.appendChild(over); box.appendChild(reason);
    return box;
  }
  function preselect(card, p) {
    // The delegate's own code was read: the delegate collects, with the authorisation shown.
    var radio = card.querySelector("input[data-delegate='" + p.released_for_delegate + "']");
    if (!radio) { return; }
    radio.checked = true;
    var d = (p.delegates || []).filter(function (x) { return x.delegate_id === p.released_for_delegate; })[0];
    var auth = el("p", "authorisation pill warn-pill");
    auth.appendChild(wlabel(CODE_OF));
    auth.appendChild(document.createTextNode(" " + d.name_masked + " · NIK " + d.nik_masked + " · "));
    auth.appendChild(wlabel(AUTH_UNTIL));
    auth.appendChild(document.createTextNode(" " + String(d.expires_at).slice(0, 10)));
    card.insertBefore(auth, card.querySelector(".recipient"));
  }

  function handOver(card) {
    var nik = card.querySelector(".nik");
    var over = card.querySelector(".override-on").checked;
    var reason = card.querySelector(".override-reason").value.trim();
    if (!over && !nik.value.trim() || over && !reason) {
      say(card, over ? W[REASON] : W[NIK_FIRST], "error"); (over ? card.querySelector(".override-reason") : nik).focus(); return;
    }
    var chosen = card.querySelector("input[type=radio]:checked");
    var body = {
      permit_id: card.dataset.id, handover_id: dt.newId(),
      recipient: chosen ? chosen.value : "owner",
      delegate_id: chosen && chosen.dataset.delegate ? chosen.dataset.delegate : null
    };
    if (over) { body.override_reason = reason; } else { body.nik = nik.value.trim(); }
    card.querySelector(".hand").disabled = true;
    dt.call("POST", base + "/handover", body).then(function () {
      say(card, T[HANDED], "ok");
      card.classList.add("done");
      setTimeout(refresh, 1200);
    }).catch(function (err) {
      card.querySelector(".hand").disabled = false;
      say(card, T[FAILED] + ": ", "error");
      card.querySelector(".outcome").appendChild(document.createTextNode(err.message));
    });
  }

  function sendBack(card, reason) {
    dt.call("POST", base + "/return", { permit_id: card.dataset.id, reason: reason })
      .then(function () { say(card, T[RETURNED], "ok"); setTimeout(refresh, 800); })
      .catch(function (err) {
        say(card, T[FAILED] + ": ", "error");
        card.querySelector(".outcome").appendChild(document.createTextNode(err.message));
      });
  }

  function render(state) {
    var seen = {};
    state.released.forEach(function (p) {
      seen[p.id] = true;
      if (!cards[p.id]) { cards[p.id] = buildCard(p); list.appendChild(cards[p.id]); }
    });
    Object.keys(cards).forEach(function (id) {
      if (!seen[id] && !cards[id].classList.contains("done-shown")) {
        if (selected === cards[id]) { select(null); }
        cards[id].remove(); delete cards[id];
      }
    });
    none.hidden = state.released.length > 0;
    if (!selected && list.firstElementChild) { select(list.firstElementChild); }
    if (state.recent_arrivals.length && !shownArrival) { showArrival(state.recent_arrivals[0], false); }
  }

  var shownArrival = false;
  function showArrival(a, fresh) {
    shownArrival = true;
    var box = document.getElementById("arrival");
    var text = document.getElementById("arrival-text");
    text.textContent = "";
    text.className = "arrival-text";
    var title = label(ARRIVED);
    title.className = "arrived";
    text.appendChild(title);
    text.appendChild(el("strong", "plate big-plate", showPlate(a.plate) || "—"));
    text.appendChild(el("span", "method", METHOD[a.method] || a.method || ""));
    if (a.outcome !== "released" && a.outcome !== "duplicate") {
      var warn = el("span", "pill warn-pill");
      warn.appendChild(label(a.outcome === "no_match" ? NO_READY : SEE_OPERATOR));
      text.appendChild(warn);
    }
    if (fresh) {
      box.classList.remove("flash");
      void box.offsetWidth; // restart the animation
      box.classList.add("flash");
      beep();
    }
  }

  var pending = null;
  function refresh() {
    dt.call("GET", "/lanes/" + encodeURIComponent(lane) + "/console/state").then(function (state) {
      render(state);
      // The candidates and fetch-now panels (window.js) draw from the same state.
      document.dispatchEvent(new CustomEvent("console-state", { detail: state }));
    })
      .catch(function () { /* the next event retries */ });
  }
  function soon() {
    if (pending) { return; }
    pending = setTimeout(function () { pending = null; refresh(); }, 150);
  }

  var live = document.getElementById("live-state");
  var events = new EventSource(base + "/events");
  events.addEventListener("open", function () { live.innerHTML = T[LIVE]; live.className = "pill ok"; refresh(); });
  events.addEventListener("error", function () { live.innerHTML = T[OFFLINE]; live.className = "pill warn-pill"; });
  events.addEventListener("arrival", function (m) { showArrival(JSON.parse(m.data), true); soon(); });
  events.addEventListener("changed", soon);

  document.getElementById("lookup").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var kind = document.getElementById("lookup-kind").value;
    var value = document.getElementById("lookup-value").value.trim();
    var out = document.getElementById("lookup-result");
    var body = {}; body[kind] = value;
    dt.call("POST", base + "/arrivals", body).then(function (r) {
      out.innerHTML = r.outcome === "released" ? T[RELEASED]
        : r.outcome === "ambiguous" ? T[SEE_OPERATOR] : T[NOT_FOUND]; // candidates: window.js
      soon();
    }).catch(function (err) { out.textContent = err.message; });
  });

  document.addEventListener("keydown", function (ev) {
    var t = ev.target;
    if (ev.ctrlKey || ev.metaKey || ev.altKey) { return; }
    if (t && (t.tagName === "INPUT" && t.type !== "checkbox" && t.type !== "radio" || t.tagName === "TEXTAREA" || t.tagName === "SELECT")) { return; }
    var key = ev.key.toLowerCase();
    if (key === "/") { ev.preventDefault(); document.getElementById("lookup-value").focus(); return; }
    if (key === "arrowdown" || key === "arrowup") {
      var all = Array.prototype.slice.call(list.children);
      var i = all.indexOf(selected) + (key === "arrowdown" ? 1 : -1);
      if (all[i]) { ev.preventDefault(); all[i].focus(); }
      return;
    }
    if (!selected) { return; }
    if (key === "h") { ev.preventDefault(); handOver(selected); }
    else if (key === "k") { ev.preventDefault(); selected.querySelector(".nik").focus(); }
    else if (key === "r") { ev.preventDefault(); sendBack(selected, "mobil pergi / car left"); }
  });
  refresh();
})();

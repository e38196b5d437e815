/* Qatys parents' pages: the phone's key (WebCrypto ECDSA P-256, private half not
   extractable, kept in IndexedDB), invitation claim, sign-in by signature, and the entry code
   that changes every 30 seconds. Works offline once loaded: the service worker keeps these
   files, the key and the list of children stay on the phone. */
"use strict";
var QatysParents = (function () {
  var WINDOW_MS = 30000;
  var DB = "qatys-parents", STORE = "keys", KEY = "phone";
  var csrf = "";  /* the session's CSRF token: from the sign-in answer or /parents/api/me */

  function texts() { return document.getElementById("texts").dataset; }
  function status(message, bad) {
    var el = document.getElementById("status");
    el.textContent = message || "";
    el.className = "status" + (bad ? " bad" : "");
  }
  function b64(bytes) {
    var s = "", view = new Uint8Array(bytes);
    for (var i = 0; i < view.length; i++) { s += String.fromCharCode(view[i]); }
    return btoa(s);
  }
  function b64url(bytes) { return b64(bytes).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, ""); }
  function utf8(text) { return new TextEncoder().encode(text); }
  function hex(bytes) {
    return Array.prototype.map.call(new Uint8Array(bytes), function (b) {
      return ("0" + b.toString(16)).slice(-2); }).join("");
  }

  function openDb() {
    return new Promise(function (resolve, reject) {
      var request = indexedDB.open(DB, 1);
      request.onupgradeneeded = function () { request.result.createObjectStore(STORE); };
      request.onsuccess = function () { resolve(request.result); };
      request.onerror = function () { reject(request.error); };
    });
  }
  function dbCall(mode, action) {
    return openDb().then(function (db) {
      return new Promise(function (resolve, reject) {
        var tx = db.transaction(STORE, mode), request = action(tx.objectStore(STORE));
        tx.oncomplete = function () { resolve(request.result); };
        tx.onerror = function () { reject(tx.error); };
      });
    });
  }
  function loadKey() { return dbCall("readonly", function (s) { return s.get(KEY); }); }
  function makeKey() {
    return crypto.subtle.generateKey({name: "ECDSA", namedCurve: "P-256"}, false, ["sign", "verify"])
      .then(function (pair) {
        return crypto.subtle.exportKey("spki", pair.publicKey).then(function (spki) {
          return crypto.subtle.digest("SHA-256", spki).then(function (digest) {
            var record = {privateKey: pair.privateKey, spki: b64(spki), keyId: hex(digest).slice(0, 16)};
            return dbCall("readwrite", function (s) { return s.put(record, KEY); })
              .then(function () { return record; });
          });
        });
      });
  }
  function sign(record, text) {
    return crypto.subtle.sign({name: "ECDSA", hash: "SHA-256"}, record.privateKey, utf8(text));
  }
  function post(url, body) {
    return fetch(url, {method: "POST", credentials: "same-origin",
                       headers: {"Content-Type": "application/json", "X-Qatys-CSRF": csrf},
                       body: JSON.stringify(body)})
      .then(function (r) { return r.json().then(function (j) { j.status = r.status; return j; }); })
      .then(function (j) { if (j.csrf) { csrf = j.csrf; } return j; });
  }
  function secure() {
    if (window.isSecureContext && window.crypto && crypto.subtle) { return true; }
    status(texts().secure, true);
    return false;
  }

  function invite() {
    var button = document.getElementById("accept");
    if (!button || !secure()) { return; }
    button.addEventListener("click", function () {
      button.disabled = true;
      var code = button.dataset.code;
      loadKey().then(function (record) { return record || makeKey(); }).then(function (record) {
        return sign(record, "qatys-claim-v1\n" + code).then(function (proof) {
          return post("/parents/api/claim", {code: code, public_key: record.spki, proof: b64(proof)});
        });
      }).then(function (answer) {
        if (answer.ok) { location.href = "/parents/"; return; }
        var key = "invitation" + ((answer.error && answer.error.code) || "").replace(/^invitation/, "")
          .replace(/_([a-z])/g, function (_, c) { return c.toUpperCase(); });
        status(texts()[key] || texts().failed, true);
        button.disabled = false;
      }).catch(function () { status(texts().failed, true); button.disabled = false; });
    });
  }

  function signIn(record) {
    return fetch("/parents/api/challenge", {credentials: "same-origin"})
      .then(function (r) { return r.json(); })
      .then(function (c) {
        return sign(record, "qatys-login-v1\n" + c.nonce).then(function (signature) {
          return post("/parents/api/login", {key_id: record.keyId, nonce: c.nonce, signature: b64(signature)});
        });
      });
  }
  function children() {
    return fetch("/parents/api/me", {credentials: "same-origin"}).then(function (r) {
      if (r.status === 401) { throw new Error("signed out"); }
      return r.json();
    }).then(function (me) {
      csrf = me.csrf || csrf;
      localStorage.setItem("qatys-children", JSON.stringify(me.children));
      return me.children;
    });
  }

  function showChildren(list, record) {
    var ul = document.getElementById("children");
    ul.innerHTML = "";
    list.forEach(function (child) {
      var li = document.createElement("li"), button = document.createElement("button"),
          link = document.createElement("a");
      li.dataset.child = child.child_id;
      button.textContent = child.first_name + " · " + texts().entryCode;
      button.className = "show-code";
      button.addEventListener("click", function () { showCode(child, record); });
      li.dataset.kind = child.kind || "guardian";
      li.appendChild(button);
      if (child.today) {  // today's state: here, gone home, absent, not yet
        var state = document.createElement("span");
        state.className = "today-state";
        state.dataset.state = child.today;
        state.textContent = " " + (texts()["today" + child.today.charAt(0).toUpperCase() +
                                           child.today.slice(1)] || child.today);
        li.appendChild(state);
      }
      if (child.kind !== "pickup") {  // a pickup adult's phone: the code and today only
        link.href = "/parents/child/" + encodeURIComponent(child.child_id);
        link.textContent = texts().record;
        li.appendChild(document.createTextNode(" ")); li.appendChild(link);
      }
      if (child.consent) { li.appendChild(consentBox(child, record)); }
      if (child.pickup) { li.appendChild(pickupBox(child, record)); }
      ul.appendChild(li);
    });
  }

  function pickupBox(child, record) {  // adults allowed to collect the child
    var t = texts(), box = document.createElement("div");
    box.className = "pickup";
    var title = document.createElement("strong");
    title.textContent = t.pickupTitle + ":";
    box.appendChild(title);
    var list = document.createElement("ul");
    list.className = "pickup-list";
    child.pickup.forEach(function (adult) {
      var item = document.createElement("li"), remove = document.createElement("button");
      item.dataset.adult = adult.id;
      item.dataset.relation = adult.relation;
      item.textContent = adult.first_name + " · " + adult.relation_text +
        (adult.claimed ? "" : " · " + t.pickupWaiting) + " ";
      remove.className = "pickup-remove plain";
      remove.textContent = t.pickupRemove;
      remove.addEventListener("click", function () {
        remove.disabled = true;
        post("/parents/api/pickup/remove", {child_id: child.child_id, adult: adult.id})
          .then(function (answer) {
            if (!answer.ok) { throw new Error(answer.error && answer.error.code); }
            return children().then(function (all) { showChildren(all, record); });
          }).catch(function () { status(t.failed, true); remove.disabled = false; });
      });
      item.appendChild(remove);
      list.appendChild(item);
    });
    box.appendChild(list);
    var form = document.createElement("form"), name = document.createElement("input"),
        relation = document.getElementById("pickup-relations").cloneNode(true),
        add = document.createElement("button"), shown = document.createElement("div");
    form.className = "pickup-form";
    name.name = "first_name"; name.className = "pickup-name"; name.maxLength = 100;
    name.placeholder = t.pickupName; name.setAttribute("aria-label", t.pickupName);
    relation.hidden = false; relation.removeAttribute("id"); relation.className = "pickup-relation";
    add.type = "submit"; add.className = "pickup-add"; add.textContent = t.pickupAdd;
    shown.className = "pickup-invitation";
    form.appendChild(name); form.appendChild(relation); form.appendChild(add);
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      add.disabled = true;
      post("/parents/api/pickup", {child_id: child.child_id, first_name: name.value,
                                   relation: relation.value})
        .then(function (answer) {
          add.disabled = false;
          if (!answer.ok) {
            var code = (answer.error || {}).code;
            status({pickup_limit: t.pickupLimit, bad_first_name: t.pickupBadName,
                    bad_relation: t.pickupBadRelation}[code] || t.failed, true);
            return;
          }
          status("");
          var url = location.origin + answer.invitation.url, qr = qrcode(0, "M");
          qr.addData(url); qr.make();
          shown.innerHTML = qr.createSvgTag({cellSize: 5, margin: 4, scalable: true});
          var link = document.createElement("a");
          link.href = url; link.className = "pickup-link"; link.textContent = url;
          shown.appendChild(document.createElement("br")); shown.appendChild(link);
          shown.dataset.code = answer.invitation.code;
          var hint = document.createElement("p");
          hint.className = "hint"; hint.textContent = t.pickupHint;
          shown.appendChild(hint);
        }).catch(function () { add.disabled = false; status(t.failed, true); });
    });
    box.appendChild(form);
    box.appendChild(shown);
    return box;
  }

  function consentBox(child, record) {
    var box = document.createElement("div"), state = child.consent, t = texts();
    box.className = "consent";
    var label = {granted: t.consentGranted.replace("{until}", state.until), none: t.consentNone,
                 withdrawn: t.consentWithdrawn, expired: t.consentExpired}[state.status];
    box.innerHTML = "<strong></strong> <span class='consent-status'></span><br>" +
      "<small class='hint'></small><br>";
    box.querySelector("strong").textContent = t.faceConsent + ":";
    box.querySelector(".consent-status").textContent = label;
    box.querySelector(".consent-status").dataset.status = state.status;
    box.querySelector("small").textContent = t.consentHint;
    var face = state.face, line = null;
    if (face && face.enrolled) {
      line = t.faceKept.replace("{since}", face.enrolled_at.slice(0, 10));
    } else if (face && face.erased_at) {
      line = t.faceErased.replace("{date}", face.erased_at.slice(0, 10)) +
        (face.erased_on_terminals ?
          " (" + t.faceErasedOn.replace("{n}", face.erased_on_terminals) + ")" : "");
    }
    if (line) {
      var facts = document.createElement("small");
      facts.className = "face-state";
      facts.textContent = line;
      box.appendChild(facts);
      box.appendChild(document.createElement("br"));
    }
    var granted = state.status === "granted", button = document.createElement("button");
    button.className = "consent-action plain";
    button.textContent = granted ? t.consentWithdraw : t.consentGrant;
    button.addEventListener("click", function () {
      var action = granted ? "withdraw" : "grant", until = granted ? "" : state.longest_until,
          at = Date.now();
      var message = "qatys-consent-v1\n" + action + "\n" + child.child_id + "\n" +
        child.kindergarten_code + "\n" + until + "\n" + at;
      button.disabled = true;
      sign(record, message).then(function (signature) {
        return post("/parents/api/consent", {child_id: child.child_id, action: action,
          until: until, signed_at_ms: at, signature: b64(signature)});
      }).then(function (answer) {
        if (!answer.ok) { throw new Error(answer.error && answer.error.code); }
        return children().then(function (list) { showChildren(list, record); });
      }).catch(function () { status(t.failed, true); button.disabled = false; });
    });
    box.appendChild(button);
    return box;
  }

  var timer = null;
  function showCode(child, record) {
    var view = document.getElementById("code-view"), shown = -1;
    view.hidden = false;
    document.getElementById("code-child").textContent = child.first_name;
    view.scrollIntoView();
    if (timer) { clearInterval(timer); }
    function tick() {
      var now = Date.now(), win = Math.floor(now / WINDOW_MS);
      // one sentence per number of seconds, in the page's language and its plural forms
      var left = Math.ceil((WINDOW_MS - now % WINDOW_MS) / 1000),
          parts = (JSON.parse(texts().secondsLeft)[left] || "{n}").split("{n}");
      document.getElementById("countdown-before").textContent = parts[0];
      document.getElementById("countdown").textContent = left;
      document.getElementById("countdown-after").textContent = parts.slice(1).join("");
      if (win === shown) { return; }
      shown = win;
      var message = "qatys-phone-v1\n" + record.keyId + "\n" + child.child_id + "\n" + win;
      sign(record, message).then(function (signature) {
        var text = "QP1:" + record.keyId + ":" + child.child_id + ":" + win + ":" + child.serial +
          ":" + child.binding + ":" + b64url(signature);
        var qr = qrcode(0, "M");
        qr.addData(text);
        qr.make();
        var box = document.getElementById("qr");
        box.innerHTML = qr.createSvgTag({cellSize: 6, margin: 4, scalable: true});
        box.dataset.text = text;
        box.dataset.window = String(win);
      });
    }
    tick();
    timer = setInterval(tick, 500);
  }

  function home(signedIn) {
    if ("serviceWorker" in navigator) {
      navigator.serviceWorker.register("/parents/sw.js", {scope: "/parents/"}).catch(function () {});
    }
    if (!secure()) { return; }
    loadKey().then(function (record) {
      if (!record) { status(texts().noKey, true); return; }
      var session = signedIn ? Promise.resolve() : signIn(record);
      session.then(children).then(function (list) { showChildren(list, record); status(""); push(); })
        .catch(function () {
          var cached = JSON.parse(localStorage.getItem("qatys-children") || "[]");
          if (cached.length) { showChildren(cached, record); status(texts().offline); }
          else { status(navigator.onLine ? texts().noKey : texts().offline, true); }
        });
    });
  }

  var PUSH_WAIT_MS = 8000;
  function push() {  // opt-in per phone: the browser's push subscription, sent to the server
    var section = document.getElementById("push-section");
    if (!section) { return; }
    section.hidden = false;
    var on = document.getElementById("push-on"), off = document.getElementById("push-off"),
        el = document.getElementById("push-status"), t = texts();
    function say(message, bad) { el.textContent = message; el.className = bad ? "status bad" : "status"; }
    function shown(subscribed) { on.hidden = subscribed; off.hidden = !subscribed; }
    function registration() {
      if (!("serviceWorker" in navigator) || !("PushManager" in window)) {
        return Promise.reject({name: "NoPushService"});
      }
      return navigator.serviceWorker.ready;
    }
    function key(text) {
      var raw = atob(text.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((text.length + 3) % 4));
      return Uint8Array.from(raw, function (c) { return c.charCodeAt(0); });
    }
    registration().then(function (reg) { return reg.pushManager.getSubscription(); })
      .then(function (found) { shown(!!found); }).catch(function () { shown(false); });
    on.addEventListener("click", function () {
      on.disabled = true;
      var permission = (window.Notification && Notification.requestPermission)
        ? Notification.requestPermission() : Promise.resolve("default");
      Promise.resolve(permission).then(function (answer) {
        if (answer === "denied") { return Promise.reject({name: "NotAllowedError"}); }
        return Promise.all([registration(), fetch("/parents/api/push/key").then(function (r) { return r.json(); })]);
      }).then(function (both) {
        /* a browser without a push service (headless Chromium, some de-Googled builds)
           may never settle: give it a few seconds */
        return Promise.race([
          both[0].pushManager.subscribe({userVisibleOnly: true, applicationServerKey: key(both[1].key)}),
          new Promise(function (_, reject) { setTimeout(function () { reject({name: "NoPushService"}); }, PUSH_WAIT_MS); })]);
      }).then(function (subscription) {
        return post("/parents/api/push/subscribe", subscription.toJSON());
      }).then(function (answer) {
        on.disabled = false;
        if (!answer.ok) { say(t.failed, true); return; }
        shown(true); say(t.pushOn);
      }).catch(function (error) {
        on.disabled = false;
        say(error && error.name === "NotAllowedError" && !/push service/i.test(error.message || "")
            ? t.pushDenied : t.pushUnsupported, true);
        section.dataset.failure = (error && error.name) || "error";
      });
    });
    off.addEventListener("click", function () {
      registration().then(function (reg) { return reg.pushManager.getSubscription(); })
        .then(function (found) {
          if (!found) { return null; }
          return post("/parents/api/push/unsubscribe", {endpoint: found.endpoint})
            .then(function () { return found.unsubscribe(); });
        }).then(function () { shown(false); say(t.pushOff); })
        .catch(function () { say(t.failed, true); });
    });
  }

  function month() {
    var section = document.getElementById("confirm-section");
    csrf = section.dataset.csrf || "";
    function send(kind) {
      var days = [].map.call(document.querySelectorAll("input[name=day]:checked"),
                             function (box) { return box.value; });
      var comment = (document.getElementById("comment") || {}).value || "";
      post("/parents/api/month", {child_id: section.dataset.child, month: section.dataset.month,
                                  kind: kind, days: kind === "dispute" ? days : [],
                                  comment: kind === "dispute" ? comment : ""})
        .then(function (answer) {
          var el = document.getElementById("status");
          if (answer.ok) { el.textContent = el.dataset.sent; location.reload(); }
          else {  // in the page's language: the answer's message is for developers
            el.textContent = {confirmation_closed: el.dataset.closed,
                              bad_dispute: el.dataset.badDispute}[answer.error.code] ||
              el.dataset.failed;
            el.className = "status bad";
          }
        });
    }
    var confirm = document.getElementById("confirm-month"),
        dispute = document.getElementById("dispute-month");
    if (confirm) { confirm.addEventListener("click", function () { send("confirm"); }); }
    if (dispute) { dispute.addEventListener("click", function () { send("dispute"); }); }
    report();
  }

  function report() {  // an absence reported from the phone, with the certificate's photo
    var section = document.getElementById("report-section"),
        form = document.getElementById("report-form");
    if (!section || !form) { return; }
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var body = new FormData(form), el = document.getElementById("report-status");
      body.append("child_id", section.dataset.child);
      var file = document.getElementById("report-document");
      if (!file.files.length) { body.delete("document"); }
      fetch("/parents/api/absence-report", {method: "POST", credentials: "same-origin",
                                            headers: {"X-Qatys-CSRF": csrf}, body: body})
        .then(function (r) { return r.json(); })
        .then(function (answer) {
          if (answer.ok) { el.textContent = el.dataset.sent; el.className = "status"; location.reload(); return; }
          var code = (answer.error || {}).code;
          el.textContent = {report_too_old: el.dataset.window, report_too_far: el.dataset.window,
                            report_reversed: el.dataset.reversed, document_type: el.dataset.type,
                            document_too_large: el.dataset.large, payload_too_large: el.dataset.large
                           }[code] || el.dataset.failed;
          el.className = "status bad";
        })
        .catch(function () { el.textContent = el.dataset.failed; el.className = "status bad"; });
    });
  }

  var pages = {home: function () { home(document.body.dataset.signedIn === "true"); },
               invite: invite, month: month};
  if (pages[document.body.dataset.page]) { pages[document.body.dataset.page](); }
  return {home: home, invite: invite, month: month};
})();

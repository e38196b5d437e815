/* Keeps the parents' home page and its scripts on the phone, so the entry code works with
   the phone offline. Network first (fresh when online), the kept copy when not.
   Shows the server's push messages (docs/notifications.md): arrivals, departures, "not
   collected yet", an absence report's outcome; a tap opens the parents' page. */
"use strict";
var CACHE = "qatys-parents-v3";
var FILES = ["/parents/", "/parents/static/app.js", "/parents/static/qrcode.js", "/parents/static/parents.css"];

self.addEventListener("install", function (event) {
  event.waitUntil(caches.open(CACHE).then(function (cache) { return cache.addAll(FILES); }));
  self.skipWaiting();
});
self.addEventListener("activate", function (event) {
  event.waitUntil(self.clients.claim());
});
self.addEventListener("fetch", function (event) {
  var url = new URL(event.request.url);
  if (event.request.method !== "GET" || FILES.indexOf(url.pathname) < 0) { return; }
  event.respondWith(fetch(event.request).then(function (response) {
    var copy = response.clone();
    caches.open(CACHE).then(function (cache) { cache.put(url.pathname, copy); });
    return response;
  }).catch(function () { return caches.match(url.pathname); }));
});
self.addEventListener("push", function (event) {
  var message = {};
  try { message = event.data ? event.data.json() : {}; }
  catch (e) { message = {body: event.data ? event.data.text() : ""}; }
  event.waitUntil(self.registration.showNotification(message.title || "Qatys", {
    body: message.body || "", tag: message.tag || undefined, lang: message.lang || undefined,
    data: {url: message.url || "/parents/"}
  }));
});
self.addEventListener("notificationclick", function (event) {
  event.notification.close();
  var url = (event.notification.data && event.notification.data.url) || "/parents/";
  event.waitUntil(self.clients.matchAll({type: "window", includeUncontrolled: true})
    .then(function (windows) {
      for (var i = 0; i < windows.length; i++) {
        if (new URL(windows[i].url).pathname.indexOf("/parents/") === 0 && "focus" in windows[i]) {
          return windows[i].focus();
        }
      }
      return self.clients.openWindow(url);
    }));
});

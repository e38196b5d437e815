/* Keeps the parents' home page and its scripts on the phone, so the entry code works with
   the phone offline. Network first (fresh when online), the kept copy when not. */
"use strict";
var CACHE = "qatys-parents-v2";
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

// meterops field app: the service worker (scope /field). Version __VERSION__.
//
// * The app shell (scripts, styles, icons, Leaflet) is cached when the worker installs.
// * Pages under /field and GETs of the field API go to the network first; a good answer is
//   kept, and without a connection the kept answer is served (the day's route, the orders,
//   their forms). The page asks for the day's stops to be kept ahead ("keep" message).
// * Results are never sent from here: the page keeps them in IndexedDB and sends them itself.
"use strict";

var VERSION = "__VERSION__";
var CACHE = "meterops-field-" + VERSION;
var SHELL = __SHELL_ASSETS__;

self.addEventListener("install", function (event) {
  event.waitUntil(
    caches.open(CACHE).then(function (cache) { return cache.addAll(SHELL); })
      .then(function () { return self.skipWaiting(); })
  );
});

self.addEventListener("activate", function (event) {
  event.waitUntil(
    caches.keys().then(function (names) {
      return Promise.all(names.filter(function (name) {
        return name.indexOf("meterops-field-") === 0 && name !== CACHE;
      }).map(function (name) { return caches.delete(name); }));
    }).then(function () { return self.clients.claim(); })
  );
});

function keepable(url) {
  return url.origin === self.location.origin && (
    url.pathname === "/field" || url.pathname.indexOf("/field/stops/") === 0 ||
    url.pathname.indexOf("/api/v1/field/") === 0
  );
}

function store(request, response) {
  // Only good, final answers: never a redirect to the sign-in page or an error.
  if (response.ok && !response.redirected && response.type === "basic") {
    var copy = response.clone();
    return caches.open(CACHE).then(function (cache) { return cache.put(request, copy); })
      .then(function () { return response; });
  }
  return Promise.resolve(response);
}

function offlineAnswer(request) {
  var url = new URL(request.url);
  if (url.pathname.indexOf("/api/") === 0) {
    return new Response(JSON.stringify({ error: { code: "offline", message: "No connection and nothing kept for this.", details: {} } }), {
      status: 503, headers: { "Content-Type": "application/json" }
    });
  }
  return new Response("<!doctype html><title>Offline</title><p>No connection, and this page was not kept for offline use. <a href=\"/field\">Today's route</a></p>", {
    status: 503, headers: { "Content-Type": "text/html; charset=utf-8" }
  });
}

self.addEventListener("fetch", function (event) {
  var request = event.request;
  if (request.method !== "GET") { return; }
  var url = new URL(request.url);
  if (url.origin !== self.location.origin) { return; }
  if (url.pathname.indexOf("/static/") === 0) {
    event.respondWith(caches.match(request).then(function (hit) { return hit || fetch(request); }));
    return;
  }
  if (!keepable(url) || /\/photos\/[^/]+$/.test(url.pathname)) { return; }
  event.respondWith(
    fetch(request).then(function (response) { return store(request, response); }, function () {
      return caches.match(request, { ignoreVary: true }).then(function (hit) {
        return hit || offlineAnswer(request);
      });
    })
  );
});

// {type: "keep", urls: [...]}: fetch and keep these now; answers {cached, failed} on the port.
self.addEventListener("message", function (event) {
  var data = event.data || {};
  if (data.type !== "keep" || !Array.isArray(data.urls)) { return; }
  var port = event.ports && event.ports[0];
  event.waitUntil(Promise.all(data.urls.map(function (path) {
    var request = new Request(new URL(path, self.location.origin).href, { credentials: "same-origin" });
    return fetch(request).then(function (response) { return store(request, response); })
      .then(function (response) { return response.ok && !response.redirected; }, function () { return false; });
  })).then(function (results) {
    var cached = results.filter(Boolean).length;
    if (port) { port.postMessage({ cached: cached, failed: results.length - cached }); }
  }));
});

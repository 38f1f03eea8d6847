// The field app's core: the service worker, the CSRF token, and the outbox of results.
//
// Every result (an action or a photo) is first stored in IndexedDB with its own idempotency
// key (crypto.randomUUID), then sent. Without a connection it stays there ("N waiting to
// send") and is sent when the connection returns (the online event, then retries with
// backoff). The server answers a key it has seen with the original result and
// duplicate: true, so a result sent twice has one effect. A 401 keeps the outbox and asks the
// technician to sign in again; after sign-in the app fetches a fresh CSRF token and sends.
(function () {
  "use strict";

  var DB_NAME = "meterops-field";
  var DB_VERSION = 1;
  var listeners = [];
  var csrfToken = null;
  var flushing = false;
  var retryTimer = null;
  var backoff = 0;
  var signInNeeded = false;

  // ---------------------------------------------------------------- IndexedDB
  var dbPromise = null;
  function db() {
    if (!dbPromise) {
      dbPromise = new Promise(function (resolve, reject) {
        var request = indexedDB.open(DB_NAME, DB_VERSION);
        request.onupgradeneeded = function () {
          var d = request.result;
          d.createObjectStore("outbox", { keyPath: "key" }).createIndex("seq", "seq");
          d.createObjectStore("sent", { keyPath: "key" });
          d.createObjectStore("meta", { keyPath: "name" });
        };
        request.onsuccess = function () { resolve(request.result); };
        request.onerror = function () { reject(request.error); };
      });
    }
    return dbPromise;
  }

  function tx(store, mode, work) {
    return db().then(function (d) {
      return new Promise(function (resolve, reject) {
        var t = d.transaction(store, mode);
        var result = work(t.objectStore(store));
        t.oncomplete = function () { resolve(result && "result" in result ? result.result : result); };
        t.onerror = function () { reject(t.error); };
        t.onabort = function () { reject(t.error); };
      });
    });
  }

  function outboxItems() {
    return tx("outbox", "readonly", function (s) { return s.index("seq").getAll(); });
  }

  function sentResult(key) {
    return tx("sent", "readonly", function (s) { return s.get(key); });
  }

  // ---------------------------------------------------------------- status line
  function emit(event, detail) {
    listeners.forEach(function (fn) {
      try { fn(event, detail); } catch (e) { /* a listener's bug must not stop sending */ }
    });
  }

  function refreshStatus() {
    return outboxItems().then(function (items) {
      var box = document.querySelector("[data-sync]");
      if (box) {
        box.hidden = items.length === 0;
        box.textContent = items.length === 1 ? "1 waiting to send" : items.length + " waiting to send";
      }
      var net = document.querySelector("[data-net]");
      if (net) {
        net.textContent = navigator.onLine ? "online" : "offline";
        net.classList.toggle("off", !navigator.onLine);
      }
      emit("status", { waiting: items });
      return items;
    });
  }

  function showRefused(message) {
    var box = document.querySelector("[data-refused]");
    if (box) {
      box.hidden = false;
      box.textContent = message;
    }
  }

  function askSignIn() {
    signInNeeded = true;
    var box = document.querySelector("[data-signin]");
    if (box) {
      box.hidden = false;
      var link = box.querySelector("[data-signin-link]");
      link.setAttribute("href", "/sign-in?next=" + encodeURIComponent(location.pathname + location.search));
    }
  }

  // ---------------------------------------------------------------- HTTP
  function token() {
    if (csrfToken) { return csrfToken; }
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  function setToken(value) {
    if (value) { csrfToken = value; }
  }

  function errorMessage(body, status) {
    if (body && body.error && body.error.message) {
      var details = body.error.details || {};
      var field = details.field || details.loc || "";
      return body.error.message + (field && body.error.message.indexOf(field) < 0 ? " (" + field + ")" : "");
    }
    if (body && body.detail) {
      return typeof body.detail === "string" ? body.detail : JSON.stringify(body.detail);
    }
    return "The server refused it (" + status + ").";
  }

  function readJson(response) {
    return response.text().then(function (text) {
      try { return text ? JSON.parse(text) : null; } catch (e) { return null; }
    });
  }

  // GET JSON; when the network fails, the service worker answers from its cache.
  function getJson(url) {
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        return readJson(response).then(function (body) {
          if (response.status === 401) { askSignIn(); }
          if (!response.ok) {
            var error = new Error(errorMessage(body, response.status));
            error.status = response.status;
            throw error;
          }
          if (body && body.csrf_token) { setToken(body.csrf_token); }
          return body;
        });
      });
  }

  // POST JSON now (no queue): ping and read, which only make sense with a connection.
  function postJson(url, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRF-Token": token() },
      body: JSON.stringify(body || {})
    }).then(function (response) {
      return readJson(response).then(function (data) {
        if (response.status === 401) { askSignIn(); }
        if (!response.ok) { throw new Error(errorMessage(data, response.status)); }
        return data;
      });
    });
  }

  function refreshToken() {
    return getJson("/api/v1/field/today").then(function (today) { return today.csrf_token; });
  }

  // ---------------------------------------------------------------- the outbox
  function uuid() {
    return crypto.randomUUID();
  }

  function enqueue(item) {
    item.key = item.key || uuid();
    item.seq = Date.now() + Math.random() / 1000;
    item.created_at = new Date().toISOString();
    return tx("outbox", "readwrite", function (s) { s.put(item); }).then(function () {
      return refreshStatus();
    }).then(function () {
      return item;
    });
  }

  // An action: {order_number, kind, payload}; photo references {photo_ref: key} become ids.
  function queueAction(orderNumber, kind, payload) {
    return enqueue({
      type: "action",
      order_number: orderNumber,
      body: { kind: kind, recorded_at: new Date().toISOString(), payload: payload }
    });
  }

  function queuePhoto(orderNumber, blob, kind) {
    return enqueue({ type: "photo", order_number: orderNumber, blob: blob, kind: kind || "after" });
  }

  function resolvePhotoRefs(value) {
    if (!value || !Array.isArray(value.photo_ids)) {
      return Promise.resolve(value);
    }
    return Promise.all(value.photo_ids.map(function (ref) {
      if (typeof ref !== "object" || !ref.photo_ref) { return ref; }
      return sentResult(ref.photo_ref).then(function (sent) { return sent ? sent.body.id : null; });
    })).then(function (ids) {
      var copy = Object.assign({}, value);
      copy.photo_ids = ids.filter(function (id) { return id !== null && id !== undefined; });
      return copy;
    });
  }

  function send(item) {
    var base = "/api/v1/field/orders/" + encodeURIComponent(item.order_number);
    if (item.type === "photo") {
      var form = new FormData();
      form.append("file", item.blob, "photo.jpg");
      form.append("idempotency_key", item.key);
      form.append("kind", item.kind);
      return fetch(base + "/photos", {
        method: "POST", credentials: "same-origin", body: form,
        headers: { Accept: "application/json", "X-CSRF-Token": token() }
      });
    }
    return resolvePhotoRefs(item.body.payload).then(function (payload) {
      var body = {
        idempotency_key: item.key, kind: item.body.kind,
        recorded_at: item.body.recorded_at, payload: payload
      };
      return fetch(base + "/actions", {
        method: "POST", credentials: "same-origin", body: JSON.stringify(body),
        headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRF-Token": token() }
      });
    });
  }

  function settle(item, status, body) {
    var record = { key: item.key, type: item.type, order_number: item.order_number,
      kind: item.type === "photo" ? item.kind : item.body.kind, status: status, body: body,
      sent_at: new Date().toISOString() };
    return db().then(function (d) {
      return new Promise(function (resolve, reject) {
        var t = d.transaction(["outbox", "sent"], "readwrite");
        t.objectStore("outbox").delete(item.key);
        t.objectStore("sent").put(record);
        t.oncomplete = function () { resolve(record); };
        t.onerror = function () { reject(t.error); };
      });
    });
  }

  function scheduleRetry() {
    if (retryTimer) { return; }
    backoff = Math.min(backoff ? backoff * 2 : 1000, 60000);
    retryTimer = setTimeout(function () { retryTimer = null; flush(); }, backoff);
  }

  // Send everything waiting, oldest first, one at a time (a photo before the exchange that
  // names it). Stops at the first network failure or 401 and keeps the rest.
  function flush() {
    // Offline: nothing to try; the online event starts the next round.
    if (flushing || signInNeeded || !navigator.onLine) { return refreshStatus(); }
    flushing = true;
    var csrfRetried = false;
    function next() {
      return outboxItems().then(function (items) {
        if (items.length === 0) { backoff = 0; return null; }
        var item = items[0];
        return send(item).then(function (response) {
          return readJson(response).then(function (body) {
            if (response.status === 401) {
              askSignIn();
              return null;
            }
            if (response.status === 403 && body && body.error && body.error.code === "permission_denied.csrf" && !csrfRetried) {
              csrfRetried = true;
              return refreshToken().then(next);
            }
            if (response.status >= 500 || response.status === 429 || response.status === 408) {
              scheduleRetry();
              return null;
            }
            return settle(item, response.status, body).then(function (record) {
              if (!response.ok) {
                record.error = errorMessage(body, response.status);
                showRefused(item.order_number + ": " + record.error);
              }
              emit(response.ok ? "sent" : "refused", record);
              return refreshStatus().then(next);
            });
          });
        }, function () {
          // No connection (or it dropped mid-way): keep the item, try again later.
          scheduleRetry();
          return null;
        });
      });
    }
    return next().then(function () {
      flushing = false;
      return refreshStatus();
    }, function (error) {
      flushing = false;
      scheduleRetry();
      return refreshStatus().then(function () { throw error; });
    });
  }

  // ---------------------------------------------------------------- wiring
  window.addEventListener("online", function () {
    backoff = 0;
    if (retryTimer) { clearTimeout(retryTimer); retryTimer = null; }
    refreshStatus();
    flush();
  });
  window.addEventListener("offline", refreshStatus);

  function registerWorker() {
    if (!("serviceWorker" in navigator)) { return Promise.resolve(null); }
    return navigator.serviceWorker.register("/field/sw.js", { scope: "/field" })
      .then(function () { return navigator.serviceWorker.ready; })
      .catch(function () { return null; });
  }

  // Ask the service worker to keep these GET URLs for offline use; resolves with its answer.
  function keepOffline(urls) {
    return registerWorker().then(function (registration) {
      if (!registration || !registration.active) { return { cached: 0, failed: urls.length }; }
      return new Promise(function (resolve) {
        var channel = new MessageChannel();
        channel.port1.onmessage = function (event) { resolve(event.data); };
        registration.active.postMessage({ type: "keep", urls: urls }, [channel.port2]);
      });
    });
  }

  function on(fn) { listeners.push(fn); }

  window.Field = {
    getJson: getJson,
    postJson: postJson,
    queueAction: queueAction,
    queuePhoto: queuePhoto,
    flush: flush,
    outboxItems: outboxItems,
    sentResult: sentResult,
    refreshStatus: refreshStatus,
    keepOffline: keepOffline,
    setToken: setToken,
    on: on,
    uuid: uuid,
    errorMessage: errorMessage
  };

  document.addEventListener("DOMContentLoaded", function () {
    registerWorker();
    refreshStatus().then(function () {
      // After a (re-)sign-in the page is fresh: get a current CSRF token, then send.
      return outboxItems();
    }).then(function (items) {
      if (items.length && navigator.onLine) {
        refreshToken().then(flush, function () { /* 401 asks to sign in; offline waits */ });
      }
    });
  });
})();

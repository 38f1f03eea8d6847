// Today's route: the stops as a list (the next one first) and on a map without tiles.
(function () {
  "use strict";
  var F = window.Field;

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text !== undefined && text !== null) { node.textContent = text; }
    return node;
  }

  function hhmm(iso) {
    if (!iso) { return ""; }
    var d = new Date(iso);
    return d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  }

  function label(code) {
    return String(code || "").replace(/_/g, " ");
  }

  // Orders with results still waiting to send, and whether one of them completes the stop.
  function pending(items) {
    var byOrder = {};
    items.forEach(function (item) {
      var entry = byOrder[item.order_number] || (byOrder[item.order_number] = { count: 0, done: false });
      entry.count += 1;
      if (item.type === "action" && (item.body.kind === "complete" || item.body.kind === "unable")) {
        entry.done = true;
      }
    });
    return byOrder;
  }

  function renderStops(section, today, waiting) {
    var list = section.querySelector("[data-stops]");
    list.textContent = "";
    var queued = pending(waiting);
    var day = section.dataset.day;
    today.stops.forEach(function (stop) {
      var q = queued[stop.order_number];
      var item = el("li", "stop" + (stop.next ? " next" : "") + (stop.done || (q && q.done) ? " done" : ""));
      var link = el("a", "stop-link");
      link.href = "/field/stops/" + encodeURIComponent(stop.order_number) + (day ? "?day=" + day : "");
      var top = el("span", "stop-top");
      top.appendChild(el("span", "seq", String(stop.sequence)));
      top.appendChild(el("strong", null, stop.order_number));
      if (stop.next) { top.appendChild(el("span", "tag next", "Next")); }
      top.appendChild(el("span", "tag", label(stop.status)));
      if (q) { top.appendChild(el("span", "tag waiting", q.done ? "done · waiting to send" : q.count + " waiting to send")); }
      link.appendChild(top);
      link.appendChild(el("span", "stop-type", label(stop.order_type) + (stop.priority ? " · P" + stop.priority : "")));
      link.appendChild(el("span", "stop-address", stop.address || ""));
      var when = [];
      if (stop.eta) { when.push("ETA " + hhmm(stop.eta)); }
      if (stop.window_start && stop.window_end) { when.push("window " + hhmm(stop.window_start) + "–" + hhmm(stop.window_end)); }
      if (stop.meter_serial) { when.push("meter " + stop.meter_serial); }
      link.appendChild(el("span", "stop-when muted", when.join(" · ")));
      item.appendChild(link);
      list.appendChild(item);
    });
    if (!today.stops.length) {
      list.appendChild(el("li", "muted", "No stops on your route for this day."));
    }
  }

  function renderMap(container, today) {
    if (typeof window.L === "undefined" || container.dataset.drawn === "on") { return; }
    var points = today.stops.filter(function (s) {
      return typeof s.latitude === "number" && typeof s.longitude === "number";
    });
    if (!points.length) { container.textContent = "No locations to draw."; return; }
    container.dataset.drawn = "on";
    var L = window.L;
    // No tiles: a plain background, the route as a line and the stops as numbered dots.
    var map = L.map(container, { attributionControl: false, zoomControl: true });
    var line = points.map(function (s) { return [s.latitude, s.longitude]; });
    L.polyline(line, { color: "#0b3d2e", weight: 4, opacity: 0.7 }).addTo(map);
    points.forEach(function (s) {
      var marker = L.circleMarker([s.latitude, s.longitude], {
        radius: s.next ? 12 : 9, color: "#fff", weight: 2, fillOpacity: 1,
        fillColor: s.done ? "#8a959f" : (s.next ? "#d9480f" : "#0b3d2e")
      }).addTo(map);
      marker.bindTooltip(s.sequence + ". " + s.order_number, { permanent: true, direction: "right" });
      marker.on("click", function () { location.href = "/field/stops/" + encodeURIComponent(s.order_number); });
    });
    map.fitBounds(L.latLngBounds(line), { padding: [24, 24], maxZoom: 16 });
  }

  function keepForOffline(section, today, url) {
    var urls = ["/field" + (section.dataset.day ? "?day=" + section.dataset.day : ""), url];
    today.stops.forEach(function (s) {
      var n = encodeURIComponent(s.order_number);
      urls.push("/field/stops/" + n);
      if (section.dataset.day) { urls.push("/field/stops/" + n + "?day=" + section.dataset.day); }
      urls.push("/api/v1/field/orders/" + n);
      urls.push("/api/v1/field/orders/" + n + "/verification");
    });
    return F.keepOffline(urls).then(function (answer) {
      var ready = section.querySelector("[data-offline-ready]");
      if (answer && answer.cached > 0) {
        ready.hidden = false;
        ready.textContent = "Saved for offline use";
      }
    });
  }

  function load(section) {
    var day = section.dataset.day;
    var url = "/api/v1/field/today" + (day ? "?day=" + encodeURIComponent(day) : "");
    var loading = section.querySelector("[data-loading]");
    return F.getJson(url).then(function (today) {
      loading.hidden = true;
      section.querySelector("[data-heading]").textContent = "Route of " + today.day;
      section.querySelector("[data-who]").textContent =
        today.technician.name + " · " + today.technician.employee_number + " · " + today.stops.length + " stops";
      return F.outboxItems().then(function (waiting) {
        renderStops(section, today, waiting);
        renderMap(section.querySelector("[data-map]"), today);
        F.on(function (event, detail) {
          if (event === "status") { renderStops(section, today, detail.waiting); }
          if (event === "sent" && navigator.onLine) {
            // A result went out: the route's statuses and next stop may have changed.
            F.getJson(url).then(function (fresh) {
              today = fresh;
              return F.outboxItems();
            }).then(function (waiting) { renderStops(section, today, waiting); }, function () {});
          }
        });
        if (navigator.onLine) { keepForOffline(section, today, url); }
      });
    }, function (error) {
      loading.textContent = error.status === 401 ? "Please sign in again." : error.message;
      loading.classList.add("error");
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var section = document.querySelector("[data-today]");
    if (section) { load(section); }
  });
})();

// The meter page's neighbours map: the meters on this meter's parent, collector and
// transformer at their premises, green when reading, red when silent, the meter itself
// outlined; on a blank background (no internet tiles). Data from the page's GeoJSON route.
(function () {
  "use strict";
  var COLOURS = { reading: "#2e8b57", silent: "#c0392b", self: "#2f6fb0" };

  function label(p) {
    var text = p.serial_number + (p.self ? " (this meter)" : "") + ": " +
      (p.reading ? "reading" : "silent");
    if (p.relations && p.relations.length) { text += "; shares " + p.relations.join(", "); }
    if (p.parent_node) { text += "; parent " + p.parent_node; }
    if (p.collector_code) { text += ", collector " + p.collector_code; }
    if (p.transformer_code) { text += ", transformer " + p.transformer_code; }
    if (p.cause) { text += "; open exception: " + p.cause; }
    return text;
  }

  function start(container) {
    if (typeof window.L === "undefined" || container.dataset.leaflet === "on") {
      return;
    }
    var L = window.L;
    container.dataset.leaflet = "on";
    var map = L.map(container, { attributionControl: false }).setView([20, 0], 2);
    var layer = L.layerGroup().addTo(map);
    var status = document.getElementById("neighbour-map-status");
    var summary = document.getElementById("neighbour-map-summary");

    fetch(container.dataset.geojson, { credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.json();
      })
      .then(function (collection) {
        var bounds = [];
        var self = null;
        collection.features.forEach(function (feature) {
          var p = feature.properties;
          var latlng = [feature.geometry.coordinates[1], feature.geometry.coordinates[0]];
          bounds.push(latlng);
          var marker = L.circleMarker(latlng, {
            radius: p.self ? 10 : 7, color: p.self ? "#111" : "#fff", weight: p.self ? 3 : 1.5,
            fillColor: p.reading ? COLOURS.reading : COLOURS.silent, fillOpacity: 0.85
          }).bindTooltip(label(p));
          if (p.self) { self = marker; } else { marker.addTo(layer); }
        });
        if (self) { self.addTo(layer); }
        container.dataset.meters = String(collection.features.length);
        if (summary) {
          summary.textContent = "";
          collection.summary.forEach(function (line) {
            var item = document.createElement("li");
            item.textContent = line + ".";
            summary.appendChild(item);
          });
        }
        if (status) {
          var n = collection.features.length - 1;
          status.textContent = (n < 1 ? "No neighbour" : n + " neighbour" + (n === 1 ? "" : "s")) +
            " on the map" + (collection.truncated ? " (" + collection.truncated + " more not drawn)" : "") + ".";
        }
        if (bounds.length) {
          map.fitBounds(bounds, { padding: [30, 30], maxZoom: 17 });
        }
      })
      .catch(function (error) {
        if (status) { status.textContent = "The neighbours map could not be loaded: " + error.message; }
      });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var container = document.querySelector("[data-neighbour-map]");
    if (container) { start(container); }
  });
})();

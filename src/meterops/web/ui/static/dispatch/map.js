// The dispatcher's route map. The server draws routes and stops as SVG on a plain
// background (works offline, no script needed). When Leaflet is vendored (window.L), the
// SVG is replaced by a Leaflet map of the same GeoJSON, with tiles only when the utility
// configured a tile URL (METEROPS_MAP_TILE_URL); without one the background stays blank.
(function () {
  "use strict";
  var COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2"];

  function colourOf(technicians, id) {
    if (!(id in technicians)) {
      technicians[id] = Object.keys(technicians).length % COLOURS.length;
    }
    return COLOURS[technicians[id]];
  }

  function draw(container) {
    if (typeof window.L === "undefined" || container.dataset.leaflet === "on") {
      return;
    }
    var L = window.L;
    fetch(container.dataset.geojson, { credentials: "same-origin" })
      .then(function (response) { return response.json(); })
      .then(function (collection) {
        container.dataset.leaflet = "on";
        container.textContent = "";
        var map = L.map(container, { attributionControl: true });
        if (container.dataset.tileUrl) {
          L.tileLayer(container.dataset.tileUrl, { maxZoom: 19 }).addTo(map);
        }
        var technicians = {};
        var layer = L.geoJSON(collection, {
          style: function (feature) {
            return { color: colourOf(technicians, feature.properties.technician_id), weight: 3 };
          },
          pointToLayer: function (feature, latlng) {
            var p = feature.properties;
            if (p.kind === "left_out") {
              return L.circleMarker(latlng, { radius: 6, color: "#b3261e", fillColor: "#fff", fillOpacity: 1 });
            }
            return L.circleMarker(latlng, {
              radius: 7, color: "#fff", weight: 1.5, fillOpacity: 1,
              fillColor: colourOf(technicians, p.technician_id)
            });
          },
          onEachFeature: function (feature, marker) {
            var p = feature.properties;
            var orders = (p.orders || []).join(", ");
            var text = p.kind === "stop" ? p.technician_id + " #" + p.sequence + ": " + orders
              : p.kind === "left_out" ? "left out: " + orders + (p.detail ? " (" + p.detail + ")" : "")
              : p.technician_id;
            marker.bindTooltip(text);
          }
        }).addTo(map);
        var bounds = layer.getBounds();
        if (bounds.isValid()) {
          map.fitBounds(bounds, { padding: [20, 20] });
        }
      })
      .catch(function () { /* keep the server-drawn SVG */ });
  }

  function init() {
    // Found by attribute, not id: htmx settles elements by id and would copy the old map's
    // inline styles onto the new one (refused by the Content-Security-Policy).
    var container = document.querySelector("[data-route-map]");
    if (container) {
      draw(container);
    }
  }

  document.addEventListener("DOMContentLoaded", init);
  document.addEventListener("htmx:afterSettle", init);
})();

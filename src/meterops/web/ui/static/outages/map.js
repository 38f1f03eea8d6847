// The live outage map: open incidents as circles sized by the meters (customers) affected,
// on a blank background (no internet tiles). Fetches the page's GeoJSON and again every
// data-refresh-s seconds; the markers are replaced, the view kept once fitted.
(function () {
  "use strict";
  var COLOURS = { meter: "#ff7f0e", transformer: "#d62728", feeder: "#7b1fa2" };

  function label(p) {
    return "#" + p.id + " " + p.level + " " + p.device_code + ": " + p.affected_meters +
      " meter" + (p.affected_meters === 1 ? "" : "s") + " affected, " + p.last_gasps + " last gasps";
  }

  function start(container) {
    if (typeof window.L === "undefined" || container.dataset.leaflet === "on") {
      return;
    }
    var L = window.L;
    container.dataset.leaflet = "on";
    var map = L.map(container, { attributionControl: false }).setView([20, 0], 2);
    var layer = L.layerGroup().addTo(map);
    var status = document.getElementById("outage-map-status");
    var fitted = false;

    function refresh() {
      fetch(container.dataset.geojson, { credentials: "same-origin" })
        .then(function (response) {
          if (!response.ok) { throw new Error("HTTP " + response.status); }
          return response.json();
        })
        .then(function (collection) {
          layer.clearLayers();
          var bounds = [];
          collection.features.forEach(function (feature) {
            var p = feature.properties;
            var latlng = [feature.geometry.coordinates[1], feature.geometry.coordinates[0]];
            bounds.push(latlng);
            L.circleMarker(latlng, {
              radius: 6 + 3 * Math.sqrt(p.affected_meters), color: "#fff", weight: 1.5,
              fillColor: COLOURS[p.level] || "#d62728", fillOpacity: 0.85
            }).bindTooltip(label(p)).addTo(layer);
          });
          container.dataset.incidents = String(collection.features.length);
          if (status) {
            var n = collection.features.length;
            status.textContent = n + " open incident" + (n === 1 ? "" : "s") + " on the map" +
              (collection.unplaced ? " (" + collection.unplaced + " without a position)" : "") +
              ", as of " + new Date().toLocaleTimeString() + ".";
          }
          if (!fitted && bounds.length) {
            map.fitBounds(bounds, { padding: [30, 30], maxZoom: 15 });
            fitted = true;
          }
        })
        .catch(function (error) {
          if (status) { status.textContent = "The map could not be refreshed: " + error.message; }
        });
    }

    refresh();
    var seconds = parseInt(container.dataset.refreshS, 10) || 30;
    window.setInterval(refresh, seconds * 1000);
  }

  document.addEventListener("DOMContentLoaded", function () {
    var container = document.querySelector("[data-outage-map]");
    if (container) { start(container); }
  });
})();

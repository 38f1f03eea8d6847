// Scanning serials with the camera where the browser has BarcodeDetector; typing otherwise.
(function () {
  "use strict";
  var FORMATS = ["code_128", "code_39", "qr_code", "data_matrix", "ean_13", "itf"];

  function supported() {
    return "BarcodeDetector" in window && navigator.mediaDevices && navigator.mediaDevices.getUserMedia;
  }

  function attach(root) {
    if (!supported()) { return; }  // the Scan buttons stay hidden: the inputs take typing
    var dialog = root.querySelector("[data-scanner]");
    var video = root.querySelector("[data-video]");
    var stream = null, timer = null, target = null, detector = null;

    function stop() {
      if (timer) { clearTimeout(timer); timer = null; }
      if (stream) { stream.getTracks().forEach(function (t) { t.stop(); }); stream = null; }
      if (dialog.open) { dialog.close(); }
    }

    function tick() {
      detector.detect(video).then(function (codes) {
        if (codes.length) {
          target.value = String(codes[0].rawValue || "").trim().toUpperCase();
          target.dispatchEvent(new Event("input", { bubbles: true }));
          stop();
          target.focus();
        } else {
          timer = setTimeout(tick, 250);
        }
      }, function () { timer = setTimeout(tick, 500); });
    }

    root.querySelectorAll("[data-scan]").forEach(function (button) {
      button.hidden = false;
      button.addEventListener("click", function () {
        target = root.querySelector('[name="' + button.dataset.scan + '"]');
        window.BarcodeDetector.getSupportedFormats().then(function (formats) {
          detector = new window.BarcodeDetector({
            formats: FORMATS.filter(function (f) { return formats.indexOf(f) >= 0; })
          });
          return navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } });
        }).then(function (media) {
          stream = media;
          video.srcObject = media;
          dialog.showModal();
          return video.play();
        }).then(tick, function () {
          stop();
          target.focus();  // no camera or no permission: type it
        });
      });
    });
    root.querySelector("[data-scan-cancel]").addEventListener("click", function () {
      stop();
      if (target) { target.focus(); }
    });
  }

  window.FieldScan = { attach: attach };
})();

// A stop: confirm, verdict and evidence, ping/read, safety, exchange, verification, completion.
// Results go through the outbox (app.js): sent at once with a connection, kept and sent
// later without one. The page shows what is recorded, queued or refused.
(function () {
  "use strict";
  var F = window.Field;
  var EXCHANGE_TYPES = ["exchange", "install"];
  var VERIFY_FINAL = ["verified", "failed", "timed_out", "not_needed"];
  var COMMAND_SETTLED = ["confirmed", "failed", "expired", "cancelled"];

  var root, orderNumber, order = null, photos = [], verifyTimer = null, verification = null;
  var done = {};

  function $(selector, scope) { return (scope || root).querySelector(selector); }
  function $$(selector, scope) { return Array.prototype.slice.call((scope || root).querySelectorAll(selector)); }
  function label(code) { return String(code || "").replace(/_/g, " "); }
  function setField(name, text) {
    $$('[data-field="' + name + '"]').forEach(function (node) { node.textContent = text === null || text === undefined ? "" : text; });
  }
  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text !== undefined && text !== null) { node.textContent = text; }
    return node;
  }
  function hhmm(iso) {
    return iso ? new Date(iso).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }) : "";
  }
  function number(value) {
    var text = String(value || "").trim().replace(",", ".");
    if (!/^\d+(\.\d+)?$/.test(text)) { return null; }
    return Number(text);
  }

  // ------------------------------------------------------------ sending through the outbox
  // Resolves {record} when sent (or refused) now, or {queued: true} when kept for later.
  function submit(kind, payload, photoItems) {
    var chain = Promise.resolve([]);
    (photoItems || []).forEach(function (photo) {
      chain = chain.then(function (refs) {
        // A photo already kept (an earlier, refused try of the form) is not sent twice.
        if (photo.ref) { refs.push({ photo_ref: photo.ref }); return refs; }
        return F.queuePhoto(orderNumber, photo.blob, photo.kind).then(function (item) {
          photo.ref = item.key;
          refs.push({ photo_ref: item.key });
          return refs;
        });
      });
    });
    return chain.then(function (refs) {
      if (refs.length) { payload.photo_ids = refs; }
      return F.queueAction(orderNumber, kind, payload);
    }).then(function (item) {
      if (!navigator.onLine) { return { queued: true, item: item }; }
      return F.flush().then(function () { return F.sentResult(item.key); }).then(function (record) {
        return record ? { record: record, item: item } : { queued: true, item: item };
      });
    });
  }

  function showStatus(outcome) {
    var body = outcome && outcome.record && outcome.record.body;
    if (body && body.order && body.order.status) { setField("status", label(body.order.status)); }
  }

  // One tap, one result: the form's button stays off until the answer (or the queue) has it.
  function busy(form, on) {
    var button = $('button[type="submit"]', form);
    if (button) { button.disabled = on; }
  }

  function showOutcome(form, kind, outcome, doneText) {
    busy(form, false);
    showStatus(outcome);
    var error = $("[data-error]", form);
    var note = $('[data-done="' + kind + '"]');
    error.textContent = "";
    if (outcome.queued) {
      note.hidden = false;
      note.textContent = "Saved on the phone: will be sent when the connection returns.";
      return true;
    }
    var record = outcome.record;
    if (record.status >= 400) {
      error.textContent = record.error || F.errorMessage(record.body, record.status);
      return false;
    }
    note.hidden = false;
    note.textContent = doneText + (record.body && record.body.duplicate ? " (already recorded)" : "");
    return true;
  }

  // ------------------------------------------------------------ rendering the order
  function render() {
    setField("status", label(order.status));
    setField("order_type", label(order.order_type) + (order.priority ? " · priority " + order.priority : ""));
    setField("address", order.address || "");
    var when = [];
    if (order.eta) { when.push("ETA " + hhmm(order.eta)); }
    if (order.window_start && order.window_end) { when.push("window " + hhmm(order.window_start) + "–" + hhmm(order.window_end)); }
    setField("window", when.join(" · "));
    var customer = order.customer || {};
    setField("account", customer.account || "–");
    setField("customer", customer.name || "–");
    setField("phone", customer.phone || "–");
    setField("meter_serial", order.meter_serial || "–");
    setField("meter_form", order.meter_form ? "form " + order.meter_form : "");
    if (order.verdict) {
      setField("verdict", label(order.verdict.code) + ": " + (order.verdict.summary || ""));
    }
    var evidence = $('[data-field="evidence"]');
    evidence.textContent = "";
    (order.evidence || []).forEach(function (item) {
      var text = typeof item === "string" ? item
        : item.kind === "summary" ? String(item.value)
        : (item.label || label(item.name || item.kind || "")) + (item.value !== undefined ? ": " + item.value : "") +
          (item.unit ? " " + item.unit : "");
      evidence.appendChild(el("li", null, text));
    });
    if (order.last_ping) {
      setField("last_ping", "Last ping: " + label(order.last_ping.state) + (order.last_ping.at ? " at " + hhmm(order.last_ping.at) : ""));
    }
    renderChecklist();
    renderCauses();
    renderPhotos();
    var exchange = $('[data-form="exchange"]');
    var isExchange = EXCHANGE_TYPES.indexOf(order.order_type) >= 0;
    exchange.hidden = !isExchange;
    $("[data-open-exchange]").hidden = isExchange;
    if (order.expected_serial) { $('[name="old_serial"]', exchange).placeholder = "expected " + order.expected_serial; }
    (order.actions || []).forEach(function (action) { markDone(action.kind, action); });
    if (order.verification && order.verification.state !== "not_needed") {
      showVerification(order.verification);
    }
  }

  function renderChecklist() {
    var box = $("[data-checklist]");
    box.textContent = "";
    (order.checklist || []).forEach(function (item) {
      var row = el("fieldset", "check");
      row.appendChild(el("legend", null, item.label));
      if (item.kind === "volts") {
        var input = el("input");
        input.name = "item:" + item.code;
        input.inputMode = "decimal";
        input.setAttribute("aria-label", item.label + " (volts)");
        if (item.nominal_v) { input.dataset.nominal = String(item.nominal_v); }
        var unit = el("label", "volts");
        unit.appendChild(input);
        unit.appendChild(el("span", null, " V"));
        row.appendChild(unit);
        if (item.low_v && item.high_v) {
          row.appendChild(el("p", "hint muted", "Nominal " + item.nominal_v + " V; within limits " +
            Math.round(item.low_v) + "–" + Math.round(item.high_v) + " V"));
        }
      } else {
        ["pass", "fail"].forEach(function (value) {
          var choice = el("label", "choice " + value);
          var radio = el("input");
          radio.type = "radio";
          radio.name = "item:" + item.code;
          radio.value = value;
          choice.appendChild(radio);
          choice.appendChild(el("span", null, value === "pass" ? "Pass" : "Fail"));
          row.appendChild(choice);
        });
      }
      box.appendChild(row);
    });
  }

  function renderCauses() {
    $$("[data-causes]").forEach(function (select) {
      select.textContent = "";
      var blank = el("option", null, "Choose…");
      blank.value = "";
      select.appendChild(blank);
      (order.found_cause_codes || []).forEach(function (cause) {
        var option = el("option", null, cause.label);
        option.value = cause.code;
        select.appendChild(option);
      });
    });
  }

  function markDone(kind, detail) {
    done[kind] = true;
    var note = $('[data-done="' + kind + '"]');
    if (note && note.hidden) {
      note.hidden = false;
      note.textContent = "Recorded";
    }
    if (kind === "arrive") { $('[data-action="arrive"]').hidden = true; $('[data-done="arrive"]').hidden = false; }
    if (kind === "exchange") { $('[data-form="exchange"]').hidden = false; $("[data-open-exchange]").hidden = true; }
    if (kind === "safety" && detail && detail.payload && detail.payload.stopped) { stopped(detail.payload); }
  }

  function followUpOf(body) {
    var text = JSON.stringify(body || {});
    var numbers = (text.match(/WO-\d+/g) || []).filter(function (n) { return n !== orderNumber; });
    return numbers.length ? numbers[0] : null;
  }

  function stopped(body) {
    var followUp = followUpOf(body);
    $('[data-section="stopped"]').hidden = false;
    setField("followup", followUp
      ? "The job is on hold. Follow-up order " + followUp + " was created for the repair."
      : "The job is on hold. A follow-up order will be created when the result is sent.");
    $('[data-form="exchange"]').hidden = true;
    $("[data-open-exchange]").hidden = true;
    $('[data-form="complete"]').hidden = true;
    $('[data-form="unable"]').hidden = true;
  }

  // ------------------------------------------------------------ verification
  function showVerification(state) {
    verification = state;
    var section = $('[data-section="verification"]');
    section.hidden = false;
    var box = $('[data-field="verification"]');
    box.className = "verification " + (state.state || "");
    var text = {
      pending: "Waiting for the new meter to register on the head-end and answer its first read…",
      verified: "Verified: the new meter registered" + (state.registered_at ? " at " + hhmm(state.registered_at) : "") +
        (state.first_read && state.first_read.register_kwh !== undefined ? ", first read " + state.first_read.register_kwh + " kWh" : "") + ".",
      failed: "Verification failed" + (state.reason ? ": " + label(state.reason) : "") + ".",
      timed_out: "No answer from the head-end in time" + (state.reason ? ": " + label(state.reason) : "") + ".",
      not_needed: "No verification needed for this stop."
    }[state.state] || label(state.state);
    box.textContent = text;
    var unverified = state.state === "pending" || state.state === "failed" || state.state === "timed_out";
    $("[data-unverified]").hidden = !unverified;
  }

  function followVerification() {
    if (verifyTimer) { clearTimeout(verifyTimer); verifyTimer = null; }
    if (!navigator.onLine) { return; }
    F.getJson("/api/v1/field/orders/" + encodeURIComponent(orderNumber) + "/verification").then(function (state) {
      showVerification(state);
      if (VERIFY_FINAL.indexOf(state.state) < 0) {
        verifyTimer = setTimeout(followVerification, 2000);
      }
    }, function () {
      verifyTimer = setTimeout(followVerification, 5000);
    });
  }

  // ------------------------------------------------------------ ping / read
  function runCommand(which, button) {
    var out = $("[data-command-result]");
    if (!navigator.onLine) { out.textContent = "Needs a connection to the head-end."; return; }
    button.disabled = true;
    out.textContent = (which === "ping" ? "Pinging" : "Reading") + " the meter…";
    var base = "/api/v1/field/orders/" + encodeURIComponent(orderNumber);
    var polls = 0;
    function show(answer) {
      var result = answer.result || {};
      var parts = [which === "ping" ? "Ping" : "Read", label(answer.state)];
      if (result.register_kwh !== undefined) { parts.push(result.register_kwh + " kWh"); }
      if (result.rssi_dbm !== undefined) { parts.push("RSSI " + result.rssi_dbm + " dBm"); }
      if (answer.failure_reason) { parts.push(label(answer.failure_reason)); }
      out.textContent = parts.join(" · ");
      if (COMMAND_SETTLED.indexOf(answer.state) < 0 && polls < 60) {
        polls += 1;
        setTimeout(function () {
          F.getJson(base + "/commands/" + encodeURIComponent(answer.request_id)).then(show, fail);
        }, 1000);
      } else {
        button.disabled = false;
      }
    }
    function fail(error) { out.textContent = error.message; button.disabled = false; }
    F.postJson(base + "/" + which, {}).then(show, fail);
  }

  // ------------------------------------------------------------ forms
  function onSafety(event) {
    event.preventDefault();
    var form = event.currentTarget;
    var items = {}, missing = [], failed = false;
    (order.checklist || []).forEach(function (item) {
      if (item.kind === "volts") {
        var value = number($('[name="item:' + item.code + '"]', form).value);
        if (value === null) { missing.push(item.label); } else { items[item.code] = value; }
      } else {
        var checked = $('[name="item:' + item.code + '"]:checked', form);
        if (!checked) { missing.push(item.label); } else {
          items[item.code] = checked.value;
          if (checked.value === "fail") { failed = true; }
        }
      }
    });
    if (missing.length) {
      $("[data-error]", form).textContent = "Answer every item: " + missing.join(", ") + ".";
      return;
    }
    var payload = { items: items, notes: form.elements.notes.value.trim() };
    busy(form, true);
    submit("safety", payload).then(function (outcome) {
      if (!showOutcome(form, "safety", outcome, failed ? "Safety check recorded: job stopped" : "Safety check passed")) { return; }
      done.safety = true;
      if (failed) { stopped(outcome.record ? outcome.record.body : null); }
    });
  }

  function onExchange(event) {
    event.preventDefault();
    var form = event.currentTarget;
    var error = $("[data-error]", form);
    var oldSerial = form.elements.old_serial.value.trim().toUpperCase();
    var newSerial = form.elements.new_serial.value.trim().toUpperCase();
    var finalRead = number(form.elements.old_final_read_kwh.value);
    var initialRead = number(form.elements.new_initial_read_kwh.value);
    var problems = [];
    if (!oldSerial) { problems.push("old meter serial"); }
    if (finalRead === null) { problems.push("old meter final read (kWh)"); }
    if (!newSerial) { problems.push("new meter serial"); }
    if (initialRead === null) { problems.push("new meter initial read (kWh)"); }
    if (!form.elements.found_cause_code.value) { problems.push("found cause"); }
    if (problems.length) { error.textContent = "Required: " + problems.join(", ") + "."; return; }
    var payload = {
      old_serial: oldSerial, old_final_read_kwh: finalRead,
      new_serial: newSerial, new_initial_read_kwh: initialRead,
      found_cause_code: form.elements.found_cause_code.value,
      notes: form.elements.notes.value.trim()
    };
    var button = $('button[type="submit"]', form);
    button.disabled = true;
    submit("exchange", payload, photos).then(function (outcome) {
      button.disabled = false;
      if (!showOutcome(form, "exchange", outcome, "Exchange recorded")) { return; }
      done.exchange = true;
      photos = [];
      $("[data-photos]").textContent = "";
      $('[name="photos"]').value = "";
      var complete = $('[data-form="complete"]');
      complete.elements.found_cause_code.value = payload.found_cause_code;
      if (outcome.queued) {
        showVerification({ state: "pending" });
        setField("verification", "Verification starts when the exchange is sent.");
      } else {
        followVerification();
      }
    });
  }

  function onComplete(event) {
    event.preventDefault();
    var form = event.currentTarget;
    var error = $("[data-error]", form);
    var cause = form.elements.found_cause_code.value;
    if (!cause) { error.textContent = "Required: found cause."; return; }
    var payload = { found_cause_code: cause, notes: form.elements.notes.value.trim() };
    var unverifiedBox = $("[data-unverified]");
    if (!unverifiedBox.hidden && form.elements.mark_unverified.checked) {
      var reason = form.elements.unverified_reason.value.trim();
      if (!reason) { error.textContent = "Give the reason it is not verified."; return; }
      payload.unverified_reason = reason;
    } else if (!unverifiedBox.hidden && verification && verification.state === "pending" && navigator.onLine) {
      error.textContent = "Still waiting for the head-end: wait, or mark unverified with a reason.";
      return;
    }
    busy(form, true);
    submit("complete", payload).then(function (outcome) {
      if (!showOutcome(form, "complete", outcome, "Stop completed")) {
        unverifiedBox.hidden = false;
        return;
      }
      done.complete = true;
      var status = outcome.record && outcome.record.body && outcome.record.body.order && outcome.record.body.order.status;
      if (status) { setField("status", label(status)); }
    });
  }

  function onUnable(event) {
    event.preventDefault();
    var form = event.currentTarget;
    var reason = form.elements.reason.value.trim();
    if (reason.length < 3) { $("[data-error]", form).textContent = "Required: the reason (a few words)."; return; }
    var payload = { reason: reason };
    if (form.elements.found_cause_code.value) { payload.found_cause_code = form.elements.found_cause_code.value; }
    busy(form, true);
    submit("unable", payload).then(function (outcome) {
      if (showOutcome(form, "unable", outcome, "Recorded: unable to complete")) { done.unable = true; }
    });
  }

  function renderPhotos() {
    var list = $('[data-field="photos"]');
    list.textContent = "";
    (order.photos || []).forEach(function (photo) {
      var item = el("li");
      var img = el("img");
      img.alt = label(photo.kind) + " photo";
      img.loading = "lazy";
      img.src = photo.url;
      item.appendChild(img);
      list.appendChild(item);
    });
    $('[data-section="photos"]').hidden = !(order.photos || []).length;
  }

  function onArrive(event) {
    var button = event.currentTarget;
    button.disabled = true;
    submit("arrive", { meter_serial: order.meter_serial, confirmed: true }).then(function (outcome) {
      button.disabled = false;
      var note = $('[data-done="arrive"]');
      note.hidden = false;
      if (outcome.queued) {
        note.textContent = "Arrival saved on the phone: will be sent when the connection returns.";
        button.hidden = true;
      } else if (outcome.record.status >= 400) {
        note.textContent = outcome.record.error || "Refused.";
      } else {
        showStatus(outcome);
        note.textContent = "Arrival recorded";
        button.hidden = true;
      }
    });
  }

  // Phone photos are large: scale to at most 2048 px and re-encode as JPEG before keeping.
  function shrink(file) {
    if (typeof createImageBitmap !== "function") { return Promise.resolve(file); }
    return createImageBitmap(file).then(function (bitmap) {
      var scale = Math.min(1, 2048 / Math.max(bitmap.width, bitmap.height));
      if (scale === 1 && file.type === "image/jpeg") { return file; }
      var canvas = document.createElement("canvas");
      canvas.width = Math.round(bitmap.width * scale);
      canvas.height = Math.round(bitmap.height * scale);
      canvas.getContext("2d").drawImage(bitmap, 0, 0, canvas.width, canvas.height);
      return new Promise(function (resolve) {
        canvas.toBlob(function (blob) { resolve(blob || file); }, "image/jpeg", 0.85);
      });
    }).catch(function () { return file; });
  }

  function onPhotos(event) {
    var list = $("[data-photos]");
    var kind = $('[name="photo_kind"]').value;
    Array.prototype.forEach.call(event.currentTarget.files, function (file) {
      shrink(file).then(function (blob) {
        photos.push({ blob: blob, kind: kind });
        var item = el("li");
        var img = el("img");
        img.alt = "Photo " + photos.length;
        img.src = URL.createObjectURL(blob);
        item.appendChild(img);
        list.appendChild(item);
      });
    });
  }

  function onSerialInput() {
    var form = $('[data-form="exchange"]');
    var hint = $('[data-hint="old_serial"]');
    var typed = form.elements.old_serial.value.trim().toUpperCase();
    var expected = String(order && (order.expected_serial || order.meter_serial) || "").toUpperCase();
    if (!typed || !expected) { hint.textContent = ""; return; }
    hint.textContent = typed === expected ? "Matches the order's meter." : "Not the order's meter (" + expected + ").";
    hint.className = "hint " + (typed === expected ? "ok" : "warn");
  }

  // ------------------------------------------------------------ start
  function localProgress() {
    // What this phone recorded for the order: queued and sent results.
    return F.outboxItems().then(function (items) {
      items.filter(function (i) { return i.order_number === orderNumber && i.type === "action"; })
        .forEach(function (i) {
          var kind = i.body.kind;
          var note = $('[data-done="' + kind + '"]');
          if (note) { note.hidden = false; note.textContent = "Saved on the phone: will be sent when the connection returns."; }
          if (kind === "arrive") { $('[data-action="arrive"]').hidden = true; }
          if (kind === "safety" && Object.keys(i.body.payload.items).some(function (k) { return i.body.payload.items[k] === "fail"; })) {
            stopped(null);
          }
        });
    });
  }

  function start() {
    root = document.querySelector("[data-stop]");
    if (!root) { return; }
    orderNumber = root.dataset.stop;
    $('[data-action="arrive"]').addEventListener("click", onArrive);
    $$("[data-command]").forEach(function (button) {
      button.addEventListener("click", function () { runCommand(button.dataset.command, button); });
    });
    $('[data-form="safety"]').addEventListener("submit", onSafety);
    $('[data-form="exchange"]').addEventListener("submit", onExchange);
    $('[data-form="complete"]').addEventListener("submit", onComplete);
    $('[data-form="unable"]').addEventListener("submit", onUnable);
    $('[name="photos"]').addEventListener("change", onPhotos);
    $('[name="old_serial"]').addEventListener("input", onSerialInput);
    $("[data-open-exchange]").addEventListener("click", function (event) {
      event.currentTarget.hidden = true;
      $('[data-form="exchange"]').hidden = false;
    });
    if (window.FieldScan) { window.FieldScan.attach(root); }
    F.on(function (event, record) {
      if ((event !== "sent" && event !== "refused") || record.order_number !== orderNumber) { return; }
      // A result kept on the phone went out: say so where it was saved.
      var note = $('[data-done="' + record.kind + '"]');
      if (note && event === "sent") {
        note.hidden = false;
        note.textContent = "Sent" + (record.body && record.body.duplicate ? " (already recorded)" : "") + ".";
        if (record.kind === "arrive") { note.textContent = "Arrival recorded"; }
      }
      if (event === "refused") {
        var form = $('[data-form="' + record.kind + '"]');
        var error = form ? $("[data-error]", form) : null;
        if (error) { error.textContent = record.error; }
      }
      if (record.body && record.body.order && record.body.order.status) {
        setField("status", label(record.body.order.status));
      }
      if (event === "sent" && record.kind === "exchange") { followVerification(); }
    });
    F.getJson("/api/v1/field/orders/" + encodeURIComponent(orderNumber)).then(function (data) {
      order = data;
      $("[data-loading]").hidden = true;
      render();
      return localProgress();
    }).then(function () {
      if (order.verification && VERIFY_FINAL.indexOf(order.verification.state) < 0) { followVerification(); }
    }, function (error) {
      var loading = $("[data-loading]");
      loading.textContent = error.status === 401 ? "Please sign in again." : error.message;
      loading.classList.add("error");
    });
  }

  document.addEventListener("DOMContentLoaded", start);
})();

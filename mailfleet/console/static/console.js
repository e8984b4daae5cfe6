// Mailfleet console: copy buttons, and a batch's progress updated without reloading the page.
// Pages work without it; it only adds to them. No framework, no build step.
"use strict";

function copyButtons() {
  document.querySelectorAll("button.copy[data-copy]").forEach(function (button) {
    button.addEventListener("click", function () {
      var done = function () { button.textContent = "Copied"; };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(button.dataset.copy).then(done);
      } else {
        // Plain http on a LAN has no clipboard API: select the text for Ctrl+C instead.
        var range = document.createRange();
        range.selectNodeContents(button.previousElementSibling);
        var selection = window.getSelection();
        selection.removeAllRanges();
        selection.addRange(range);
        button.textContent = "Selected";
      }
    });
  });
}

// Every few seconds while the batch has domains waiting (QUEUED or PENDING_NS).
var POLL_MS = 2000;

function showProgress(progress) {
  document.getElementById("batch-status").textContent = progress.status;
  Object.keys(progress.counts).forEach(function (status) {
    var cell = document.querySelector('[data-count="' + status + '"]');
    if (cell) { cell.textContent = progress.counts[status]; }
  });
  progress.domains.forEach(function (domain) {
    var cell = document.querySelector('[data-domain-status="' + domain.id + '"]');
    if (cell && cell.textContent !== domain.status) { cell.textContent = domain.status; }
  });
}

function pollBatch() {
  var batch = document.getElementById("batch");
  if (!batch) { return; }
  var url = batch.dataset.progressUrl;
  var tick = function () {
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (response.status === 401) { window.location.reload(); return null; }
        return response.ok ? response.json() : null;
      })
      .then(function (progress) {
        if (progress) { showProgress(progress); }
        if (!progress || progress.status !== "DONE") { window.setTimeout(tick, POLL_MS); }
      })
      .catch(function () { window.setTimeout(tick, POLL_MS * 2); });
  };
  if (batch.dataset.status !== "DONE") { window.setTimeout(tick, POLL_MS); }
}

// A mailbox's authenticator code: the seconds count down each second, and the code is asked
// for again when they run out (and every few seconds, so a sleeping laptop catches up).
var TOTP_POLL_MS = 5000;

function liveTotp() {
  var panel = document.getElementById("totp");
  if (!panel) { return; }
  var code = document.getElementById("totp-code");
  var seconds = document.getElementById("totp-seconds");
  var left = parseInt(seconds.textContent, 10) || 0;
  var lastFetch = Date.now();
  var fetchCode = function () {
    lastFetch = Date.now();
    fetch(panel.dataset.totpUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (response.status === 401) { window.location.reload(); return null; }
        return response.ok ? response.json() : null;
      })
      .then(function (answer) {
        if (!answer) { return; }
        code.textContent = answer.code;
        left = answer.expires_in;
        seconds.textContent = left;
      })
      .catch(function () { /* the next tick asks again */ });
  };
  window.setInterval(function () {
    left = Math.max(left - 1, 0);
    seconds.textContent = left;
    if (left === 0 || Date.now() - lastFetch >= TOTP_POLL_MS) { fetchCode(); }
  }, 1000);
}

document.addEventListener("DOMContentLoaded", function () {
  copyButtons();
  pollBatch();
  liveTotp();
});

/* safemed review app: the panel pages' behaviour (adjudication, rating, admin dashboard).
 * Loaded as a file (CSP: script-src 'self', no inline script). Everything here is an
 * enhancement: every page works without it (forms post, the dashboard reloads by hand).
 *  - [data-poll]: refetch the element's HTML fragment every data-poll-seconds (default 5) while
 *    the tab is visible; stops when the session has ended (redirect to the login page or 403).
 *  - form[data-ctrl-enter]: Ctrl+Enter (Cmd+Enter) submits through its [data-submit] button.
 *  - form[data-rate-form]: keys 1-5 choose a score (msb; likert: the focused dimension, then the
 *    next one), a / b / t choose in a pairwise form. Keys typed into text fields are left alone.
 */
(function () {
  "use strict";

  function startPolling(el) {
    var url = el.getAttribute("data-poll");
    var seconds = parseInt(el.getAttribute("data-poll-seconds") || "5", 10);
    if (!url || !(seconds > 0)) { return; }
    var busy = false;
    var timer = window.setInterval(function () {
      if (busy || document.hidden) { return; }
      busy = true;
      fetch(url, { credentials: "same-origin", headers: { "Accept": "text/html" } })
        .then(function (res) {
          if (res.redirected || res.status === 401 || res.status === 403) {
            window.clearInterval(timer);
            return null;
          }
          return res.ok ? res.text() : null;
        })
        .then(function (html) { if (html !== null) { el.innerHTML = html; } })
        .catch(function () { /* network blip: try again next tick */ })
        .then(function () { busy = false; });
    }, seconds * 1000);
  }

  function submitForm(form) {
    var button = form.querySelector("[data-submit]");
    if (typeof form.requestSubmit === "function") {
      form.requestSubmit(button || undefined);
    } else if (button) {
      button.click();
    } else {
      form.submit();
    }
  }

  function isTextField(el) {
    if (!el || !el.tagName) { return false; }
    var tag = el.tagName.toLowerCase();
    if (tag === "textarea" || tag === "select" || el.isContentEditable) { return true; }
    return tag === "input" && ["radio", "checkbox", "button", "submit"].indexOf(el.type) < 0;
  }

  function choose(scope, key) {
    var input = scope.querySelector('input[type="radio"][data-key="' + key + '"]');
    if (!input) { return false; }
    input.checked = true;
    input.focus();
    return true;
  }

  function rateKey(form, event) {
    var kind = form.getAttribute("data-rate-form");
    var key = event.key.toLowerCase();
    if (kind === "pairwise") {
      return ["a", "b", "t"].indexOf(key) >= 0 && choose(form, key);
    }
    if (["1", "2", "3", "4", "5"].indexOf(key) < 0) { return false; }
    if (kind !== "likert") { return choose(form, key); }
    var groups = Array.prototype.slice.call(form.querySelectorAll("fieldset[data-dimension]"));
    var current = groups.filter(function (g) { return g.contains(document.activeElement); })[0] ||
      groups.filter(function (g) { return !g.querySelector("input:checked"); })[0] || groups[0];
    if (!current || !choose(current, key)) { return false; }
    var next = groups[groups.indexOf(current) + 1];
    if (next) {
      var first = next.querySelector("input:checked") || next.querySelector("input");
      if (first) { first.focus(); }
    }
    return true;
  }

  /* Capture phase on window: runs before the shortcuts app.js registers (its nav links use the
   * digit keys), so on a rating form 1-5 / a / b / t score instead of navigating. */
  window.addEventListener("keydown", function (event) {
    var target = event.target;
    var form = (target && target.closest && target.closest("form[data-ctrl-enter]")) ||
      document.querySelector("form[data-ctrl-enter]");
    if (form && event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      event.stopPropagation();
      submitForm(form);
      return;
    }
    if (event.ctrlKey || event.metaKey || event.altKey || isTextField(target)) { return; }
    var rateForm = document.querySelector("form[data-rate-form]");
    if (rateForm && rateKey(rateForm, event)) {
      event.preventDefault();
      event.stopPropagation();
    }
  }, true);

  document.addEventListener("DOMContentLoaded", function () {
    Array.prototype.forEach.call(document.querySelectorAll("[data-poll]"), startPolling);
  });
}());

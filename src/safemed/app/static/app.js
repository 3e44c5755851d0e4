/* safemed review app: keyboard shortcuts, the shortcut help overlay, confirm-before-submit.
 *
 * Loaded by base.html as an external, deferred script (the Content-Security-Policy forbids inline
 * script). Clinicians review all day, so every frequent action has a key:
 *   - an element with data-shortcut="s" is activated by the key "s" when no text field has focus
 *     (links/buttons are clicked, radio buttons and checkboxes clicked and focused, fields focused);
 *     data-shortcut-label (or aria-label, or its text) names it in the help overlay;
 *   - Ctrl+Enter / Cmd+Enter submits the form marked data-submit-shortcut (also from inside a
 *     text area), through its [data-submit-default] button when it has one;
 *   - "?" toggles the overlay listing the shortcuts of the page; Esc closes it;
 *   - a form with data-confirm="question" asks before it is submitted.
 */
(function () {
  "use strict";

  var TEXT_TYPES = ["text", "password", "email", "number", "search", "tel", "url", "date", "time", "datetime-local"];

  function isTyping(el) {
    if (!el || el === document.body) { return false; }
    if (el.isContentEditable) { return true; }
    var tag = el.tagName;
    if (tag === "TEXTAREA" || tag === "SELECT") { return true; }
    if (tag === "INPUT") { return TEXT_TYPES.indexOf((el.getAttribute("type") || "text").toLowerCase()) >= 0; }
    return false;
  }

  function isVisible(el) {
    return !!(el.offsetWidth || el.offsetHeight || el.getClientRects().length);
  }

  function shortcutElements() {
    return Array.prototype.slice.call(document.querySelectorAll("[data-shortcut]")).filter(function (el) {
      return !el.disabled && (isVisible(el) || el.matches("input[type=radio], input[type=checkbox]"));
    });
  }

  function labelOf(el) {
    var text = el.getAttribute("data-shortcut-label") || el.getAttribute("aria-label") || el.textContent || "";
    return text.replace(/\s+/g, " ").trim();
  }

  function activate(el) {
    if (el.matches("input[type=radio], input[type=checkbox]")) {
      el.click();
      el.focus();
    } else if (el.matches("input, textarea, select")) {
      el.focus();
      if (el.select && el.matches("input")) { el.select(); }
    } else {
      el.click();
      if (el.matches("details > summary")) { el.focus(); }
    }
  }

  function submitShortcutForm() {
    var active = document.activeElement;
    var form = active && active.form && active.form.hasAttribute("data-submit-shortcut") ? active.form
      : document.querySelector("form[data-submit-shortcut]");
    if (!form) { return false; }
    var submitter = form.querySelector("[data-submit-default]");
    if (typeof form.requestSubmit === "function") {
      if (submitter) { form.requestSubmit(submitter); } else { form.requestSubmit(); }
    } else if (submitter) {
      submitter.click();
    } else {
      form.submit();
    }
    return true;
  }

  var overlay = null;
  var lastFocus = null;

  function row(key, label) {
    var tr = document.createElement("tr");
    var th = document.createElement("th");
    var kbd = document.createElement("kbd");
    kbd.textContent = key;
    th.appendChild(kbd);
    var td = document.createElement("td");
    td.textContent = label;
    tr.appendChild(th);
    tr.appendChild(td);
    return tr;
  }

  function fillHelp() {
    var list = overlay.querySelector("[data-shortcut-list]");
    if (!list) { return; }
    while (list.firstChild) { list.removeChild(list.firstChild); }
    list.appendChild(row("?", overlay.getAttribute("data-label-help") || "Help"));
    if (document.querySelector("form[data-submit-shortcut]")) {
      list.appendChild(row("Ctrl+Enter", overlay.getAttribute("data-label-submit") || "Submit"));
    }
    var seen = {};
    shortcutElements().forEach(function (el) {
      var key = el.getAttribute("data-shortcut");
      var label = labelOf(el);
      if (!key || seen[key + "\u0000" + label]) { return; }
      seen[key + "\u0000" + label] = true;
      list.appendChild(row(key, label));
    });
  }

  function helpOpen() { return overlay && !overlay.hidden; }

  function toggleHelp(show) {
    if (!overlay) { return; }
    var open = typeof show === "boolean" ? show : overlay.hidden;
    if (open) {
      lastFocus = document.activeElement;
      fillHelp();
      overlay.hidden = false;
      var close = overlay.querySelector("[data-help-close]");
      if (close) { close.focus(); }
    } else {
      overlay.hidden = true;
      if (lastFocus && lastFocus.focus) { lastFocus.focus(); }
    }
  }

  function onKey(ev) {
    if ((ev.ctrlKey || ev.metaKey) && ev.key === "Enter") {
      if (submitShortcutForm()) { ev.preventDefault(); }
      return;
    }
    if (ev.key === "Escape" && helpOpen()) {
      ev.preventDefault();
      toggleHelp(false);
      return;
    }
    if (ev.ctrlKey || ev.metaKey || ev.altKey || ev.isComposing) { return; }
    if (isTyping(document.activeElement)) { return; }
    if (ev.key === "?") {
      ev.preventDefault();
      toggleHelp();
      return;
    }
    if (helpOpen()) { return; }
    var matches = shortcutElements().filter(function (el) { return el.getAttribute("data-shortcut") === ev.key; });
    if (matches.length) {
      ev.preventDefault();
      activate(matches[0]);
    }
  }

  function onSubmit(ev) {
    var form = ev.target;
    var question = form && form.getAttribute && form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) { ev.preventDefault(); }
  }

  function init() {
    overlay = document.getElementById("shortcut-help");
    shortcutElements().forEach(function (el) {
      if (!el.hasAttribute("aria-keyshortcuts")) { el.setAttribute("aria-keyshortcuts", el.getAttribute("data-shortcut")); }
    });
    document.addEventListener("keydown", onKey);
    document.addEventListener("submit", onSubmit, true);
    Array.prototype.forEach.call(document.querySelectorAll("[data-help-toggle]"), function (el) {
      el.addEventListener("click", function () { toggleHelp(); });
    });
    Array.prototype.forEach.call(document.querySelectorAll("[data-help-close]"), function (el) {
      el.addEventListener("click", function () { toggleHelp(false); });
    });
    if (overlay) {
      overlay.addEventListener("click", function (ev) { if (ev.target === overlay) { toggleHelp(false); } });
    }
  }

  /* For page scripts (review.js, admin.js): the session's CSRF token for fetch() requests. */
  window.safemed = window.safemed || {};
  window.safemed.csrfToken = function () {
    var meta = document.querySelector("meta[name=csrf-token]");
    return meta ? meta.getAttribute("content") : "";
  };
  window.safemed.toggleHelp = toggleHelp;

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
}());

/* The review page's behaviour (SafeMed-R1 physician scoring and editing), kept out of the HTML
   so the Content-Security-Policy needs no inline script. Everything here is an enhancement: the
   form posts and the server re-renders without JavaScript.

   - keys 1–5 score the current rubric dimension and move to the next; ArrowUp/ArrowDown move
     between dimensions; the anchor text of the chosen level is shown beside each dimension
     (these keys are taken before app.js sees them: on this page digits score, not navigate);
   - Escape leaves a text field; Enter in the skip reason skips;
   - "preview diff" fetches the server's escaped diff fragment and shows it in place;
   - a draft is autosaved every 20 s when something changed, and on "save draft" without reload;
   - editing the reasoning turns an "accept" verdict into "fix & accept".
   The letter shortcuts (data-shortcut: a/f/r verdict, e editor, d diff, s draft, g guidelines,
   q queue) and Ctrl+Enter (the form's data-submit-shortcut) are app.js's. */
(function () {
  "use strict";

  var form = document.getElementById("review-form");
  if (!form) { return; }

  var AUTOSAVE_MS = 20000;
  var groups = Array.prototype.slice.call(form.querySelectorAll("fieldset.dimension"));
  var current = 0;
  var dirty = false;
  var editor = form.querySelector("textarea[name=edited_reasoning]");
  var status = document.getElementById("draft-status");
  var diffBox = document.getElementById("diff-preview");

  function csrf() {
    if (window.safemed && window.safemed.csrfToken) { return window.safemed.csrfToken(); }
    var field = form.querySelector("input[name=csrf_token]");
    return field ? field.value : "";
  }

  function isTyping(el) {
    if (!el || !el.tagName) { return false; }
    var tag = el.tagName.toLowerCase();
    if (tag === "textarea" || tag === "select" || el.isContentEditable) { return true; }
    if (tag === "input") {
      var type = (el.getAttribute("type") || "text").toLowerCase();
      return ["radio", "checkbox", "button", "submit"].indexOf(type) < 0;
    }
    return false;
  }

  function showAnchor(group) {
    var out = group.querySelector(".anchor-live");
    var checked = group.querySelector("input[type=radio]:checked");
    if (out) { out.textContent = checked ? checked.getAttribute("title") || "" : ""; }
  }

  function focusGroup(index) {
    if (!groups.length) { return; }
    current = Math.max(0, Math.min(groups.length - 1, index));
    groups.forEach(function (g, i) { g.classList.toggle("current", i === current); });
    var target = groups[current].querySelector("input[type=radio]:checked") ||
      groups[current].querySelector("input[type=radio]");
    if (target) { target.focus({ preventScroll: false }); }
  }

  function score(value) {
    if (!groups.length) { return; }
    var radio = groups[current].querySelector("input[type=radio][value='" + value + "']");
    if (!radio) { return; }
    radio.checked = true;
    radio.dispatchEvent(new Event("change", { bubbles: true }));
    if (current < groups.length - 1) { focusGroup(current + 1); } else { focusGroup(current); }
  }

  function setVerdict(value) {
    var radio = form.querySelector("input[name=verdict][value='" + value + "']");
    if (radio) { radio.checked = true; radio.dispatchEvent(new Event("change", { bubbles: true })); radio.focus(); }
  }

  function post(url, extra) {
    var data = new FormData(form);
    Object.keys(extra || {}).forEach(function (k) { data.set(k, extra[k]); });
    return fetch(url, {
      method: "POST", body: data, credentials: "same-origin",
      headers: { "X-CSRF-Token": csrf(), "X-Requested-With": "fetch" }
    });
  }

  function saveDraft(manual) {
    if (!manual && !dirty) { return; }
    dirty = false;
    post(form.getAttribute("data-draft-url")).then(function (resp) {
      if (!resp.ok) { dirty = true; throw new Error(String(resp.status)); }
      return resp.json();
    }).then(function (body) {
      if (status) { status.textContent = (form.getAttribute("data-saved-text") || "").replace("{time}", body.saved_at || ""); }
    }).catch(function () {
      if (status) { status.textContent = form.getAttribute("data-save-failed-text") || "!"; }
    });
  }

  function previewDiff() {
    if (!diffBox) { return; }
    post(form.getAttribute("data-preview-url")).then(function (resp) {
      if (!resp.ok) { throw new Error(String(resp.status)); }
      return resp.text();
    }).then(function (html) {
      /* the fragment is rendered and escaped by the server (Jinja2 autoescape) */
      diffBox.innerHTML = html;
      diffBox.hidden = false;
      diffBox.scrollIntoView({ block: "nearest" });
    }).catch(function () { form.requestSubmit(form.querySelector("[data-role=preview]")); });
  }

  groups.forEach(function (g, i) {
    showAnchor(g);
    g.addEventListener("change", function () { showAnchor(g); });
    g.addEventListener("focusin", function () { current = i; groups.forEach(function (o, j) { o.classList.toggle("current", j === i); }); });
  });
  if (groups.length) { groups[0].classList.add("current"); }

  form.addEventListener("input", function () { dirty = true; });
  form.addEventListener("change", function () { dirty = true; });
  if (editor) {
    var original = editor.getAttribute("data-original") === null ? editor.value : editor.getAttribute("data-original");
    editor.addEventListener("input", function () {
      var accept = form.querySelector("input[name=verdict][value=accept]");
      if (accept && accept.checked && editor.value.trim() !== original.trim()) { setVerdict("fix"); editor.focus(); }
    });
  }

  var previewButton = form.querySelector("[data-role=preview]");
  if (previewButton) {
    previewButton.addEventListener("click", function (ev) { ev.preventDefault(); previewDiff(); });
  }
  var draftButton = form.querySelector("[data-role=draft]");
  if (draftButton) {
    draftButton.addEventListener("click", function (ev) { ev.preventDefault(); saveDraft(true); });
  }
  form.addEventListener("submit", function () { dirty = false; });
  window.setInterval(function () { saveDraft(false); }, AUTOSAVE_MS);

  var skipReason = form.querySelector("input[name=skip_reason]");
  var skipButton = form.querySelector("[data-role=skip]");
  if (skipReason && skipButton) {
    skipReason.addEventListener("keydown", function (ev) {
      if (ev.key === "Enter") { ev.preventDefault(); form.requestSubmit(skipButton); }
    });
  }

  /* capture phase on window: runs before app.js's document listener, which would otherwise treat
     the digits as the navigation shortcuts */
  window.addEventListener("keydown", function (ev) {
    if (ev.ctrlKey || ev.metaKey || ev.altKey || ev.isComposing) { return; }
    if (ev.key === "Escape" && isTyping(ev.target)) { ev.target.blur(); return; }
    if (isTyping(ev.target)) { return; }
    var help = document.getElementById("shortcut-help");
    if (help && !help.hidden) { return; }
    if (ev.key >= "1" && ev.key <= "5") {
      ev.preventDefault();
      ev.stopImmediatePropagation();
      score(ev.key);
      return;
    }
    if (ev.key === "ArrowDown" || ev.key === "ArrowUp") {
      var inGroup = ev.target && ev.target.closest && ev.target.closest("fieldset.dimension");
      if (inGroup || ev.target === document.body) {
        ev.preventDefault();
        ev.stopImmediatePropagation();
        focusGroup(current + (ev.key === "ArrowDown" ? 1 : -1));
      }
    }
  }, true);
}());

/* Redaktionen: small improvements over plain forms, which work without this file.
   A character counter, a Markdown toolbar, autosave of drafts and focus on errors. */
(function () {
  "use strict";

  function focusErrors() {
    var summary = document.querySelector("[data-focus]");
    if (summary) { summary.focus(); }
  }

  function counter(area) {
    var max = parseInt(area.getAttribute("data-max"), 10);
    var shown = document.createElement("p");
    shown.className = "counter";
    shown.id = area.id + "-antal";
    shown.setAttribute("aria-hidden", "true");
    var spoken = document.createElement("p");
    spoken.className = "visually-hidden";
    spoken.setAttribute("aria-live", "polite");
    area.insertAdjacentElement("afterend", shown);
    shown.insertAdjacentElement("afterend", spoken);
    var timer = null;
    function text() {
      var left = max - area.value.length;
      return left >= 0 ? "Du har " + left + " tecken kvar av " + max + "."
                       : "Du har " + (-left) + " tecken för mycket.";
    }
    function update() {
      shown.textContent = text();
      shown.classList.toggle("over", area.value.length > max);
      clearTimeout(timer);
      timer = setTimeout(function () { spoken.textContent = text(); }, 1000);
    }
    area.addEventListener("input", update);
    shown.textContent = text();
  }

  // Each tool: [label, wrap before, wrap after, prefix for every line]
  var TOOLS = [
    ["Fet", "**", "**", null],
    ["Kursiv", "_", "_", null],
    ["Rubrik", null, null, "## "],
    ["Länk", "[", "](https://)", null],
    ["Lista", null, null, "- "],
    ["Citat", null, null, "> "]
  ];

  function toolbar(area) {
    var bar = document.createElement("div");
    bar.className = "toolbar";
    bar.setAttribute("role", "toolbar");
    bar.setAttribute("aria-label", "Formatering av texten");
    bar.setAttribute("aria-controls", area.id);
    TOOLS.forEach(function (tool) {
      var button = document.createElement("button");
      button.type = "button";
      button.textContent = tool[0];
      button.addEventListener("click", function () { apply(area, tool); });
      bar.appendChild(button);
    });
    area.insertAdjacentElement("beforebegin", bar);
  }

  function apply(area, tool) {
    var start = area.selectionStart, end = area.selectionEnd, value = area.value;
    var chosen = value.slice(start, end);
    var replaced, caretStart, caretEnd;
    if (tool[3]) {
      var lineStart = value.lastIndexOf("\n", start - 1) + 1;
      var block = value.slice(lineStart, end) || "";
      replaced = block.split("\n").map(function (line) { return tool[3] + line; }).join("\n");
      area.setRangeText(replaced, lineStart, end, "end");
    } else {
      var inner = chosen || (tool[0] === "Länk" ? "länktext" : "text");
      replaced = tool[1] + inner + tool[2];
      area.setRangeText(replaced, start, end, "end");
      if (tool[0] === "Länk") {
        caretStart = start + tool[1].length + inner.length + 2;
        caretEnd = caretStart + "https://".length;
      } else {
        caretStart = start + tool[1].length;
        caretEnd = caretStart + inner.length;
      }
      area.setSelectionRange(caretStart, caretEnd);
    }
    area.focus();
    area.dispatchEvent(new Event("input", { bubbles: true }));
  }

  function autosave(form) {
    var status = document.getElementById("autospara-status");
    var url = form.getAttribute("data-autosave");
    var changed = false, busy = false, stopped = false;
    form.addEventListener("input", function () { changed = true; });
    form.addEventListener("submit", function () { stopped = true; });
    function save() {
      if (!changed || busy || stopped) { return; }
      changed = false;
      busy = true;
      fetch(url, {
        method: "POST",
        // URL-encoded, as the form itself posts (the CSRF check reads that kind only).
        body: new URLSearchParams(new FormData(form)),
        headers: { "Accept": "application/json" },
        credentials: "same-origin"
      }).then(function (response) {
        return response.json().then(function (answer) { return [response.status, answer]; });
      }).then(function (result) {
        var code = result[0], answer = result[1];
        status.textContent = answer.detail || "";
        if (answer.saved) {
          form.querySelector("input[name=version]").value = answer.version;
          if (form.getAttribute("action") !== answer.url) {
            form.setAttribute("action", answer.url);
            url = answer.url + "/autospara";
            window.history.replaceState(null, "", answer.url);
          }
        } else if (code === 409 || code === 401) {
          stopped = true;
        } else {
          changed = true;
        }
      }).catch(function () {
        status.textContent = "Utkastet kunde inte sparas automatiskt. Spara det själv.";
        changed = true;
      }).then(function () { busy = false; });
    }
    setInterval(save, 5000);
  }

  // What each button does to subscribers follows the boxes; the count follows the regions
  // and topics (notify counts them: /redaktion/mottagare).
  function reach(form) {
    var hint = document.getElementById("mottagare");
    var phrase = null, asked = 0;
    function effects() {
      form.querySelectorAll(".effect[data-box]").forEach(function (span) {
        var box = document.getElementById(span.getAttribute("data-box"));
        var text = span.getAttribute(box && box.checked ? "data-on" : "data-off");
        if (phrase !== null) { text = text.replace("{n}", phrase); }
        if (text.indexOf("{n}") < 0 && span.textContent !== text) { span.textContent = text; }
      });
    }
    function count() {
      var query = new URLSearchParams();
      form.querySelectorAll("input[name=regioner]:checked, input[name=amnen]:checked")
        .forEach(function (box) { query.append(box.name, box.value); });
      var mine = ++asked;
      fetch(hint.getAttribute("data-url") + "?" + query.toString(),
            { headers: { "Accept": "application/json" }, credentials: "same-origin" })
        .then(function (response) { return response.json(); })
        .then(function (answer) {
          if (mine !== asked || answer.immediate === null) { return; }
          phrase = answer.phrase;
          hint.textContent = "Just nu når nyheten " + phrase + " som får mejl direkt" +
            (answer.weekly ? " och " + answer.weekly + " som får veckobrevet" : "") + ".";
          effects();
        }).catch(function () {});
    }
    form.addEventListener("change", function (event) {
      if (event.target.type !== "checkbox") { return; }
      var name = event.target.name;
      if (name === "regioner" || name === "amnen") { count(); } else { effects(); }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    focusErrors();
    document.querySelectorAll("textarea[data-max]").forEach(counter);
    document.querySelectorAll("textarea[data-toolbar]").forEach(toolbar);
    document.querySelectorAll("form[data-autosave]").forEach(autosave);
    if (document.getElementById("mottagare")) {
      document.querySelectorAll("form#nyhet").forEach(reach);
    }
  });
})();

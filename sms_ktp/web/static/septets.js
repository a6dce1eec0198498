/* Staff fields whose text lands in a resident's SMS (a rejection's reason, an office's name and
   address): while staff type, how many GSM-7 septets they take against what one SMS leaves them
   (sms_ktp/applications/sms_budget.py), and the form is held back while they do not fit. Counts as the
   service sends the text: gsm7/encoding.py's to_gsm7 (look-alikes made plain, anything else one
   "?"), then septets ([]{}~^€|\ and form feed take two). The server checks again on saving.

   A meter names its fields and budget in data- attributes: no inline script, so the strict
   Content-Security-Policy (script-src 'self') holds. */
(function () {
  "use strict";

  // The GSM 03.38 default alphabet and its extension table, as gsm7/encoding.py reads them from
  // the gsm0338 package (tests/sms_ktp/web/staff/test_septet_counter.py compares them).
  var BASIC = "\u000a\u000d\u001b !\u0022#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ" +
    "_abcdefghijklmnopqrstuvwxyz\u00a1\u00a3\u00a4\u00a5\u00a7\u00bf\u00c4\u00c5\u00c6\u00c7" +
    "\u00c9\u00d1\u00d6\u00d8\u00dc\u00df\u00e0\u00e4\u00e5\u00e6\u00e8\u00e9\u00ec\u00f1" +
    "\u00f2\u00f6\u00f8\u00f9\u00fc\u0393\u0394\u0398\u039b\u039e\u03a0\u03a3\u03a6\u03a8\u03a9";
  var EXTENSION = "\u000c[\u005c]^{|}~\u20ac";
  // gsm7/encoding.py's replacements longer than one character.
  var EXPANSIONS = {"\u2026": "...", "\u2122": "TM", "\u00a9": "(c)"};
  var LOOKALIKES = "\u2018\u2019\u201a\u201b\u2032`\u201c\u201d\u201e\u2033\u2010\u2011\u2012" +
    "\u2013\u2014\u2212\u00a0\u2007\u202f\t\u2022\u00b7";

  function plain(c) {
    if (BASIC.indexOf(c) >= 0) {
      return 1;
    }
    return EXTENSION.indexOf(c) >= 0 ? 2 : 0;
  }

  /* Septets of `text` once the service has made it GSM-7. */
  function septets(text) {
    var characters = Array.from(text);
    var gsm = characters.every(function (c) { return plain(c) > 0; });
    return characters.reduce(function (total, c) {
      if (plain(c) > 0) {
        return total + plain(c);
      }
      if (!gsm && LOOKALIKES.indexOf(c) >= 0) {
        return total + 1;
      }
      if (!gsm && EXPANSIONS[c]) {
        return total + EXPANSIONS[c].length;
      }
      var stripped = Array.from(c.normalize("NFKD").replace(/\p{M}/gu, ""));
      var fits = stripped.length > 0 && stripped.every(function (s) { return plain(s) > 0; });
      return total + (fits ? stripped.reduce(function (n, s) { return n + plain(s); }, 0) : 1);
    }, 0);
  }

  /* A field's text as the server keeps it: trimmed, and with runs of spaces made one where
     the server does so (a rejection's reason). */
  function kept(value, squeeze) {
    return squeeze ? value.split(/\s+/).filter(Boolean).join(" ") : value.trim();
  }

  function watch(meter) {
    var form = meter.closest("form");
    var fields = meter.dataset.septetsOf.split(" ").map(function (name) {
      return form.elements[name];
    });
    var budget = Number(meter.dataset.septetsBudget);
    var squeeze = meter.hasAttribute("data-septets-squeeze");
    var used = meter.querySelector('[data-out="used"]');
    var over = meter.querySelector('[data-out="over"]');

    function update() {
      var total = fields.reduce(function (sum, field) {
        return sum + septets(kept(field.value, squeeze));
      }, 0);
      var tooLong = total > budget;
      used.textContent = String(total);
      over.hidden = !tooLong;
      meter.classList.toggle("over", tooLong);
      var last = fields[fields.length - 1];
      last.setCustomValidity(tooLong ? over.textContent : "");
      last.setAttribute("aria-invalid", tooLong ? "true" : "false");
    }

    fields.forEach(function (field) { field.addEventListener("input", update); });
    meter.hidden = false;
    update();
  }

  if (typeof document !== "undefined") {
    var start = function () {
      document.querySelectorAll("[data-septets-of]").forEach(watch);
    };
    if (document.readyState === "loading") {
      document.addEventListener("DOMContentLoaded", start);
    } else {
      start();
    }
  }
  if (typeof module !== "undefined" && module.exports) {  // the tests run it under Node
    module.exports = {septets: septets, kept: kept, BASIC: BASIC, EXTENSION: EXTENSION};
  }
}());

/* Broadcast pages of the back office: while an admin types, the length of the SMS as the operator
   bills it (GSM-7 septets, or UCS-2 as soon as one character is outside GSM-7), the recipients
   of the chosen audience (none until one is chosen) and the estimated cost: every part of every
   SMS, and every WhatsApp template (a WhatsApp text inside the 24-hour window is free). Mirrors
   gsm7/encoding.py; the server computes the same figures again on "Periksa" and when the
   broadcast is sent. Nothing here cuts the text: a text too long is said so, and refused.

   No framework, no CDN, no inline script: the page gives its data in data- attributes, so a
   strict Content-Security-Policy (script-src 'self') holds. */
(function () {
  "use strict";

  // The GSM 03.38 default alphabet and its extension table (escape + character: 2 septets),
  // as gsm7/encoding.py reads them from the gsm0338 package.
  var BASIC = "\u000a\u000d\u001b !\u0022#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ" +
    "_abcdefghijklmnopqrstuvwxyz\u00a1\u00a3\u00a4\u00a5\u00a7\u00bf\u00c4\u00c5\u00c6\u00c7" +
    "\u00c9\u00d1\u00d6\u00d8\u00dc\u00df\u00e0\u00e4\u00e5\u00e6\u00e8\u00e9\u00ec\u00f1" +
    "\u00f2\u00f6\u00f8\u00f9\u00fc\u0393\u0394\u0398\u039b\u039e\u03a0\u03a3\u03a6\u03a8\u03a9";
  var EXTENSION = "\u000c[\u005c]^{|}~\u20ac";
  var GSM7_SINGLE = 160, GSM7_PART = 153, UCS2_SINGLE = 70, UCS2_PART = 67;

  /* The figures of `text`: characters, encoding, units (septets or UTF-16 units), segments
     (as gsm7.encoding.segments, so "" is 1), the capacity of that many parts, and the characters
     outside GSM-7. */
  function measure(text) {
    var septets = 0, outside = [];
    var characters = Array.from(text);
    characters.forEach(function (c) {
      if (BASIC.indexOf(c) >= 0) {
        septets += 1;
      } else if (EXTENSION.indexOf(c) >= 0) {
        septets += 2;
      } else if (outside.indexOf(c) < 0) {
        outside.push(c);
      }
    });
    var gsm = outside.length === 0;
    var units = gsm ? septets : text.length;  // JavaScript strings are UTF-16 already
    var single = gsm ? GSM7_SINGLE : UCS2_SINGLE, part = gsm ? GSM7_PART : UCS2_PART;
    var segments = units <= single ? 1 : Math.ceil(units / part);
    return {
      characters: characters.length,
      encoding: gsm ? "GSM-7" : "UCS-2",
      units: units,
      segments: segments,
      capacity: segments === 1 ? single : segments * part,
      outside: outside
    };
  }

  /* Rupiah, as broadcasts.ChannelSplit.cost reckons it: every part of every SMS at `price`,
     every WhatsApp template at `templatePrice`, a WhatsApp text in the window free. `counted`:
     the recipients route's answer (an older one has the recipients alone: all by SMS). */
  function cost(parts, counted, price, templatePrice) {
    var bySms = counted.sms === undefined ? counted.recipients : counted.sms;
    return parts * bySms * price + (counted.whatsapp_template || 0) * templatePrice;
  }

  function rupiah(amount) {
    return "Rp " + String(Math.round(amount)).replace(/\B(?=(\d{3})+(?!\d))/g, ".");
  }

  function setText(root, name, value) {
    var element = root.querySelector('[data-out="' + name + '"]');
    if (element) {
      element.textContent = String(value);
    }
  }

  function compose(form) {
    var text = form.querySelector("#broadcast-text");
    var audience = form.querySelector("#broadcast-audience");
    var when = form.querySelector("#broadcast-when");
    var sendAt = form.querySelector("#broadcast-send-at");
    var meter = form.querySelector("#broadcast-meter");
    var estimate = form.querySelector("#broadcast-estimate");
    var nonGsm = form.querySelector("#broadcast-nongsm");
    var tooLong = form.querySelector("#broadcast-toolong");
    var price = Number(form.dataset.price || 0);
    var templatePrice = Number(form.dataset.templatePrice || 0);
    var maxSegments = Number(form.dataset.maxSegments || 0);
    var recipients = null, counted = null, asked = 0;

    function update() {
      var value = text.value.trim();
      var figures = measure(value);
      var parts = value ? figures.segments : 0;
      setText(meter, "characters", figures.characters);
      setText(meter, "encoding", figures.encoding);
      setText(meter, "units", figures.units);
      setText(meter, "capacity", figures.capacity);
      setText(meter, "segments", parts);
      meter.hidden = false;
      nonGsm.hidden = figures.outside.length === 0;
      nonGsm.textContent = figures.outside.length === 0 ? "" :
        "Di luar GSM-7: " + figures.outside.join(" ") + " \u2014 SMS menjadi UCS-2 (70 " +
        "karakter per SMS). Saat disimpan, karakter ini diganti dengan yang mirip atau \"?\".";
      tooLong.hidden = !maxSegments || parts <= maxSegments;
      setText(estimate, "recipients", recipients === null ? "\u2026" : recipients);
      setText(estimate, "cost", recipients === null ? "\u2026" :
        rupiah(cost(parts, counted, price, templatePrice)));
      estimate.hidden = !audience.value;
    }

    function count() {
      var mine = ++asked;
      recipients = null;
      update();
      if (!audience.value) {  // nobody chosen yet: nothing to count, no cost to show
        estimate.hidden = true;
        return;
      }
      var url = form.dataset.recipientsUrl + "?audience=" + encodeURIComponent(audience.value);
      fetch(url, {credentials: "same-origin", headers: {Accept: "application/json"}})
        .then(function (response) {
          if (!response.ok) {
            throw new Error("HTTP " + response.status);
          }
          return response.json();
        })
        .then(function (answer) {
          if (mine === asked) {
            recipients = answer.recipients;
            counted = answer;
            update();
          }
        })
        .catch(function () {
          if (mine === asked) {
            estimate.hidden = true;  // "Pratinjau" still shows the figures
          }
        });
    }

    function toggleTime() {
      sendAt.disabled = when.value !== "later";
      sendAt.required = when.value === "later";
    }

    text.addEventListener("input", update);
    audience.addEventListener("change", count);
    when.addEventListener("change", toggleTime);
    toggleTime();
    count();
  }

  function confirmations(root) {
    root.querySelectorAll("form[data-confirm]").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        if (!window.confirm(form.dataset.confirm)) {
          event.preventDefault();
        }
      });
    });
  }

  if (typeof document !== "undefined") {
    var start = function () {
      var form = document.getElementById("broadcast-form");
      if (form) {
        compose(form);
      }
      confirmations(document);
    };
    if (document.readyState === "loading") {
      document.addEventListener("DOMContentLoaded", start);
    } else {
      start();
    }
  }
  if (typeof module !== "undefined" && module.exports) {  // the tests run it under Node
    module.exports = {measure: measure, rupiah: rupiah, cost: cost, BASIC: BASIC,
                      EXTENSION: EXTENSION};
  }
}());

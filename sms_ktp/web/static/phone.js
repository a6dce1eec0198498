// The simulator's keypad types into the phone's input, as its keys would; the page works
// without it (type on the keyboard). No inline code: it runs under a strict CSP.
(function () {
  "use strict";
  var field = document.querySelector(".compose input[name=input]") ||
    document.querySelector(".compose input[name=text]");
  var screen = document.getElementById("screen");
  if (screen) { screen.scrollTop = screen.scrollHeight; }
  document.querySelectorAll(".key").forEach(function (key) {
    key.addEventListener("click", function () {
      if (!field) { return; }
      field.value += key.getAttribute("data-key");
      field.focus();
    });
  });
})();

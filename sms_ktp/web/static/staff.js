// Every staff page: what the markup alone cannot do for keyboard, screen-reader and phone users.
// The pages work without it (the policy allows no inline script, so it lives here).
(function () {
  "use strict";

  // A form that came back with errors: the summary takes the focus, so that the next Tab goes
  // to its links and a screen reader reads it first.
  function focusErrors() {
    var summary = document.querySelector("[data-error-summary], [role=alert][tabindex='-1']");
    if (summary && (document.activeElement === document.body || !document.activeElement)) {
      summary.focus();
    }
  }

  // The menu folds behind its "Menu" button on a narrow screen; it stays open without a script.
  function foldMenu() {
    var folds = document.querySelectorAll("details[data-fold-below]");
    Array.prototype.forEach.call(folds, function (fold) {
      var narrow = window.matchMedia("(max-width: " + fold.getAttribute("data-fold-below") + ")");
      var apply = function () {
        if (narrow.matches) {
          fold.removeAttribute("open");
        } else {
          fold.setAttribute("open", "");
        }
      };
      apply();
      if (narrow.addEventListener) {
        narrow.addEventListener("change", apply);
      }
    });
  }

  // A wide table scrolls inside its frame; a frame that scrolls and holds nothing focusable is
  // made focusable, so that the keyboard can scroll it too.
  function scrollersFocusable() {
    var frames = document.querySelectorAll(".table-scroll, .scroll");
    Array.prototype.forEach.call(frames, function (frame) {
      if (frame.hasAttribute("tabindex") || frame.scrollWidth <= frame.clientWidth) {
        return;
      }
      frame.setAttribute("tabindex", "0");
      var caption = frame.querySelector("caption");
      var heading = frame.previousElementSibling;
      var label = caption ? caption.textContent : (heading && /^H[1-6]$/.test(heading.tagName)
                                                   ? heading.textContent : "");
      if (label && !frame.hasAttribute("aria-label")) {
        frame.setAttribute("role", "region");
        frame.setAttribute("aria-label", label.trim());
      }
    });
  }

  function start() {
    foldMenu();
    focusErrors();
    scrollersFocusable();
    window.addEventListener("resize", scrollersFocusable);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();

/* myshop's only script. Every page works without it. */

/* The thank-you page arrives as the answer to the checkout form: give it its own address, so that a reload
   asks for the page again instead of sending the form again (which would only show the same order). */
(function () {
  "use strict";

  var page = document.querySelector("[data-page-url]");
  var url = page && page.getAttribute("data-page-url");
  if (url && window.history && window.history.replaceState && window.location.pathname !== url) {
    window.history.replaceState(null, "", url);
    // The language switch comes back to this page, not to the form it answered.
    var next = document.querySelector(".language-switch input[name=next]");
    if (next) {
      next.value = url;
    }
  }
})();

/* Checkout errors: move focus to where the shopper is needed. */
(function () {
  "use strict";

  // Checkout errors: focus the summary (screen readers announce it), and let its links focus their field.
  var summary = document.getElementById("error-summary");
  if (!summary) {
    return;
  }
  summary.focus();
  summary.addEventListener("click", function (event) {
    var link = event.target.closest("a[href^='#']");
    var field = link && document.getElementById(link.getAttribute("href").slice(1));
    if (!field) {
      return;
    }
    event.preventDefault();
    var label = document.querySelector("label[for='" + field.id + "']");
    (label || field).scrollIntoView({ block: "start" });
    field.focus({ preventScroll: true });
  });
})();

/* A payment being confirmed: ask the shop every 2 seconds where it stands, and reload the page once it has
   moved on (paid, declined). Without the script the page's "Check again" link does the same. */
(function () {
  "use strict";

  var panel = document.querySelector("[data-payment-state-url]");
  if (!panel || !window.fetch) {
    return;
  }
  var url = panel.getAttribute("data-payment-state-url");
  var stage = panel.getAttribute("data-payment-stage");
  var asked = 0;
  var ask = function () {
    asked += 1;
    fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (state) {
        if (state && state.stage !== stage) {
          window.location.reload();
        } else if (asked < 150) {  // five minutes; then the link is there
          window.setTimeout(ask, 2000);
        }
      })
      .catch(function () {
        if (asked < 150) {
          window.setTimeout(ask, 5000);
        }
      });
  };
  window.setTimeout(ask, 2000);
})();

/* "Place order" and "Pay": once a form is sent its button says so and a second click sends nothing (the
   server's one-time key covers a page without the script). A page shown again from the back/forward cache
   gets its buttons back. */
(function () {
  "use strict";

  var buttons = document.querySelectorAll("button[data-busy-label]");
  Array.prototype.forEach.call(buttons, function (button) {
    var form = button.form;
    if (!form) {
      return;
    }
    var label = button.textContent;
    form.addEventListener("submit", function (event) {
      if (form.getAttribute("data-sending")) {
        event.preventDefault();
        return;
      }
      form.setAttribute("data-sending", "1");
      button.setAttribute("aria-disabled", "true");
      button.textContent = button.getAttribute("data-busy-label");
    });
    window.addEventListener("pageshow", function () {
      form.removeAttribute("data-sending");
      button.removeAttribute("aria-disabled");
      button.textContent = label;
    });
  });
})();

/* An alert the page opens with (a declined payment, time run out): focus it, so that it is read first. */
(function () {
  "use strict";

  var alert = document.querySelector("[data-focus-on-load]");
  if (alert && !document.getElementById("error-summary")) {
    alert.focus();
  }
})();

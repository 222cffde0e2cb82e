/* The out-of-service page looks again every minute: when the kiosk is enabled, the check-in page returns. */
(function () {
  "use strict";
  var RELOAD_MS = 60000;
  setTimeout(function () { window.location.reload(); }, RELOAD_MS);
})();

// The auditor console's sign-in link carries its secret in the URL's fragment, which the browser sends to no
// server and no Referer: this puts it in the sign-in form, drops it from the address bar and history, and POSTs it.
(function () {
  "use strict";
  var form = document.getElementById("sign-in-link");
  var code = window.location.hash.slice(1);
  if (!form || !code) {
    return;
  }
  window.history.replaceState(null, "", window.location.pathname + window.location.search);
  form.elements.namedItem("link").value = code;
  form.submit();
}());

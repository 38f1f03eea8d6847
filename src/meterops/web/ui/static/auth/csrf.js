// Send the session's CSRF token with every HTMX request (the server refuses state changes
// without it). The token is in <meta name="csrf-token"> of pages shown to a signed-in user.
document.addEventListener("htmx:configRequest", function (event) {
  var meta = document.querySelector('meta[name="csrf-token"]');
  if (meta) {
    event.detail.headers["X-CSRF-Token"] = meta.getAttribute("content");
  }
});

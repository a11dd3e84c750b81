// axis dashboard: keeps the page live without a reload. Every 2 s it asks the page's fragment
// URL (data-fragment on <body>) with the ETag of the last answer; on 200 it swaps each section
// (element with an id at the fragment's top level) in place; 304 means nothing changed.
// The HTML it inserts was rendered and escaped by the server; the page's CSP forbids inline
// script, so nothing in it can run. Its "updated" time is UTC, as every time the server renders.
// A 401 ends the polling: the session is gone, and asking again every 2 s would not bring it back.
(function () {
  "use strict";
  var INTERVAL_MS = 2000;
  var body = document.body;
  var url = body.getAttribute("data-fragment");
  var live = document.getElementById("live");
  var etag = body.getAttribute("data-etag");  // the sections the page was rendered with
  var timer = null;
  var inflight = false;
  var stopped = false;  // signed out: no more polls
  if (!url) { return; }

  function two(n) { return (n < 10 ? "0" : "") + n; }
  function now() {
    var d = new Date();
    return two(d.getUTCHours()) + ":" + two(d.getUTCMinutes()) + ":" + two(d.getUTCSeconds()) + " UTC";
  }
  function mark(state, text) {
    if (!live) { return; }
    live.setAttribute("data-state", state);
    live.textContent = text;
  }

  function apply(html) {
    var doc = new DOMParser().parseFromString(html, "text/html");
    var fresh = doc.body.children;
    for (var i = 0; i < fresh.length; i++) {
      var id = fresh[i].id;
      var old = id && document.getElementById(id);
      if (old) { old.replaceWith(document.importNode(fresh[i], true)); }
    }
    body.setAttribute("data-refreshed", String(Number(body.getAttribute("data-refreshed") || "0") + 1));
  }

  function poll() {
    timer = null;
    if (document.hidden) { timer = window.setTimeout(poll, INTERVAL_MS); return; }
    inflight = true;
    var headers = { "Accept": "text/html" };
    if (etag) { headers["If-None-Match"] = etag; }
    fetch(url, { headers: headers, credentials: "same-origin", cache: "no-store" })
      .then(function (r) {
        if (r.status === 304) { return null; }
        if (r.status === 401) { stopped = true; throw new Error("signed out"); }
        if (!r.ok) { throw new Error("HTTP " + r.status); }
        etag = r.headers.get("ETag");
        return r.text();
      })
      .then(function (html) {
        if (html !== null) { apply(html); }
        mark("live", "updated " + now() + " · live");
      })
      .catch(function () {
        mark(stopped ? "signed-out" : "offline",
             (stopped ? "signed out · reload to sign in" : "offline") + " · since " + now());
      })
      .then(function () {
        inflight = false;
        if (!stopped) { timer = window.setTimeout(poll, INTERVAL_MS); }
      });
  }

  document.addEventListener("visibilitychange", function () {
    if (!document.hidden && !inflight && !stopped) { window.clearTimeout(timer); poll(); }
  });
  mark("live", "updated " + now() + " · live");
  timer = window.setTimeout(poll, INTERVAL_MS);
})();

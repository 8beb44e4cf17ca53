// qunzu web app: the few things plain forms cannot do.
//
// - Live timeline: a WebSocket on /web/events (the /v1/events stream, authenticated by
//   the session cookie). It resumes with per-group cursors (`since`) and reconnects by
//   itself; an event of the open group makes the page fetch the entries after the last
//   one it shows, so a lost or repeated event never leaves a gap or shows twice.
// - Sending: each message keeps one client_txn_id across retries, so a send on a
//   flaky network (or offline, queued until the network is back) is never doubled.
// - Partial updates: the composer (rules to accept, mute, slow mode) and older pages
//   are fetched as HTML fragments rendered by the server.
// - Countdowns for deadlines, mutes and slow mode.
// Everything works without this file, as plain pages and forms.
"use strict";

(function () {
  var body = document.body;
  var csrf = body.getAttribute("data-csrf") || "";

  // ---- helpers ------------------------------------------------------------------------

  function post(url, fields) {
    var data = new URLSearchParams();
    Object.keys(fields).forEach(function (k) { data.append(k, fields[k]); });
    data.append("csrf", csrf);
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-Qunzu-Fetch": "1", "X-CSRF-Token": csrf },
      body: data,
    });
  }

  function getHtml(url) {
    return fetch(url, { credentials: "same-origin", headers: { "X-Qunzu-Fetch": "1" } })
      .then(function (res) {
        if (!res.ok) { throw new Error("HTTP " + res.status); }
        return res.text().then(function (text) { return { res: res, text: text }; });
      });
  }

  function fragment(html) {
    var t = document.createElement("template");
    t.innerHTML = html; // server-rendered and escaped by its templates
    return t.content;
  }

  function newTxn() {
    var bytes = new Uint8Array(12);
    crypto.getRandomValues(bytes);
    return "web-" + Array.prototype.map.call(bytes, function (b) {
      return ("0" + b.toString(16)).slice(-2);
    }).join("");
  }

  function parseCursors(text) {
    var out = {};
    (text || "").split(",").forEach(function (pair) {
      var p = pair.split(":");
      if (p.length === 2 && /^\d+$/.test(p[0]) && /^\d+$/.test(p[1])) {
        out[p[0]] = parseInt(p[1], 10);
      }
    });
    return out;
  }

  // ---- countdowns ---------------------------------------------------------------------

  function two(n) { return (n < 10 ? "0" : "") + n; }
  function clock(seconds) {
    var d = Math.floor(seconds / 86400);
    var h = Math.floor((seconds % 86400) / 3600);
    var m = Math.floor((seconds % 3600) / 60);
    var s = seconds % 60;
    return (d ? d + "d " : "") + two(h) + ":" + two(m) + ":" + two(s);
  }
  function tickCountdowns() {
    var now = Date.now();
    document.querySelectorAll("[data-countdown-to]").forEach(function (el) {
      var left = Math.max(0, Math.round((Date.parse(el.getAttribute("data-countdown-to")) - now) / 1000));
      el.textContent = clock(left);
    });
  }
  tickCountdowns();
  setInterval(tickCountdowns, 1000);

  // ---- the live stream ----------------------------------------------------------------

  function Stream(cursors, onEvent, onStatus) {
    this.cursors = cursors;
    this.onEvent = onEvent;
    this.onStatus = onStatus;
    this.ws = null;
    this.delay = 1000;
    this.stopped = false;
    this.liveOnly = false;
    this.timer = null;
    var self = this;
    window.addEventListener("offline", function () {
      onStatus("offline");
      if (self.ws) { self.ws.close(); }
    });
    window.addEventListener("online", function () { self.delay = 1000; self.connect(); });
    this.connect();
  }
  Stream.prototype.since = function () {
    var c = this.cursors;
    return Object.keys(c).map(function (g) { return g + ":" + c[g]; }).join(",");
  };
  Stream.prototype.connect = function () {
    if (this.stopped || (this.ws && this.ws.readyState <= 1)) { return; }
    clearTimeout(this.timer);
    var self = this;
    var url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/web/events";
    var since = this.liveOnly ? "" : this.since();
    if (since) { url += "?since=" + encodeURIComponent(since); }
    var ws = new WebSocket(url);
    this.ws = ws;
    ws.onmessage = function (msg) {
      var frame;
      try { frame = JSON.parse(msg.data); } catch (e) { return; }
      if (frame.type === "ready") {
        self.delay = 1000;
        self.liveOnly = false;
        Object.keys(frame.cursors || {}).forEach(function (g) {
          if (!(g in self.cursors)) { self.cursors[g] = frame.cursors[g]; }
        });
        self.onStatus("live");
        self.onEvent({ type: "resync" });
      } else if (frame.type === "event") {
        var g = String(frame.group_id);
        if (g in self.cursors && frame.seq <= self.cursors[g]) { return; } // seen already
        self.cursors[g] = frame.seq;
        self.onEvent(frame);
      } else if (frame.type === "notice") {
        self.onEvent(frame);
      }
    };
    ws.onclose = function (e) {
      if (self.ws !== ws) { return; }
      self.ws = null;
      if (e.code === 4401 || e.code === 4403) { // signed out or revoked: stop here
        self.stopped = true;
        self.onStatus("signed-out");
        return;
      }
      if (e.code === 4400 || e.code === 4404) { self.liveOnly = true; } // cursors unknown
      if (!navigator.onLine) { self.onStatus("offline"); return; }
      self.onStatus("reconnecting");
      self.timer = setTimeout(function () { self.connect(); }, self.delay);
      self.delay = Math.min(self.delay * 2, 15000);
    };
  };

  function statusReporter(el, texts) {
    var shown = null;
    return function (state) {
      clearTimeout(shown);
      if (!el) { return; }
      if (state === "live") { el.hidden = true; return; }
      // A short reconnect is not worth a flicker.
      shown = setTimeout(function () {
        el.textContent = texts[state] || texts.offline;
        el.hidden = false;
      }, state === "offline" ? 0 : 2500);
    };
  }

  // ---- the timeline -------------------------------------------------------------------

  function Timeline(tl) {
    var gid = tl.getAttribute("data-group");
    var newest = parseInt(tl.getAttribute("data-newest"), 10) || 0;
    var live = tl.getAttribute("data-live") === "yes";
    var fetching = false;
    var again = false;
    var queue = [];
    var flushing = false;
    var retryTimer = null;
    var readTimer = null;
    var status = document.getElementById("live-status");

    function nearBottom() {
      return window.innerHeight + window.scrollY >= document.body.scrollHeight - 160;
    }
    function toBottom() { window.scrollTo(0, document.body.scrollHeight); }

    function firstPending() { return tl.querySelector("li.pending"); }

    function markRead() {
      clearTimeout(readTimer);
      readTimer = setTimeout(function () {
        if (document.visibilityState === "visible" && newest > 0) {
          post("/g/" + gid + "/read", { seq: newest }).catch(function () {});
        }
      }, 800);
    }

    function applyRemoval(li) {
      var target = document.getElementById("e-" + li.getAttribute("data-removes"));
      if (!target) { return; }
      var text = target.querySelector(".body");
      var recalled = li.getAttribute("data-kind") === "message_recalled";
      var quote = target.querySelector(".quote");
      if (quote) { quote.remove(); }
      if (text) {
        text.textContent = tl.getAttribute(recalled ? "data-recalled" : "data-placeholder");
        text.classList.add("removed");
        text.removeAttribute("dir");
      }
      var more = target.querySelector(".more");
      if (more) { more.remove(); }
    }

    function insert(items) {
      var stick = nearBottom();
      var composerChanged = false;
      var noticeChanged = false;
      Array.prototype.slice.call(items.querySelectorAll("li.entry")).forEach(function (li) {
        var seq = parseInt(li.getAttribute("data-seq"), 10);
        if (!(seq > newest) || document.getElementById("e-" + seq)) { return; }
        var txn = li.getAttribute("data-txn");
        if (txn) {
          var mine = tl.querySelector('li.pending[data-pending-txn="' + txn + '"]');
          if (mine) { mine.remove(); }
        }
        if (li.hasAttribute("data-removes")) { applyRemoval(li); }
        if (li.getAttribute("data-kind") !== "message") { composerChanged = true; }
        if (li.getAttribute("data-kind") === "notice_pinned") { noticeChanged = true; }
        tl.insertBefore(li, firstPending());
        newest = seq;
      });
      if (composerChanged) { refreshComposer(); }
      if (noticeChanged) { refreshNotice(); }
      if (stick) { toBottom(); }
      markRead();
    }

    // Fetch everything after the newest entry shown; one fetch at a time.
    function catchUp() {
      if (!live) { return; }
      if (fetching) { again = true; return; }
      fetching = true;
      getHtml("/g/" + gid + "/entries?after=" + newest).then(function (r) {
        var items = fragment(r.text);
        var count = items.querySelectorAll("li.entry").length;
        insert(items);
        if (count >= 200) { again = true; }
      }).catch(function () {}).then(function () {
        fetching = false;
        if (again) { again = false; catchUp(); }
      });
    }

    // The pinned notice changed: swap in the server's rendering of it (escaped there).
    function refreshNotice() {
      var holder = document.getElementById("group-notice");
      if (!holder) { return; }
      getHtml("/g/" + gid + "/notice").then(function (r) {
        if (r.res.ok) { holder.replaceChildren(fragment(r.text)); }
      }).catch(function () {});
    }

    function refreshComposer() {
      var holder = document.getElementById("composer");
      if (!holder) { return; }
      var old = holder.querySelector("textarea");
      var draft = old ? old.value : "";
      getHtml("/g/" + gid + "/composer").then(function (r) {
        holder.replaceChildren(fragment(r.text));
        var area = holder.querySelector("textarea");
        if (area && draft) { area.value = draft; }
        bindComposer();
      }).catch(function () {});
    }

    // ---- sending ----
    function addPending(item) {
      var li = document.createElement("li");
      li.className = "entry msg mine pending";
      li.setAttribute("data-pending-txn", item.txn);
      var p = document.createElement("p");
      p.className = "body";
      p.setAttribute("dir", "auto");
      p.textContent = item.body;
      var note = document.createElement("p");
      note.className = "meta pending-note";
      note.textContent = tl.getAttribute("data-pending");
      li.appendChild(p);
      li.appendChild(note);
      tl.appendChild(li);
      toBottom();
      return li;
    }

    function showError(text) {
      var el = document.querySelector("#composer .send-error");
      if (!el) { return; }
      el.textContent = text || "";
      el.hidden = !text;
    }

    function startSlowWait(seconds) {
      var wait = document.querySelector("#composer .slow-wait");
      var button = document.querySelector("#send-form button[type=submit]");
      if (!wait || !button || !(seconds > 0)) { return; }
      var until = Date.now() + seconds * 1000;
      var shown = wait.querySelector(".slow-seconds");
      wait.hidden = false;
      button.disabled = true;
      (function tick() {
        var left = Math.ceil((until - Date.now()) / 1000);
        if (left <= 0 || !document.body.contains(wait)) {
          wait.hidden = true;
          button.disabled = false;
          return;
        }
        shown.textContent = String(left);
        setTimeout(tick, 250);
      })();
    }

    function flush() {
      if (flushing || !queue.length) { return; }
      flushing = true;
      clearTimeout(retryTimer);
      var item = queue[0];
      post("/g/" + gid + "/send", { body: item.body, client_txn_id: item.txn })
        .then(function (res) {
          if (res.status >= 500) { throw new Error("server " + res.status); }
          return res.json().then(function (doc) { return { res: res, doc: doc }; });
        })
        .then(function (r) {
          queue.shift();
          if (r.res.ok) {
            item.li.querySelector(".pending-note").textContent = "";
            showError("");
            var slow = document.querySelector("#composer .slow");
            if (slow) { startSlowWait(parseInt(slow.getAttribute("data-slow"), 10)); }
            catchUp();
          } else {
            // Refused: say why, in the user's language, and give the text back.
            item.li.classList.add("failed");
            item.li.classList.remove("pending");
            item.li.querySelector(".pending-note").textContent =
              tl.getAttribute("data-failed") + ": " + (r.doc.detail || "");
            showError(r.doc.detail || "");
            var area = document.querySelector("#send-form textarea");
            if (area && !area.value) { area.value = item.body; }
            if (r.doc.code === "slow_mode") { startSlowWait(r.doc.retry_after); }
            if (r.doc.status === 403 || r.doc.status === 409) { refreshComposer(); }
          }
          flushing = false;
          flush();
        })
        .catch(function () {
          // The network failed: keep the message and its client_txn_id, and try again.
          flushing = false;
          item.li.querySelector(".pending-note").textContent = tl.getAttribute("data-offline");
          retryTimer = setTimeout(flush, 3000);
        });
    }
    window.addEventListener("online", flush);

    function bindComposer() {
      var form = document.getElementById("send-form");
      if (!form) { return; }
      var area = form.querySelector("textarea");
      var txnField = form.querySelector("input[name=client_txn_id]");
      form.addEventListener("submit", function (e) {
        e.preventDefault();
        var text = area.value;
        if (!text.trim()) { return; }
        var item = { body: text, txn: txnField.value };
        txnField.value = newTxn();
        area.value = "";
        item.li = addPending(item);
        queue.push(item);
        flush();
        area.focus();
      });
      area.addEventListener("keydown", function (e) {
        if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
          e.preventDefault();
          form.requestSubmit();
        }
      });
      var wait = form.parentNode.querySelector(".slow-wait");
      if (wait && !wait.hidden) { startSlowWait(parseInt(wait.getAttribute("data-wait"), 10)); }
    }

    // ---- older pages ----
    function bindOlder() {
      var link = document.querySelector("a[data-older]");
      if (!link) { return; }
      var loading = false;
      function load(e) {
        if (e) { e.preventDefault(); }
        if (loading) { return; }
        loading = true;
        var before = document.body.scrollHeight;
        getHtml(link.getAttribute("data-older")).then(function (r) {
          var items = fragment(r.text);
          var lis = items.querySelectorAll("li.entry");
          var first = tl.firstElementChild;
          Array.prototype.forEach.call(lis, function (li) {
            if (!document.getElementById(li.id)) { tl.insertBefore(li, first); }
          });
          window.scrollBy(0, document.body.scrollHeight - before);
          var oldest = tl.firstElementChild ? parseInt(tl.firstElementChild.getAttribute("data-seq"), 10) : 0;
          var floor = parseInt(r.res.headers.get("x-first-visible-seq") || "0", 10);
          if (!lis.length || oldest <= floor) {
            link.parentNode.remove();
          } else {
            link.setAttribute("data-older", "/g/" + gid + "/entries?before=" + oldest);
            link.setAttribute("href", "/g/" + gid + "?before=" + oldest);
          }
        }).catch(function () {}).then(function () { loading = false; });
      }
      link.addEventListener("click", load);
      if ("IntersectionObserver" in window) {
        new IntersectionObserver(function (seen) {
          if (seen[0].isIntersecting && document.body.contains(link)) { load(); }
        }).observe(link);
      }
    }

    bindComposer();
    bindOlder();
    if (live) {
      if (!location.hash) { toBottom(); }
      var cursors = parseCursors(tl.getAttribute("data-cursors"));
      cursors[gid] = newest;
      var texts = { offline: tl.getAttribute("data-offline"), reconnecting: tl.getAttribute("data-offline"),
        "signed-out": tl.getAttribute("data-offline") };
      new Stream(cursors, function (frame) {
        if (frame.type === "resync" || String(frame.group_id) === gid) { catchUp(); }
      }, statusReporter(status, texts));
      document.addEventListener("visibilitychange", markRead);
    }
  }

  // ---- my groups: unread counts, live ---------------------------------------------------

  function Inbox(list) {
    var me = body.getAttribute("data-me");
    new Stream(parseCursors(list.getAttribute("data-cursors")), function (frame) {
      if (frame.type !== "event") { return; }
      var li = list.querySelector('li[data-group="' + frame.group_id + '"]');
      if (!li) { return; }
      if (String(frame.sender_id) !== me) {
        var badge = li.querySelector(".unread");
        var n = (parseInt(badge.getAttribute("data-unread"), 10) || 0) + 1;
        badge.setAttribute("data-unread", String(n));
        badge.firstChild.textContent = String(n);
        badge.hidden = false;
      }
      if (frame.kind === "message" && frame.body) {
        li.querySelector(".inbox-last").textContent = frame.body.slice(0, 80);
      }
      list.insertBefore(li, list.firstElementChild);
    }, function () {});
  }

  var tl = document.getElementById("timeline");
  if (tl) { Timeline(tl); }
  var inbox = document.getElementById("inbox");
  if (inbox) { Inbox(inbox); }

  // ---- the review queue: j/k move, Enter opens; a case whose deadline passes is marked ----

  function Queue(table) {
    var rows = table.querySelectorAll("tr.case-row");
    var at = -1;
    function select(i) {
      if (!rows.length) { return; }
      at = Math.max(0, Math.min(rows.length - 1, i));
      rows.forEach(function (r, n) { r.classList.toggle("selected", n === at); });
      rows[at].querySelector("a.case-link").focus();
    }
    document.addEventListener("keydown", function (e) {
      var tag = (e.target && e.target.tagName) || "";
      if (tag === "INPUT" || tag === "SELECT" || tag === "TEXTAREA" || e.ctrlKey || e.metaKey || e.altKey) { return; }
      if (e.key === "j") { select(at + 1); e.preventDefault(); }
      else if (e.key === "k") { select(at - 1); e.preventDefault(); }
      else if (e.key === "Enter" && at >= 0 && tag !== "A" && tag !== "BUTTON") {
        window.location.href = rows[at].querySelector("a.case-link").getAttribute("href");
      }
    });
    setInterval(function () {
      rows.forEach(function (r) {
        var t = r.querySelector("[data-countdown-to]");
        if (t && Date.parse(t.getAttribute("data-countdown-to")) <= Date.now()) { r.classList.add("overdue"); }
      });
    }, 1000);
  }
  var queue = document.getElementById("queue");
  if (queue) { Queue(queue); }
})();

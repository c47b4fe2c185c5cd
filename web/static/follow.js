// Watching a live session (web/templates/follow.html): a read-only
// xterm.js terminal fed from the console's /sessions/NAME/follow/stream,
// which relays sessions/NAME/attach as the signed-in person: an asciicast
// v2 document, line by line. Only the session's output ("o") is written
// into the terminal; resizes ("r") resize it; Janus's notices ("m") are
// listed beside it as text; input ("i"), if any, is never shown. Nothing
// typed here is sent anywhere: the terminal takes no input and the page
// opens no connection but the stream. window.janusFollow holds its state,
// for the browser tests.
(() => {
  'use strict';
  const root = document.getElementById('follow');
  if (!root) return;
  const status = root.querySelector('[data-testid="follow-state"]');
  const failure = root.querySelector('[data-testid="follow-error"]');
  const ended = root.querySelector('[data-testid="follow-ended"]');
  const list = root.querySelector('[data-testid="markers"]');
  const notices = root.querySelector('[data-testid="notices"]');
  const form = root.querySelector('[data-testid="terminate-form"]');
  const box = root.querySelector('[data-testid="follow-term"]');

  const term = new Terminal({
    disableStdin: true, cursorBlink: false, cursorStyle: 'underline', scrollback: 5000,
    convertEol: false, fontSize: 13, theme: { background: '#0d1117', foreground: '#e6edf3' },
  });
  term.open(box);
  const follow = { term, events: 0, outputBytes: 0, markers: [], ended: false, error: null, lastOutputAt: 0 };
  window.janusFollow = follow;

  // fit scales the font so the session's columns fit the page's width
  // (a phone's too), down to 8px; below that the terminal scrolls sideways.
  function fit() {
    const width = box.clientWidth - 8;
    if (width <= 0) return;
    const size = Math.max(8, Math.min(14, Math.floor(width / (term.cols * 0.6))));
    if (term.options.fontSize !== size) term.options.fontSize = size;
  }
  window.addEventListener('resize', fit);

  function resize(data) {
    const m = /^(\d+)x(\d+)$/.exec(String(data));
    if (!m) return;
    const cols = Math.min(500, Math.max(2, Number(m[1]))), rows = Math.min(200, Math.max(1, Number(m[2])));
    term.resize(cols, rows);
    fit();
  }

  function say(state, text) {
    status.dataset.state = state;
    status.textContent = text;
  }

  function fail(e) {
    follow.error = e;
    failure.querySelector('.code').textContent = (e.code || '') + ' ' + (e.reason || '');
    failure.querySelector('.message').textContent = e.message || '';
    failure.hidden = false;
    say('failed', 'not following');
  }

  function notice(t, text) {
    follow.markers.push(String(text));
    const li = document.createElement('li');
    li.textContent = String(text);
    list.append(li);
    notices.hidden = false;
  }

  function handle(line, first) {
    if (!line) return;
    let ev;
    try { ev = JSON.parse(line); } catch (ignored) { return; }
    if (first) {
      if (ev && ev.width && ev.height) resize(ev.width + 'x' + ev.height);
      return;
    }
    if (!Array.isArray(ev)) return;
    follow.events++;
    switch (ev[1]) {
      case 'o':
        follow.outputBytes += String(ev[2]).length;
        follow.lastOutputAt = performance.timeOrigin + performance.now();
        term.write(String(ev[2]));
        break;
      case 'r': resize(ev[2]); break;
      case 'm': notice(ev[0], ev[2]); break;
    }
  }

  async function stateOfSession() {
    try {
      const res = await fetch(root.dataset.state, { credentials: 'same-origin' });
      return res.ok ? await res.json() : null;
    } catch (ignored) { return null; }
  }

  async function finish() {
    const s = await stateOfSession();
    if (s && s.phase === 'Open') return false;
    follow.ended = true;
    say('ended', 'ended');
    ended.querySelector('[data-testid="follow-ended-why"]').textContent =
      'The session ended' + (s && s.endReason ? ': ' + s.endReason : '.');
    ended.hidden = false;
    if (form) form.hidden = true;
    return true;
  }

  async function run() {
    const decoder = new TextDecoder();
    let retries = 0;
    for (;;) {
      let res;
      try {
        res = await fetch(root.dataset.stream, { credentials: 'same-origin', headers: { Accept: 'application/x-asciicast' } });
      } catch (err) {
        fail({ reason: 'Unavailable', message: 'The console could not be reached: ' + err });
        return;
      }
      // 409: the session ended before the stream opened.
      if (res.status === 409 && await finish()) return;
      // 503: another replica relays it, or this one restarted: ask again.
      if (res.status === 503 && retries++ < 5) {
        say('connecting', 'reconnecting…');
        await new Promise(r => setTimeout(r, 1000));
        continue;
      }
      if (!res.ok) {
        const text = await res.text();
        let e;
        try { e = JSON.parse(text); } catch (ignored) { e = { code: res.status, reason: res.statusText, message: text }; }
        fail(e);
        return;
      }
      retries = 0;
      // Each stream starts with the header and the recent output: a fresh screen.
      term.reset();
      say('live', 'live');
      const reader = res.body.getReader();
      let pending = '', first = true;
      try {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          pending += decoder.decode(value, { stream: true });
          let nl;
          while ((nl = pending.indexOf('\n')) >= 0) {
            handle(pending.slice(0, nl), first);
            first = false;
            pending = pending.slice(nl + 1);
          }
        }
      } catch (ignored) { /* the stream broke: ask how the session is */ }
      handle(pending, first);
      if (await finish()) return;
      say('connecting', 'reconnecting…');
      await new Promise(r => setTimeout(r, 1000));
    }
  }
  fit();
  run();
})();

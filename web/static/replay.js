// The session replay (web/templates/replay.html): fetches the recording
// from the console, which reads sessions/NAME/recording as the signed-in
// person, and plays it in asciinema-player. A refusal is shown in the
// API's own words. Janus's notices (the recording's "m" events) are
// markers on the player's timeline and listed below it as text, each
// seeking the player to its moment. window.janusReplay holds the player,
// for the browser tests.
(() => {
  'use strict';
  const root = document.getElementById('replay');
  if (!root) return;
  const box = root.querySelector('.player');
  const state = root.querySelector('[data-testid="player-state"]');
  const failure = root.querySelector('[data-testid="recording-error"]');
  const body = root.querySelector('[data-testid="replay-body"]');
  const notices = root.querySelector('[data-testid="notices"]');
  const list = root.querySelector('[data-testid="markers"]');

  function fail(e) {
    failure.querySelector('.code').textContent = (e.code || '') + ' ' + (e.reason || '');
    failure.querySelector('.message').textContent = e.message || '';
    failure.hidden = false;
    state.textContent = 'The recording cannot be played.';
    body.hidden = true;
    window.janusReplay = { error: e };
  }

  // markersOf reads Janus's notices from the asciicast: [time, text].
  function markersOf(text) {
    const out = [];
    text.split('\n').slice(1).forEach(line => {
      if (!line) return;
      try {
        const ev = JSON.parse(line);
        if (Array.isArray(ev) && ev[1] === 'm') out.push([Number(ev[0]), String(ev[2])]);
      } catch (ignored) { /* a torn last line of a running session */ }
    });
    return out;
  }

  function clock(s) {
    const m = Math.floor(s / 60), r = Math.floor(s % 60);
    return m + ':' + String(r).padStart(2, '0');
  }

  fetch(root.dataset.recording, { credentials: 'same-origin', headers: { Accept: 'application/x-asciicast' } })
    .then(async res => {
      const text = await res.text();
      if (!res.ok) {
        let e;
        try { e = JSON.parse(text); } catch (ignored) { e = { code: res.status, reason: res.statusText, message: text }; }
        fail(e);
        return;
      }
      const markers = markersOf(text);
      const player = AsciinemaPlayer.create({ data: text }, box, {
        fit: 'width', idleTimeLimit: 2, preload: true, controls: true, terminalFontSize: '14px',
      });
      window.janusReplay = { player, markers, text };
      state.textContent = 'Press play, or pick a notice to jump to it. Idle stretches are cut to 2 seconds.';
      markers.forEach(([t, label]) => {
        const li = document.createElement('li');
        const b = document.createElement('button');
        b.type = 'button';
        b.className = 'link';
        b.textContent = clock(t);
        b.addEventListener('click', () => { player.seek(t); });
        const span = document.createElement('span');
        span.textContent = ' ' + label;
        li.append(b, span);
        list.append(li);
      });
      notices.hidden = markers.length === 0;
    })
    .catch(err => fail({ code: '', reason: 'Unavailable', message: 'The console could not be reached: ' + err }));
})();

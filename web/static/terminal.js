// The console's browser terminal (web/templates/terminal.html): one
// xterm.js terminal per pane, speaking v5.channel.k8s.io over a websocket
// to the console, which relays it to Janus's accessrequests/NAME/exec as the
// signed-in person. window.janusTerminals holds each pane's terminal, for
// the browser tests to read xterm's buffer through its API.
(() => {
  'use strict';

  // xterm.js's DOM renderer writes its generated CSS into <style> elements,
  // which the console's CSP (style-src 'self') blocks. On this page those
  // elements are <janus-sheet>s instead: their CSS goes into a constructed
  // stylesheet adopted by the document, which the CSP allows.
  class JanusSheet extends HTMLElement {
    constructor() { super(); this._sheet = new CSSStyleSheet(); this._css = ''; }
    get sheet() { return this._sheet; }
    get textContent() { return this._css; }
    set textContent(css) { this._css = String(css); this._sheet.replaceSync(this._css); }
    connectedCallback() { document.adoptedStyleSheets = [...document.adoptedStyleSheets, this._sheet]; }
    disconnectedCallback() { document.adoptedStyleSheets = document.adoptedStyleSheets.filter(s => s !== this._sheet); }
  }
  customElements.define('janus-sheet', JanusSheet);
  const createElement = document.createElement.bind(document);
  document.createElement = (tag, options) => String(tag).toLowerCase() === 'style' ? createElement('janus-sheet') : createElement(tag, options);
  // Its cells (spans) get selected text's background and 24-bit colours as
  // a style attribute, which the CSP (style-src-attr) blocks too; on this
  // page that attribute is set through CSSOM instead, which it allows.
  const setAttribute = Element.prototype.setAttribute;
  HTMLSpanElement.prototype.setAttribute = function (name, value) {
    if (String(name).toLowerCase() === 'style') { this.style.cssText = String(value); return; }
    setAttribute.call(this, name, value);
  };

  const STDIN = 0, STDOUT = 1, STDERR = 2, STATUS = 3, RESIZE = 4;

  // The coloured prompt typed into each new shell (cyan user@host, blue
  // path), unless the person turned it off; the screen is cleared after
  // it. The leading space keeps it out of a shell's history.
  const PROMPT_KEY = 'janus.colouredPrompt';
  const promptOn = () => localStorage.getItem(PROMPT_KEY) !== 'off';
  const PROMPT = ' if [ -n "$BASH_VERSION" ]; then PS1=\'\\[\\e[36m\\]\\u@\\h\\[\\e[0m\\]:\\[\\e[34m\\]\\w\\[\\e[0m\\]\\$ \'; ' +
    'else PS1="$(printf \'\\033[36m\')$(id -un 2>/dev/null || echo user)@$(hostname 2>/dev/null || echo pod)$(printf \'\\033[0m\'):$(printf \'\\033[34m\')\\$PWD$(printf \'\\033[0m\')$([ "$(id -u 2>/dev/null)" = 0 ] && echo \'#\' || echo \'$\') "; fi; ' +
    'printf \'\\033[H\\033[2J\\033[3J\'\r';
  const encoder = new TextEncoder(), decoder = new TextDecoder();
  window.janusTerminals = [];

  const page = document.getElementById('terminal-page');
  if (!page) return;
  const request = page.dataset.request;

  // hasClear: data holds the screen clear the prompt ends with (ESC [ 2 J).
  function hasClear(data) {
    for (let i = 0; i + 3 < data.length; i++) {
      if (data[i] === 0x1b && data[i + 1] === 0x5b && data[i + 2] === 0x32 && data[i + 3] === 0x4a) return true;
    }
    return false;
  }

  function frame(channel, bytes) {
    const msg = new Uint8Array(bytes.length + 1);
    msg[0] = channel;
    msg.set(bytes, 1);
    return msg;
  }

  // Text from the API is shown on the terminal as text, never as escapes.
  const printable = s => String(s).replace(/[\u0000-\u001f\u007f-\u009f]/g, '?');

  // Why a session ended, in words, from the final Status on channel 3.
  function why(status, closeEvent) {
    if (!status) return `The connection closed (${closeEvent.code}${closeEvent.reason ? ' ' + closeEvent.reason : ''}) before Janus said why.`;
    if (status.status === 'Success') return 'The shell exited (status 0).';
    if (status.reason === 'NonZeroExitCode') {
      const code = (status.details && status.details.causes || []).find(c => c.reason === 'ExitCode' || c.type === 'ExitCode');
      return `The shell exited (status ${code ? code.message : '?'}).`;
    }
    if (status.code) return `${status.code} ${status.reason || ''}: ${status.message}`;
    return status.message || 'The session ended.';
  }

  async function requestState() {
    const res = await fetch(`/requests/${encodeURIComponent(request)}/terminal/state`, {headers: {Accept: 'application/json'}});
    if (!res.ok) throw new Error(`the console answered ${res.status}`);
    return res.json();
  }

  function socketURL(pane) {
    const q = new URLSearchParams({namespace: pane.dataset.namespace, pod: pane.dataset.pod, command: pane.dataset.shell || 'sh'});
    if (pane.dataset.container) q.set('container', pane.dataset.container);
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    return `${scheme}//${location.host}/requests/${encodeURIComponent(request)}/terminal/ws?${q}`;
  }

  function openPane(pane) {
    const term = new Terminal({
      cursorBlink: true, fontSize: 14, scrollback: 5000, convertEol: false,
      fontFamily: 'ui-monospace, "SFMono-Regular", Menlo, Consolas, "DejaVu Sans Mono", monospace',
      // A search match stays plainly marked while the search box has focus.
      theme: {background: '#0d1117', foreground: '#e6edf3', cursor: '#e6edf3', selectionBackground: '#264f78', selectionInactiveBackground: '#3b5a85'},
    });
    const fit = new FitAddon.FitAddon();
    term.loadAddon(fit);
    const search = new SearchAddon.SearchAddon();
    term.loadAddon(search);
    const box = pane.querySelector('.term');
    term.open(box);
    const entry = {term, pane, ws: null, status: null, ended: false, sentBytes: 0};
    window.janusTerminals.push(entry);
    const refit = () => { if (box.clientWidth > 0 && box.clientHeight > 0) fit.fit(); };
    refit();
    new ResizeObserver(refit).observe(box);
    pane.querySelector('.reconnect').addEventListener('click', () => connect(entry));
    if (term.textarea) term.textarea.addEventListener('focus', () => { lastFocused = entry; });
    pane.querySelector('.pane-logs').addEventListener('click', () => showSide(pane));
    entry.search = search;
    tools(entry);
    connect(entry);
    return entry;
  }

  // The pane's tools: search in the scrollback (the search addon), copy
  // the selection and paste into the shell (the async clipboard). Their
  // shortcuts take Shift, so Ctrl+C, Ctrl+F and Ctrl+V still reach the shell.
  function tools(entry) {
    const {term, pane, search} = entry;
    const form = pane.querySelector('.pane-search'), box = form.elements.q, state = form.querySelector('.search-state');
    const say = (text, miss) => { state.textContent = text; state.classList.toggle('miss', !!miss); };
    const find = back => {
      const q = box.value;
      if (!q) { say(''); return false; }
      const found = back ? search.findPrevious(q) : search.findNext(q);
      say(found ? '' : 'not found', !found);
      return found;
    };
    const openSearch = () => {
      form.hidden = false;
      const sel = term.getSelection();
      if (sel && !sel.includes('\n')) box.value = sel;
      box.focus();
      box.select();
    };
    const closeSearch = () => { form.hidden = true; say(''); search.clearDecorations(); term.focus(); };
    const copy = async () => {
      const sel = term.getSelection();
      if (!sel) return false;
      try { await navigator.clipboard.writeText(sel); setState(entry, 'copied'); return true; } catch (e) { setState(entry, 'copy refused by the browser'); return false; }
    };
    const paste = async () => {
      if (entry.ended) return false;
      let text;
      try { text = await navigator.clipboard.readText(); } catch (e) { setState(entry, 'paste refused by the browser'); return false; }
      if (text) term.paste(text);
      term.focus();
      return true;
    };
    entry.find = find; entry.copy = copy; entry.paste = paste;
    // Enter is taken on keydown (Shift+Enter too); the form itself never
    // submits, so an Enter is one step, not two.
    form.addEventListener('submit', ev => ev.preventDefault());
    form.querySelector('.search-next').addEventListener('click', () => find(false));
    box.addEventListener('keydown', ev => {
      if (ev.key === 'Enter') { ev.preventDefault(); find(ev.shiftKey); } else if (ev.key === 'Escape') { ev.preventDefault(); closeSearch(); }
    });
    form.querySelector('.search-prev').addEventListener('click', () => find(true));
    form.querySelector('.search-close').addEventListener('click', closeSearch);
    pane.querySelector('.pane-find').addEventListener('click', openSearch);
    pane.querySelector('.pane-copy').addEventListener('click', () => { copy(); });
    pane.querySelector('.pane-paste').addEventListener('click', () => { paste(); });
    const shortcuts = {KeyF: openSearch, KeyC: copy, KeyV: paste};
    term.attachCustomKeyEventHandler(ev => {
      const act = ev.ctrlKey && ev.shiftKey && !ev.altKey && !ev.metaKey && shortcuts[ev.code];
      if (!act) return true;
      if (ev.type === 'keydown') { ev.preventDefault(); act(); }
      return false;
    });
  }

  function setState(entry, text) { entry.pane.querySelector('.pane-state').textContent = text; }

  function connect(entry) {
    const {term, pane} = entry;
    const ended = pane.querySelector('.ended');
    ended.hidden = true;
    pane.classList.remove('is-ended');
    entry.status = null;
    entry.ended = false;
    // ready: the shell has printed its (coloured) prompt and takes typing.
    entry.ready = false;
    // prompted: the prompt was typed; cleared: the screen clear after it
    // came back, so what shows next is the new prompt.
    let prompted = false, cleared = false, readyTimer = null;
    const becomeReady = () => { if (entry.ready) return; entry.ready = true; clearTimeout(readyTimer); watchPrompt.dispose(); };
    const watchPrompt = term.onWriteParsed(() => {
      if (!prompted || !cleared) return;
      const buf = term.buffer.active;
      const line = buf.getLine(buf.baseY + buf.cursorY).translateToString(true).trimEnd();
      if (/[#$]$/.test(line) && !/PS1=/.test(line)) becomeReady();
    });
    term.options.disableStdin = false;
    setState(entry, 'connecting…');
    const ws = new WebSocket(socketURL(pane), ['v5.channel.k8s.io']);
    ws.binaryType = 'arraybuffer';
    entry.ws = ws;
    const send = msg => { if (ws.readyState === WebSocket.OPEN) { ws.send(msg); entry.sentBytes += msg.length - 1; } };
    const sendSize = () => send(frame(RESIZE, encoder.encode(JSON.stringify({Width: term.cols, Height: term.rows}))));
    const typing = term.onData(d => send(frame(STDIN, encoder.encode(d))));
    const typingBinary = term.onBinary(d => send(frame(STDIN, Uint8Array.from(d, c => c.charCodeAt(0) & 0xff))));
    const resizing = term.onResize(sendSize);
    ws.onopen = () => { setState(entry, 'connected'); sendSize(); term.focus(); };
    ws.onmessage = ev => {
      const data = new Uint8Array(ev.data);
      if (data.length === 0) return;
      switch (data[0]) {
        case STDOUT: case STDERR:
          term.write(data.subarray(1));
          if (prompted && !cleared && hasClear(data)) cleared = true;
          if (!prompted) {
            prompted = true;
            if (promptOn()) {
              send(frame(STDIN, encoder.encode(PROMPT)));
              // Should the prompt never show (an odd shell), the pane still
              // takes typing after a while; long enough for a loaded machine.
              readyTimer = setTimeout(becomeReady, 10000);
            } else {
              becomeReady();
            }
          }
          break;
        case STATUS:
          try { entry.status = JSON.parse(decoder.decode(data.subarray(1))); } catch (e) { entry.status = {status: 'Failure', message: 'an unreadable final status'}; }
          break;
      }
    };
    ws.onclose = ev => {
      typing.dispose(); typingBinary.dispose(); resizing.dispose(); watchPrompt.dispose(); clearTimeout(readyTimer);
      if (entry.ws !== ws) return;
      entry.ended = true;
      term.options.disableStdin = true;
      const text = why(entry.status, ev);
      // Janus's own last words ("janus: access revoked by …") are on the
      // terminal already; anything else is written there too.
      const said = entry.status && (entry.status.status === 'Success' || /^janus: /.test(entry.status.message || ''));
      if (!said) term.write(`\r\n\x1b[31m${printable(text)}\x1b[0m\r\n`);
      setState(entry, 'ended');
      pane.classList.add('is-ended');
      pane.querySelector('.ended-why').textContent = text;
      ended.hidden = false;
      const reconnect = pane.querySelector('.reconnect');
      reconnect.hidden = true;
      requestState().then(s => {
        showPhase(s);
        // Reconnecting helps only while the request is Active, and not
        // when the API refused this person the terminal.
        const refused = entry.status && (entry.status.code === 401 || entry.status.code === 403);
        reconnect.hidden = s.phase !== 'Active' || refused;
      }).catch(() => {});
    };
  }

  // The phase and the time left on the request, kept current.
  function showPhase(s) {
    page.dataset.phase = s.phase;
    page.dataset.expires = s.expiresAt || '';
    const badge = page.querySelector('[data-testid="phase"]');
    badge.textContent = s.phase;
    badge.className = `phase phase-${s.phase}`;
    tick();
  }

  const WARN_BEFORE = 5 * 60 * 1000;
  function tick() {
    const left = page.querySelector('.time-left');
    const ends = Date.parse(page.dataset.expires || '');
    if (page.dataset.phase !== 'Active' || isNaN(ends)) { left.textContent = ''; left.classList.remove('warn'); return; }
    const ms = ends - Date.now();
    if (ms <= 0) { left.textContent = 'ending now'; left.classList.add('warn'); return; }
    const m = Math.floor(ms / 60000), s = Math.floor(ms / 1000) % 60;
    const h = Math.floor(m / 60);
    const text = h > 0 ? `${h}h ${m % 60}m` : `${m}m ${String(s).padStart(2, '0')}s`;
    const warn = ms <= WARN_BEFORE;
    left.textContent = warn ? `ends in ${text}: the terminal closes then` : `ends in ${text}`;
    left.classList.toggle('warn', warn);
  }
  tick();
  setInterval(tick, 1000);
  // An extension or a revocation changes the end: ask again now and then.
  setInterval(() => requestState().then(showPhase).catch(() => {}), 30000);

  let lastFocused = null;

  // The sidebar: a pane's pod's log (followed) and Events, read as the
  // person through accessrequests/log and /events.
  const side = page.querySelector('.side');
  let sideAbort = null;
  const MAX_LOG = 256 * 1024;
  function podQuery(pane, extra) {
    const q = new URLSearchParams({namespace: pane.dataset.namespace, pod: pane.dataset.pod, ...extra});
    if (pane.dataset.container) q.set('container', pane.dataset.container);
    return q;
  }
  async function apiWords(res) {
    try { const e = await res.json(); return `${e.code || res.status} ${e.reason || ''}: ${e.message || ''}`; } catch (e) { return `the console answered ${res.status}`; }
  }
  async function streamLog(pane, signal) {
    const log = side.querySelector('.log');
    log.textContent = '';
    const follow = side.querySelector('.follow').checked;
    const res = await fetch(`/requests/${encodeURIComponent(request)}/terminal/logs?${podQuery(pane, follow ? {follow: '1'} : {})}`, {signal});
    if (!res.ok) { log.textContent = `The log is not shown: the API answered ${await apiWords(res)}`; return; }
    const reader = res.body.getReader();
    for (;;) {
      const {value, done} = await reader.read();
      if (done) break;
      const stick = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
      log.textContent = (log.textContent + decoder.decode(value, {stream: true})).slice(-MAX_LOG);
      if (stick) log.scrollTop = log.scrollHeight;
    }
  }
  async function listEvents(pane, signal) {
    const list = side.querySelector('.events');
    list.replaceChildren();
    const res = await fetch(`/requests/${encodeURIComponent(request)}/terminal/events?${podQuery(pane, {})}`, {signal});
    const item = text => { const li = document.createElement('li'); li.textContent = text; list.append(li); return li; };
    if (!res.ok) { item(`Events are not shown: the API answered ${await apiWords(res)}`).className = 'hint'; return; }
    const body = await res.json();
    if (!body.items.length) { item('No Events.').className = 'empty'; return; }
    body.items.forEach(e => {
      const li = item(`${e.type} ${e.reason}${e.count > 1 ? ' ×' + e.count : ''}: ${e.message}`);
      if (e.type === 'Warning') li.className = 'warn';
      if (e.last) li.title = e.last;
    });
  }
  function showSide(pane) {
    if (!side) return;
    if (sideAbort) sideAbort.abort();
    sideAbort = new AbortController();
    side.hidden = false;
    side.querySelector('.side-pod').textContent = `${pane.dataset.namespace}/${pane.dataset.pod}`;
    side.pane = pane;
    const signal = sideAbort.signal;
    streamLog(pane, signal).catch(() => {});
    listEvents(pane, signal).catch(() => {});
  }
  if (side) {
    side.querySelector('.side-close').addEventListener('click', () => { if (sideAbort) sideAbort.abort(); side.hidden = true; });
    side.querySelector('.follow').addEventListener('change', () => { if (side.pane) showSide(side.pane); });
  }
  page.querySelectorAll('.pane[data-pod]').forEach(openPane);

  // Quick commands: the Cluster's shared ones and the person's own, kept in
  // this browser; a click types the command into the pane last used.
  function runCommand(command) {
    const live = window.janusTerminals.filter(e => !e.ended && e.ws && e.ws.readyState === WebSocket.OPEN);
    const entry = live.includes(lastFocused) ? lastFocused : live[0];
    if (!entry) return;
    entry.term.input(command + '\r');
    entry.term.focus();
  }
  page.querySelectorAll('.quick-command').forEach(b => b.addEventListener('click', () => runCommand(b.dataset.command)));
  const OWN = 'janus.quickCommands';
  const ownBox = page.querySelector('.own-commands');
  const loadOwn = () => { try { const v = JSON.parse(localStorage.getItem(OWN) || '[]'); return Array.isArray(v) ? v : []; } catch (e) { return []; } };
  function showOwn() {
    if (!ownBox) return;
    ownBox.replaceChildren();
    loadOwn().forEach((c, i) => {
      const run = document.createElement('button');
      run.type = 'button'; run.className = 'secondary quick-command own';
      run.textContent = c.name; run.title = c.command; run.dataset.testid = `own-${c.name}`;
      run.addEventListener('click', () => runCommand(c.command));
      const drop = document.createElement('button');
      drop.type = 'button'; drop.className = 'link drop'; drop.textContent = '×';
      drop.setAttribute('aria-label', `Forget ${c.name}`);
      drop.addEventListener('click', () => { const all = loadOwn(); all.splice(i, 1); localStorage.setItem(OWN, JSON.stringify(all)); showOwn(); });
      ownBox.append(run, drop);
    });
  }
  const ownForm = page.querySelector('.own-command-form');
  if (ownForm) {
    ownForm.addEventListener('submit', ev => {
      ev.preventDefault();
      const name = ownForm.elements.name.value.trim(), command = ownForm.elements.command.value.trim();
      if (!name || !command) return;
      const all = loadOwn().filter(c => c.name !== name).concat([{name, command}]).slice(-20);
      localStorage.setItem(OWN, JSON.stringify(all));
      ownForm.reset();
      showOwn();
    });
  }
  showOwn();
  const promptBox = page.querySelector('.prompt-choice');
  if (promptBox) {
    promptBox.checked = promptOn();
    promptBox.addEventListener('change', () => localStorage.setItem(PROMPT_KEY, promptBox.checked ? 'on' : 'off'));
  }

  // Split: a second pod of the namespace beside the first, in a session of
  // its own (at most MAX_PANES panes).
  const MAX_PANES = 4;
  const split = page.querySelector('.split');
  const paneTemplate = document.getElementById('pane-template');
  if (split && paneTemplate) {
    split.addEventListener('submit', ev => {
      ev.preventDefault();
      const panes = page.querySelector('.panes');
      const first = panes.querySelector('.pane');
      const pod = split.elements.pod.value.trim();
      if (!pod || panes.children.length >= MAX_PANES) return;
      const pane = paneTemplate.content.firstElementChild.cloneNode(true);
      Object.assign(pane.dataset, {namespace: first.dataset.namespace, pod, container: '', shell: first.dataset.shell});
      pane.setAttribute('aria-label', `Terminal in ${pod}`);
      pane.querySelector('.pane-name').textContent = `${first.dataset.namespace}/${pod} · ${first.dataset.shell}`;
      panes.appendChild(pane);
      split.elements.pod.value = '';
      split.hidden = panes.children.length >= MAX_PANES;
      openPane(pane);
    });
  }
})();

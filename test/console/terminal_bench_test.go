package console

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/gorilla/websocket"
)

// echoWatcher measures in the page, with the page's own clock, from the
// moment xterm.js hands a keystroke to the terminal (onData) to the moment
// the pod's echo of it is parsed into xterm's buffer (onWriteParsed), so
// neither the test's polling nor Chromium's DevTools protocol is counted.
const echoWatcher = `(() => {
  const e = janusTerminals[0], t = e.term;
  const x = window.__echo = {samples: [], arrivals: [], t0: 0, tMsg: 0, want: ''};
  t.onData(() => { if (!x.t0) { x.t0 = performance.now(); x.tMsg = 0; } });
  const relayed = e.ws.onmessage;
  e.ws.onmessage = ev => { if (x.t0 && !x.tMsg) x.tMsg = performance.now(); relayed(ev); };
  t.onWriteParsed(() => {
    if (!x.t0) return;
    // The cursor's line, with the lines it wrapped from (the prompt is long).
    const buf = t.buffer.active;
    let y = buf.baseY + buf.cursorY, text = buf.getLine(y).translateToString(true);
    while (y > 0 && buf.getLine(y).isWrapped) { y--; text = buf.getLine(y).translateToString(true) + text; }
    if (text.endsWith(x.want)) {
      x.samples.push(performance.now() - x.t0);
      x.arrivals.push(x.tMsg - x.t0);
      x.t0 = 0;
    }
  });
  return true;
})()`

// BenchmarkKeystrokeToEchoInTheBrowser: alice's terminal in the demo pod,
// through janus-console, Janus's exec and the agent; each iteration types
// one key and waits for the pod's terminal to echo it into xterm's buffer.
// p50 and p99 of keystroke-to-echo in the browser, and of the same echo
// over the console's websocket from Go (no browser), to tell the
// browser's share from the relay's, and of kubectl janus exec's way in
// (no console), in the same run.
func BenchmarkKeystrokeToEchoInTheBrowser(b *testing.B) {
	ctx := context.Background()
	name := activeTerminalRequest(b, ctx, "benchmark: keystroke to echo")
	alice := newBrowser(b, "alice")
	alice.signIn("alice")
	alice.openTerminal(terminalPath(name), 0)
	alice.waitPrompt()
	get(alice, "watching echoes", chromedp.Evaluate[bool](echoWatcher))

	const letters = "abcdefghijklmnopqrstuvwxyz"
	n := 0
	for b.Loop() {
		if n > 0 && n%40 == 0 {
			// A fresh line now and then; the shell takes ": …" for a no-op.
			b.StopTimer()
			alice.typeInto(0, "\r")
			alice.waitPrompt()
			get(alice, "a fresh line", chromedp.Evaluate[bool](`(window.__echo.want = '', true)`))
			b.StartTimer()
		}
		key := string(letters[n%len(letters)])
		switch n % 40 {
		case 0:
			key = ":"
		case 1:
			key = " "
		}
		get(alice, "expecting the echo", chromedp.Evaluate[bool](fmt.Sprintf(`(window.__echo.want += %q, true)`, key)))
		alice.typeInto(0, key)
		n++
		alice.waitJS("the echo of "+key, fmt.Sprintf(`window.__echo.samples.length >= %d`, n), 10*time.Second)
	}
	b.StopTimer()
	ms := get(alice, "reading the samples", chromedp.Evaluate[[]float64](`window.__echo.samples`))
	reportQuantiles(b, "browser-echo", ms)
	reportQuantiles(b, "browser-arrival", get(alice, "reading the arrivals", chromedp.Evaluate[[]float64](`window.__echo.arrivals`)))
	reportQuantiles(b, "websocket-echo", websocketEchoes(b, alice, name, min(n, 200)))
	reportQuantiles(b, "kubectl-janus-exec-echo", kubectlJanusEchoes(b, name, min(n, 200)))
	heap, goroutines := memoryPerTerminal(b, alice)
	b.ReportMetric(heap, "console-heap-KiB/terminal")
	b.ReportMetric(goroutines, "console-goroutines/terminal")
	b.ReportMetric(0, "ns/op")
}

// memoryPerTerminal opens terminals over the console's websocket (four
// on each of two more requests: Janus allows four sessions per request)
// and reports the console's heap and goroutines per open terminal. The
// console runs in this process (consoleenv), so the measure also holds
// the test's own small websocket clients.
func memoryPerTerminal(b *testing.B, alice *browser) (heapKiB, goroutines float64) {
	b.Helper()
	ctx := context.Background()
	var conns []*websocket.Conn
	defer func() {
		for _, c := range conns {
			_ = c.Close()
		}
	}()
	var names []string
	for i := range 2 {
		names = append(names, activeTerminalRequest(b, ctx, fmt.Sprintf("benchmark: memory per terminal, %d", i)))
	}
	heapBefore, goBefore := heapInUse()
	for _, name := range names {
		for range 4 {
			conn := dialTerminal(b, alice, name)
			conns = append(conns, conn)
			waitOutput(b, conn, "# ")
		}
	}
	heapAfter, goAfter := heapInUse()
	n := float64(len(conns))
	b.Logf("%d open terminals: console heap %+.0f KiB (%.0f KiB each), goroutines %+d (%.1f each)", len(conns),
		float64(heapAfter-heapBefore)/1024, float64(heapAfter-heapBefore)/1024/n, goAfter-goBefore, float64(goAfter-goBefore)/n)
	return float64(heapAfter-heapBefore) / 1024 / n, float64(goAfter-goBefore) / n
}

func heapInUse() (uint64, int) {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse, runtime.NumGoroutine()
}

// dialTerminal opens a terminal in the demo pod over the console's
// websocket, as alice with her cookie from the console's origin.
func dialTerminal(b *testing.B, alice *browser, name string) *websocket.Conn {
	b.Helper()
	cookie := alice.sessionCookie()
	url := "ws" + strings.TrimPrefix(consoleURL, "http") + fmt.Sprintf("/requests/%s/terminal/ws?namespace=payments&pod=%s&command=sh", name, demoPod)
	d := websocket.Dialer{Subprotocols: []string{"v5.channel.k8s.io"}, HandshakeTimeout: 10 * time.Second}
	conn, _, err := d.Dial(url, http.Header{"Origin": {consoleURL}, "Cookie": {cookie.Name + "=" + cookie.Value}})
	if err != nil {
		b.Fatalf("opening a terminal over the console's websocket: %v", err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(time.Minute))
	if err := conn.WriteMessage(websocket.BinaryMessage, append([]byte{4}, `{"Width":80,"Height":24}`...)); err != nil {
		b.Fatalf("sizing the terminal: %v", err)
	}
	return conn
}

// waitOutput reads conn's stdout until it ends with want.
func waitOutput(b *testing.B, conn *websocket.Conn, want string) {
	b.Helper()
	var seen bytes.Buffer
	for !bytes.HasSuffix(seen.Bytes(), []byte(want)) {
		_, msg, err := conn.ReadMessage()
		if err != nil {
			b.Fatalf("reading the terminal (waiting for %q after %q): %v", want, seen.String(), err)
		}
		if len(msg) > 0 && msg[0] == 1 {
			seen.Write(msg[1:])
		}
	}
}

// waitPrompt waits for the shell's prompt at the end of pane 0's cursor
// line.
func (b *browser) waitPrompt() {
	b.t.Helper()
	b.waitJS("the shell's prompt", `(() => { const buf = janusTerminals[0].term.buffer.active; return /[#$]$/.test(buf.getLine(buf.baseY + buf.cursorY).translateToString(true).trim()); })()`, 10*time.Second)
}

// websocketEchoes types n keys into a terminal of its own over the
// console's websocket, as alice with her cookie from the console's origin,
// and times each echo (ms).
func websocketEchoes(b *testing.B, alice *browser, name string, n int) []float64 {
	b.Helper()
	cookie := alice.sessionCookie()
	url := "ws" + strings.TrimPrefix(consoleURL, "http") + fmt.Sprintf("/requests/%s/terminal/ws?namespace=payments&pod=%s&command=sh", name, demoPod)
	d := websocket.Dialer{Subprotocols: []string{"v5.channel.k8s.io"}, HandshakeTimeout: 10 * time.Second}
	conn, _, err := d.Dial(url, http.Header{"Origin": {consoleURL}, "Cookie": {cookie.Name + "=" + cookie.Value}})
	if err != nil {
		b.Fatalf("opening a terminal over the console's websocket: %v", err)
	}
	defer conn.Close()
	_ = conn.SetReadDeadline(time.Now().Add(time.Minute))
	send := func(channel byte, data string) {
		if err := conn.WriteMessage(websocket.BinaryMessage, append([]byte{channel}, data...)); err != nil {
			b.Fatalf("writing to the console's websocket: %v", err)
		}
	}
	var seen bytes.Buffer
	readUntil := func(want string) {
		for !bytes.HasSuffix(seen.Bytes(), []byte(want)) {
			_, msg, err := conn.ReadMessage()
			if err != nil {
				b.Fatalf("reading the console's websocket (waiting for %q after %q): %v", want, seen.String(), err)
			}
			if len(msg) > 0 && msg[0] == 1 {
				seen.Write(msg[1:])
			}
		}
	}
	send(4, `{"Width":80,"Height":24}`)
	readUntil("# ")
	send(0, ": ")
	readUntil(": ")
	var ms []float64
	for i := range n {
		key := string(rune('a' + i%26))
		began := time.Now()
		send(0, key)
		readUntil(key)
		ms = append(ms, float64(time.Since(began).Microseconds())/1000)
		if i%40 == 39 {
			// A fresh line; what is typed before the prompt is back could
			// be echoed ahead of it.
			send(0, "\r")
			readUntil("# ")
			send(0, ": ")
			readUntil(": ")
		}
	}
	return ms
}

func reportQuantiles(b *testing.B, unit string, ms []float64) {
	b.Helper()
	if len(ms) == 0 {
		b.Fatalf("no %s samples", unit)
	}
	slices.Sort(ms)
	q := func(p float64) float64 { return ms[min(len(ms)-1, int(p*float64(len(ms))))] }
	b.ReportMetric(q(0.50), unit+"-p50-ms")
	b.ReportMetric(q(0.99), unit+"-p99-ms")
	b.Logf("%s: %d samples, p50 %.2f ms, p99 %.2f ms, max %.2f ms", unit, len(ms), q(0.50), q(0.99), ms[len(ms)-1])
}

package kubectljanus

import (
	"bytes"
	"context"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"
)

// fakeClock is the replay's clock: a sleep only moves it on, and is noted.
type fakeClock struct {
	now    time.Time
	sleeps []time.Duration
	// cancel, when set, is called at the sleep with this index (Ctrl+C
	// during that pause).
	cancelAt int
	cancel   context.CancelFunc
}

func (c *fakeClock) Now() time.Time { return c.now }

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	c.sleeps = append(c.sleeps, d)
	if c.cancel != nil && len(c.sleeps) == c.cancelAt {
		c.cancel()
		return ctx.Err()
	}
	c.now = c.now.Add(d)
	return nil
}

func (c *fakeClock) player(speed float64, idleLimit time.Duration) player {
	return player{paced: true, speed: speed, idleLimit: idleLimit, now: c.Now, sleep: c.Sleep}
}

// timedCast is output at 0.5 s, a keystroke at 1 s, output at 3 s and
// 13 s, a resize and a notice at 13.25 s and the last output at 13.5 s.
var timedCast = castHeader("alice-x7k2p-s1") +
	`[0.5, "o", "$ "]` + "\n" +
	`[1.0, "i", "secret\r"]` + "\n" +
	`[3.0, "o", "ls\r\n"]` + "\n" +
	`[13.0, "o", "a b\r\n"]` + "\n" +
	`[13.1, "r", "120x40"]` + "\n" +
	`[13.25, "m", "janus: access revoked by carol: done"]` + "\n" +
	`[13.5, "o", "bye"]` + "\n"

func TestPlayKeepsThePausesDividedBySpeedAndCappedByIdleLimit(t *testing.T) {
	cases := []struct {
		name      string
		speed     float64
		idleLimit time.Duration
		want      []time.Duration
	}{
		// The keystroke at 1 s neither shows nor splits the pause
		// before the output at 3 s.
		{"as recorded", 1, 0, []time.Duration{500 * time.Millisecond, 2500 * time.Millisecond, 10 * time.Second, 250 * time.Millisecond, 250 * time.Millisecond}},
		{"twice as fast", 2, 0, []time.Duration{250 * time.Millisecond, 1250 * time.Millisecond, 5 * time.Second, 125 * time.Millisecond, 125 * time.Millisecond}},
		{"idle limit", 1, 2 * time.Second, []time.Duration{500 * time.Millisecond, 2 * time.Second, 2 * time.Second, 250 * time.Millisecond, 250 * time.Millisecond}},
		// The limit caps the pause as it is waited, after --speed.
		{"twice as fast with an idle limit", 2, time.Second, []time.Duration{250 * time.Millisecond, time.Second, time.Second, 125 * time.Millisecond, 125 * time.Millisecond}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			clock := &fakeClock{now: time.Unix(1767225600, 0)}
			p := clock.player(tc.speed, tc.idleLimit)
			var out bytes.Buffer
			if err := p.play(context.Background(), strings.NewReader(timedCast), &screen{out: &out}); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(clock.sleeps, tc.want) {
				t.Errorf("pauses %v, want %v", clock.sleeps, tc.want)
			}
			if want := "$ ls\r\na b\r\n[janus: access revoked by carol: done]\nbye"; out.String() != want {
				t.Errorf("played %q, want %q", out.String(), want)
			}
		})
	}
}

// TestPlayDoesNotLetSlowWritesAddUp: the replay is timed from its start,
// so time spent writing is taken off the next pause, and a pause already
// passed is not waited at all.
func TestPlayDoesNotLetSlowWritesAddUp(t *testing.T) {
	clock := &fakeClock{now: time.Unix(1767225600, 0)}
	p := clock.player(1, 0)
	out := &slowWriter{clock: clock, cost: 700 * time.Millisecond}
	doc := castHeader("alice-x7k2p-s1") + `[1, "o", "a"]` + "\n" + `[2, "o", "b"]` + "\n" + `[2.5, "o", "c"]` + "\n"
	if err := p.play(context.Background(), strings.NewReader(doc), &screen{out: out}); err != nil {
		t.Fatal(err)
	}
	// a at 1 s (written by 1.7 s), b due at 2 s, c due at 2.5 s but
	// b's write ended at 2.7 s.
	if want := []time.Duration{time.Second, 300 * time.Millisecond}; !reflect.DeepEqual(clock.sleeps, want) {
		t.Errorf("pauses %v, want %v", clock.sleeps, want)
	}
}

type slowWriter struct {
	clock *fakeClock
	cost  time.Duration
	bytes.Buffer
}

func (w *slowWriter) Write(p []byte) (int, error) {
	w.clock.now = w.clock.now.Add(w.cost)
	return w.Buffer.Write(p)
}

func TestPlayWithoutPacingWritesAtOnceAndExactly(t *testing.T) {
	clock := &fakeClock{now: time.Unix(1767225600, 0)}
	p := clock.player(1, 0)
	p.paced = false
	var out bytes.Buffer
	// Output that is not UTF-8 is stored as lone surrogates and played as
	// the bytes the session's terminal received.
	doc := castHeader("alice-x7k2p-s1") + `[0.5, "o", "\udcff\udcfe ok \u001b[1mbold"]` + "\n" + `[9, "o", "\r\n"]` + "\n"
	if err := p.play(context.Background(), strings.NewReader(doc), &screen{out: &out}); err != nil {
		t.Fatal(err)
	}
	if len(clock.sleeps) != 0 {
		t.Errorf("unpaced play paused %v", clock.sleeps)
	}
	if want := "\xff\xfe ok \x1b[1mbold\r\n"; out.String() != want {
		t.Errorf("played %q, want %q", out.String(), want)
	}
}

// TestNoticesAreEscapedAndDimmedOnALineOfTheirOwn: a notice quotes a
// reason someone typed; its control characters are shown, not sent.
func TestNoticesAreEscapedAndDimmedOnALineOfTheirOwn(t *testing.T) {
	doc := castHeader("alice-x7k2p-s1") +
		`[0.1, "o", "\u001b[31mred, no newline"]` + "\n" +
		`[0.2, "m", "janus: session terminated by bob: \u001b]0;pwned\u0007 stop\nnow \u009b2J"]` + "\n" +
		`[0.3, "m", "the grant expired"]` + "\n"
	for _, tc := range []struct {
		terminal bool
		want     string
	}{
		{false, "\x1b[31mred, no newline\n[janus: session terminated by bob: ^[]0;pwned^G stop now \\u009b2J]\n[janus: the grant expired]\n"},
		{true, "\x1b[31mred, no newline\r\n\x1b[0;2m[janus: session terminated by bob: ^[]0;pwned^G stop now \\u009b2J]\x1b[0m\r\n" +
			"\x1b[0;2m[janus: the grant expired]\x1b[0m\r\n" +
			// The end leaves the terminal with plain attributes and a cursor.
			"\x1b[0m\x1b[?25h"},
	} {
		var out bytes.Buffer
		p := player{}
		if err := p.play(context.Background(), strings.NewReader(doc), &screen{out: &out, terminal: tc.terminal}); err != nil {
			t.Fatal(err)
		}
		if out.String() != tc.want {
			t.Errorf("terminal=%v: played\n %q\nwant\n %q", tc.terminal, out.String(), tc.want)
		}
	}
}

// TestPlayStopsCleanlyOnCtrlC: an interrupted replay ends without an
// error and leaves the terminal usable.
func TestPlayStopsCleanlyOnCtrlC(t *testing.T) {
	api := newSessionAPI(t, closedSession("alice-x7k2p-s1", timedCast))
	api.recordings["alice-x7k2p-s1"] = timedCast
	server := httptest.NewServer(api)
	defer server.Close()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	clock := &fakeClock{now: time.Unix(1767225600, 0), cancel: cancel, cancelAt: 3}
	var out, errOut bytes.Buffer
	p := testPlayOptions(t, server, &out, &errOut)
	p.player.now, p.player.sleep = clock.Now, clock.Sleep
	p.terminal = func(any) bool { return true }
	if err := p.complete([]string{"alice-x7k2p-s1"}); err != nil {
		t.Fatal(err)
	}
	if err := p.run(ctx); err != nil {
		t.Errorf("play interrupted by Ctrl+C: %v, want no error", err)
	}
	if want := "$ ls\r\n\x1b[0m\x1b[?25h"; out.String() != want {
		t.Errorf("played %q, want what came before the pause and the terminal reset %q", out.String(), want)
	}
}

func TestPlayRawWritesTheDocumentAsStored(t *testing.T) {
	api := newSessionAPI(t, closedSession("alice-x7k2p-s1", timedCast))
	api.recordings["alice-x7k2p-s1"] = timedCast
	server := httptest.NewServer(api)
	defer server.Close()
	for _, flag := range []string{"--raw", "-ocast"} {
		if out, _, code := runAgainst(t, server, "play", "alice-x7k2p-s1", flag); code != 0 || out != timedCast {
			t.Errorf("play %s: exit %d, wrote %q, want the document", flag, code, out)
		}
	}
}

func TestPlayFlagsAreCheckedBeforeAnythingIsFetched(t *testing.T) {
	api := newSessionAPI(t)
	server := httptest.NewServer(api)
	defer server.Close()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"play", "s", "--speed", "0"}, "error: --speed must be more than 0, not 0"},
		{[]string{"play", "s", "--idle-limit", "-1s"}, "error: --idle-limit must not be negative, not -1s"},
		{[]string{"play", "s", "-o", "json"}, `error: --output "json": play writes only cast`},
		{[]string{"play"}, "error: accepts 1 arg(s), received 0"},
	} {
		_, stderr, code := runAgainst(t, server, tc.args...)
		if code != 1 || !strings.HasPrefix(stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %q, want it to start %q", tc.args, code, stderr, tc.want)
		}
	}
	if len(api.queries) != 0 {
		t.Errorf("bad flags still reached the server: %v", api.queries)
	}
}

func TestPlayOfAnUnknownSessionSaysNotFound(t *testing.T) {
	server := httptest.NewServer(newSessionAPI(t))
	defer server.Close()
	_, stderr, code := runAgainst(t, server, "play", "nope")
	if want := `Error from server (NotFound): sessions.janus.infroware.io "nope" not found` + "\n"; code != 1 || stderr != want {
		t.Errorf("exit %d, stderr %q, want %q", code, stderr, want)
	}
}

func TestPlayOfABrokenDocumentSaysWhere(t *testing.T) {
	doc := castHeader("alice-x7k2p-s1") + `[0.5, "o", "fine"]` + "\n" + `[1, "o"]` + "\n"
	api := newSessionAPI(t, closedSession("alice-x7k2p-s1", doc))
	api.recordings["alice-x7k2p-s1"] = doc
	server := httptest.NewServer(api)
	defer server.Close()
	out, stderr, code := runAgainst(t, server, "play", "alice-x7k2p-s1")
	if code != 1 || out != "fine" || !strings.Contains(stderr, "playing the recording of session alice-x7k2p-s1: line 3: reading an event: 2 fields, want 3") {
		t.Errorf("exit %d, stdout %q, stderr %q", code, out, stderr)
	}
}

func testPlayOptions(t *testing.T, server *httptest.Server, out, errOut *bytes.Buffer) *playOptions {
	t.Helper()
	o := testOptions(t, server, out, errOut)
	p := &playOptions{Options: o, terminal: func(any) bool { return false }, player: player{speed: 1, now: time.Now, sleep: sleepContext}}
	return p
}

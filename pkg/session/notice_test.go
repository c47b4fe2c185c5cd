package session

import (
	"testing"
	"time"
)

func TestSanitizeShowsControlCharactersInsteadOfActingOnThem(t *testing.T) {
	cases := map[string]string{
		"plain words: ok":  "plain words: ok",
		"ünïcödé and 漢字":   "ünïcödé and 漢字",
		"\x1b]0;title\x07": `\x1b]0;title\x07`,
		"\x1b[2Jclear":     `\x1b[2Jclear`,
		"line\r\nbreak":    `line\x0d\x0abreak`,
		"c1 \u009b31m":     `c1 \x9b31m`,
		"bidi \u202eevil":  `bidi \u202eevil`,
		"bad utf8 \xff":    `bad utf8 \xff`,
		"tab\there":        `tab\x09here`,
	}
	for in, want := range cases {
		if got := sanitize(in); got != want {
			t.Errorf("sanitize(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestIdleWarningAfter(t *testing.T) {
	for timeout, want := range map[time.Duration]time.Duration{
		15 * time.Minute: 14 * time.Minute,
		2 * time.Minute:  time.Minute,
		time.Minute:      30 * time.Second,
		2 * time.Second:  time.Second,
	} {
		if got := idleWarningAfter(timeout); got != want {
			t.Errorf("idleWarningAfter(%s) = %s, want %s", timeout, got, want)
		}
	}
}

func TestHumanDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		15 * time.Minute:           "15m",
		90 * time.Minute:           "1h30m",
		2 * time.Hour:              "2h",
		45 * time.Second:           "45s",
		1500 * time.Millisecond:    "2s",
		250 * time.Millisecond:     "250ms",
		time.Hour + 30*time.Second: "1h0m30s",
	} {
		if got := HumanDuration(d); got != want {
			t.Errorf("HumanDuration(%s) = %q, want %q", d, got, want)
		}
	}
}

func TestNoticeChannel(t *testing.T) {
	cases := []struct {
		stdout, stderr bool
		want           byte
	}{
		{true, true, channelStderr},
		{true, false, channelStdout},
		{false, false, 0},
	}
	for _, tc := range cases {
		if got := NoticeChannel(tc.stdout, tc.stderr); got != tc.want {
			t.Errorf("NoticeChannel(stdout %v, stderr %v) = %d, want %d", tc.stdout, tc.stderr, got, tc.want)
		}
	}
}

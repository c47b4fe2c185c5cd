package kubectljanus

import (
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	v1alpha1 "github.com/infroware/janus/pkg/apis/janus/v1alpha1"
)

func TestVerifyComparesTheRecordingWithItsSession(t *testing.T) {
	const name = "alice-x7k2p-s1"
	doc := castHeader(name) + `[0.5, "o", "$ "]` + "\n" + `[192.25, "o", "exit\r\n"]` + "\n"
	cases := []struct {
		name     string
		received string
		session  func(*v1alpha1.Session)
		want     []string
	}{
		{name: "as sealed", received: doc,
			want: []string{"session alice-x7k2p-s1: recording verified (" + sizeTextOf(doc) + ", sha256 " + sha256Hex(doc)[:12] + "…, 3 min 12 s, 2 events)"}},
		{name: "a byte changed", received: strings.Replace(doc, "exit", "exiT", 1),
			want: []string{"does not verify", "its sha256 is " + sha256Hex(strings.Replace(doc, "exit", "exiT", 1)) + ", the Session records " + sha256Hex(doc)}},
		{name: "cut short", received: doc[:len(doc)-1],
			want: []string{"does not verify", "it is " + strconv.Itoa(len(doc)-1) + " bytes, the Session records " + strconv.Itoa(len(doc)), "its sha256 is"}},
		{name: "not asciicast", received: "<html>proxy error</html>",
			want: []string{"does not verify", "it is not an asciicast v2 document: reading the header"}},
		{name: "a broken event", received: castHeader(name) + `[1, "o"]` + "\n",
			want: []string{"it is not an asciicast v2 document: line 2: reading an event: 2 fields, want 3"}},
		// Someone swapped in another session's recording and its digest.
		{name: "another session's header", received: strings.ReplaceAll(doc, `"pod":"api-0"`, `"pod":"db-0"`),
			session: func(se *v1alpha1.Session) {
				swapped := strings.ReplaceAll(doc, `"pod":"api-0"`, `"pod":"db-0"`)
				se.Status.Recording.SHA256, se.Status.Recording.Size = sha256Hex(swapped), int64(len(swapped))
			},
			want: []string{"does not verify", `its header names pod "db-0", the Session "api-0"`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			se := closedSession(name, doc)
			if tc.session != nil {
				tc.session(se)
			}
			got, err := verifyRecording(se, []byte(tc.received))
			if err != nil {
				got = err.Error()
			}
			for _, want := range tc.want {
				if !strings.Contains(got, want) {
					t.Errorf("verify said\n %s\nwant it to contain\n %s", got, want)
				}
			}
			if verified := err == nil; verified != (tc.name == "as sealed") {
				t.Errorf("verified %v", verified)
			}
		})
	}
}

func TestVerifyNeedsAClosedSessionWithADigest(t *testing.T) {
	closedNoDigest := closedSession("alice-x7k2p-s3", "")
	closedNoDigest.Status.Recording.SHA256 = ""
	api := newSessionAPI(t, openSessionObject("alice-x7k2p-s2"), closedNoDigest)
	server := httptest.NewServer(api)
	defer server.Close()
	for _, tc := range []struct{ session, want string }{
		{"alice-x7k2p-s2", "error: session alice-x7k2p-s2 is still open: its recording has no final digest until the session closes; verify it then\n"},
		{"alice-x7k2p-s3", "error: session alice-x7k2p-s3 is closed but records no digest of its recording, so there is nothing to verify it against\n"},
		{"nope", `Error from server (NotFound): sessions.janus.infroware.io "nope" not found` + "\n"},
	} {
		if _, stderr, code := runAgainst(t, server, "verify", tc.session); code != 1 || stderr != tc.want {
			t.Errorf("verify %s: exit %d, stderr %q, want %q", tc.session, code, stderr, tc.want)
		}
	}
}

func TestVerifyExitsZeroOnlyWhenTheRecordingVerifies(t *testing.T) {
	const name = "alice-x7k2p-s1"
	doc := castHeader(name) + `[0.5, "o", "$ "]` + "\n"
	api := newSessionAPI(t, closedSession(name, doc))
	api.recordings[name] = doc
	server := httptest.NewServer(api)
	defer server.Close()
	if out, _, code := runAgainst(t, server, "verify", name); code != 0 || !strings.HasPrefix(out, "session "+name+": recording verified (") {
		t.Errorf("verify of the sealed recording: exit %d, printed %q", code, out)
	}
	api.recordings[name] = strings.Replace(doc, "$ ", "# ", 1)
	if out, stderr, code := runAgainst(t, server, "verify", name); code != 1 || out != "" ||
		!strings.HasPrefix(stderr, "error: session "+name+": the recording does not verify:\n  its sha256 is ") {
		t.Errorf("verify of a changed recording: exit %d, stdout %q, stderr %q", code, out, stderr)
	}
}

func TestVerifyWritesSizesAndLengthsAsPeopleReadThem(t *testing.T) {
	for in, want := range map[int]string{0: "0 B", 1023: "1023 B", 1536: "1.5 KiB", 421888: "412 KiB", 5 << 20: "5.0 MiB"} {
		if got := sizeText(in); got != want {
			t.Errorf("sizeText(%d) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[float64]string{0: "0.0 s", 4.26: "4.3 s", 42: "42 s", 192.25: "3 min 12 s", 3725: "1 h 2 min 5 s"} {
		if got := lengthText(in); got != want {
			t.Errorf("lengthText(%g) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[int]string{7: "7", 999: "999", 2345: "2,345", 1234567: "1,234,567"} {
		if got := thousands(in); got != want {
			t.Errorf("thousands(%d) = %q, want %q", in, got, want)
		}
	}
}

func sizeTextOf(doc string) string { return sizeText(len(doc)) }

package validation

import (
	"fmt"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"

	"github.com/infroware/janus/pkg/apis/janus"
)

func validExecOptions() *janus.AccessRequestExecOptions {
	return &janus.AccessRequestExecOptions{
		Namespace: "payments",
		Pod:       "api-7d9f8.v2",
		Container: "app",
		Command:   []string{"sh", "-c", "ls /"},
		Stdin:     true,
		Stdout:    true,
		TTY:       true,
	}
}

func validLogOptions() *janus.AccessRequestLogOptions {
	return &janus.AccessRequestLogOptions{Namespace: "payments", Pod: "api-7d9f8", Container: "app"}
}

// streamOptionErrors renders errors as "field:Type" so a case states both
// where and what kind of problem is reported.
func streamOptionErrors(errs field.ErrorList) string {
	var out []string
	for _, e := range errs {
		out = append(out, fmt.Sprintf("%s:%s", e.Field, e.Type))
	}
	return strings.Join(out, ",")
}

func TestValidateAccessRequestExecOptionsAcceptsUsableOptions(t *testing.T) {
	cases := map[string]func(*janus.AccessRequestExecOptions){
		"terminal":                 func(*janus.AccessRequestExecOptions) {},
		"no container":             func(o *janus.AccessRequestExecOptions) { o.Container = "" },
		"stdout only":              func(o *janus.AccessRequestExecOptions) { o.Stdin, o.TTY, o.Stdout = false, false, true },
		"stdin only":               func(o *janus.AccessRequestExecOptions) { o.Stdout, o.TTY = false, false },
		"stdout and stderr":        func(o *janus.AccessRequestExecOptions) { o.Stdin, o.TTY, o.Stderr = false, false, true },
		"empty argument":           func(o *janus.AccessRequestExecOptions) { o.Command = []string{"echo", ""} },
		"1024 arguments":           func(o *janus.AccessRequestExecOptions) { o.Command = repeatArgs("a", MaxExecCommandArgs) },
		"65536 bytes of arguments": func(o *janus.AccessRequestExecOptions) { o.Command = commandOfBytes(MaxExecCommandBytes) },
		"pod name of 253":          func(o *janus.AccessRequestExecOptions) { o.Pod = strings.Repeat("a", 253) },
	}
	for name, mutate := range cases {
		t.Run(name, func(t *testing.T) {
			o := validExecOptions()
			mutate(o)
			if errs := ValidateAccessRequestExecOptions(o); len(errs) > 0 {
				t.Errorf("refused: %v", errs)
			}
		})
	}
}

func TestValidateAccessRequestExecOptionsRejectsBadOptions(t *testing.T) {
	cases := map[string]struct {
		mutate func(*janus.AccessRequestExecOptions)
		want   string
		detail string
	}{
		"namespace missing":         {mutate: func(o *janus.AccessRequestExecOptions) { o.Namespace = "" }, want: "namespace:Required value"},
		"namespace with a dot":      {mutate: func(o *janus.AccessRequestExecOptions) { o.Namespace = "pay.ments" }, want: "namespace:Invalid value"},
		"namespace with a slash":    {mutate: func(o *janus.AccessRequestExecOptions) { o.Namespace = "a/b" }, want: "namespace:Invalid value"},
		"pod missing":               {mutate: func(o *janus.AccessRequestExecOptions) { o.Pod = "" }, want: "pod:Required value"},
		"pod uppercase":             {mutate: func(o *janus.AccessRequestExecOptions) { o.Pod = "API" }, want: "pod:Invalid value"},
		"pod path traversal":        {mutate: func(o *janus.AccessRequestExecOptions) { o.Pod = "../secrets" }, want: "pod:Invalid value"},
		"pod name of 254":           {mutate: func(o *janus.AccessRequestExecOptions) { o.Pod = strings.Repeat("a", 254) }, want: "pod:Invalid value"},
		"container with a dot":      {mutate: func(o *janus.AccessRequestExecOptions) { o.Container = "app.v2" }, want: "container:Invalid value"},
		"container of 64":           {mutate: func(o *janus.AccessRequestExecOptions) { o.Container = strings.Repeat("a", 64) }, want: "container:Invalid value"},
		"command missing":           {mutate: func(o *janus.AccessRequestExecOptions) { o.Command = nil }, want: "command:Required value"},
		"command empty":             {mutate: func(o *janus.AccessRequestExecOptions) { o.Command = []string{} }, want: "command:Required value"},
		"1025 arguments":            {mutate: func(o *janus.AccessRequestExecOptions) { o.Command = repeatArgs("a", MaxExecCommandArgs+1) }, want: "command:Too many", detail: "1024"},
		"65537 bytes of arguments":  {mutate: func(o *janus.AccessRequestExecOptions) { o.Command = commandOfBytes(MaxExecCommandBytes + 1) }, want: "command:Too long", detail: "65536"},
		"NUL in the fourth element": {mutate: func(o *janus.AccessRequestExecOptions) { o.Command = []string{"sh", "-c", "x", "a\x00b"} }, want: "command[3]:Invalid value", detail: "NUL"},
		"no stream": {
			mutate: func(o *janus.AccessRequestExecOptions) {
				o.Stdin, o.Stdout, o.Stderr, o.TTY = false, false, false, false
			},
			want: "stdout:Required value", detail: "you must specify at least 1 of stdin, stdout, stderr",
		},
		"tty with stderr": {
			mutate: func(o *janus.AccessRequestExecOptions) { o.Stderr = true },
			want:   "stderr:Invalid value", detail: "tty and stderr cannot both be true",
		},
		"every problem at once": {
			mutate: func(o *janus.AccessRequestExecOptions) {
				*o = janus.AccessRequestExecOptions{Container: "A", TTY: true}
			},
			want: "namespace:Required value,pod:Required value,container:Invalid value,command:Required value,stdout:Required value",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			o := validExecOptions()
			tc.mutate(o)
			errs := ValidateAccessRequestExecOptions(o)
			if got := streamOptionErrors(errs); got != tc.want {
				t.Fatalf("errors %q, want %q (%v)", got, tc.want, errs)
			}
			if tc.detail != "" && !strings.Contains(errs.ToAggregate().Error(), tc.detail) {
				t.Errorf("message %q does not say %q", errs.ToAggregate().Error(), tc.detail)
			}
		})
	}
}

func TestValidateAccessRequestExecOptionsRejectsNULWithoutEchoingIt(t *testing.T) {
	errs := ValidateAccessRequestExecOptions(&janus.AccessRequestExecOptions{
		Namespace: "payments", Pod: "api", Command: []string{"sh", "-c", "echo hunter2\x00"}, Stdout: true,
	})
	if len(errs) != 1 {
		t.Fatalf("errors %v, want one", errs)
	}
	if msg := errs[0].Error(); strings.Contains(msg, "hunter2") {
		t.Errorf("message %q repeats the argument", msg)
	}
}

func TestValidateAccessRequestLogOptionsAcceptsUsableOptions(t *testing.T) {
	cases := map[string]func(*janus.AccessRequestLogOptions){
		"defaults":        func(*janus.AccessRequestLogOptions) {},
		"no container":    func(o *janus.AccessRequestLogOptions) { o.Container = "" },
		"zero tail lines": func(o *janus.AccessRequestLogOptions) { o.TailLines = ptr.To[int64](0) },
		"every option": func(o *janus.AccessRequestLogOptions) {
			o.Follow, o.Previous, o.Timestamps = true, true, true
			o.SinceSeconds, o.TailLines, o.LimitBytes = ptr.To[int64](1), ptr.To[int64](100), ptr.To[int64](1)
		},
	}
	for name, mutate := range cases {
		t.Run(name, func(t *testing.T) {
			o := validLogOptions()
			mutate(o)
			if errs := ValidateAccessRequestLogOptions(o); len(errs) > 0 {
				t.Errorf("refused: %v", errs)
			}
		})
	}
}

func TestValidateAccessRequestLogOptionsRejectsBadOptions(t *testing.T) {
	cases := map[string]struct {
		mutate func(*janus.AccessRequestLogOptions)
		want   string
		detail string
	}{
		"namespace missing":      {mutate: func(o *janus.AccessRequestLogOptions) { o.Namespace = "" }, want: "namespace:Required value"},
		"namespace uppercase":    {mutate: func(o *janus.AccessRequestLogOptions) { o.Namespace = "Payments" }, want: "namespace:Invalid value"},
		"pod missing":            {mutate: func(o *janus.AccessRequestLogOptions) { o.Pod = "" }, want: "pod:Required value"},
		"pod with a slash":       {mutate: func(o *janus.AccessRequestLogOptions) { o.Pod = "api/log" }, want: "pod:Invalid value"},
		"container with a space": {mutate: func(o *janus.AccessRequestLogOptions) { o.Container = "my app" }, want: "container:Invalid value"},
		"zero sinceSeconds":      {mutate: func(o *janus.AccessRequestLogOptions) { o.SinceSeconds = ptr.To[int64](0) }, want: "sinceSeconds:Invalid value", detail: "must be greater than 0"},
		"negative sinceSeconds":  {mutate: func(o *janus.AccessRequestLogOptions) { o.SinceSeconds = ptr.To[int64](-5) }, want: "sinceSeconds:Invalid value"},
		"negative tailLines":     {mutate: func(o *janus.AccessRequestLogOptions) { o.TailLines = ptr.To[int64](-1) }, want: "tailLines:Invalid value", detail: "must be greater than or equal to 0"},
		"zero limitBytes":        {mutate: func(o *janus.AccessRequestLogOptions) { o.LimitBytes = ptr.To[int64](0) }, want: "limitBytes:Invalid value", detail: "must be greater than 0"},
		"every bound at once": {
			mutate: func(o *janus.AccessRequestLogOptions) {
				o.SinceSeconds, o.TailLines, o.LimitBytes = ptr.To[int64](0), ptr.To[int64](-1), ptr.To[int64](-1)
			},
			want: "sinceSeconds:Invalid value,tailLines:Invalid value,limitBytes:Invalid value",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			o := validLogOptions()
			tc.mutate(o)
			errs := ValidateAccessRequestLogOptions(o)
			if got := streamOptionErrors(errs); got != tc.want {
				t.Fatalf("errors %q, want %q (%v)", got, tc.want, errs)
			}
			if tc.detail != "" && !strings.Contains(errs.ToAggregate().Error(), tc.detail) {
				t.Errorf("message %q does not say %q", errs.ToAggregate().Error(), tc.detail)
			}
		})
	}
}

func repeatArgs(arg string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = arg
	}
	return out
}

// commandOfBytes is a command of a few elements whose lengths add up to n.
func commandOfBytes(n int) []string {
	return []string{"sh", "-c", strings.Repeat("x", n-len("sh")-len("-c"))}
}

func TestReasonsRefuseWhatATerminalWouldAct(t *testing.T) {
	for _, reason := range []string{
		"\x1b]0;pwned\x07 cut",
		"\x1b[2J",
		"fixed\r\nalice$ sudo",
		"tab\there",
		"c1 \u009b31m",
		"bidi \u202eevil",
		"bad utf8 \xff",
	} {
		errs := ValidateRevocation(&janus.Revocation{Reason: reason})
		if len(errs) != 1 || errs[0].Field != "reason" {
			t.Errorf("reason %q: %v, want one error on reason", reason, errs)
		}
	}
	for _, reason := range []string{"INC-1234: payments 5xx", "ünïcödé, 漢字 and emoji 🚒", "replacement \uFFFD char"} {
		if errs := ValidateRevocation(&janus.Revocation{Reason: reason}); len(errs) != 0 {
			t.Errorf("reason %q refused: %v", reason, errs)
		}
	}
}

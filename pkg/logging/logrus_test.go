package logging

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"
	"github.com/sirupsen/logrus"
)

// recorded is a logr.Logger at verbosity v that keeps every line it is given.
func recorded(v int) (logr.Logger, *[]string) {
	var lines []string
	return funcr.New(func(prefix, args string) {
		lines = append(lines, prefix+" "+args)
	}, funcr.Options{Verbosity: v}), &lines
}

func TestLogrusLinesGoToKlogAtMatchingLevels(t *testing.T) {
	to, lines := recorded(0)
	l := logrus.New()
	var own bytes.Buffer
	l.SetOutput(&own)
	routeLogrus(l, to)

	l.WithError(errors.New("connection refused")).WithField("endpoint", "unix://kine.sock").Error("Failed to dial")
	l.Warn("Compaction is slow")
	l.WithField("sessions", 3).Info("Connected to proxy")
	l.Debug("Handling backend connection request")
	l.Trace("frame")

	got := strings.Join(*lines, "\n")
	for _, want := range []string{
		`"msg"="Failed to dial" "error"="connection refused" "endpoint"="unix://kine.sock"`,
		`"msg"="Compaction is slow" "severity"="warning"`,
		`"level"=0 "msg"="Connected to proxy" "sessions"=3`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("klog got\n%s\nwant a line with %s", got, want)
		}
	}
	if strings.Contains(got, "Handling backend") || strings.Contains(got, "frame") {
		t.Errorf("at -v=0 debug and trace lines must not be written; got\n%s", got)
	}
	if len(*lines) != 3 {
		t.Errorf("klog got %d lines, want 3:\n%s", len(*lines), got)
	}
	if own.Len() != 0 {
		t.Errorf("logrus still wrote %q to its own output", own.String())
	}
}

func TestLogrusDebugLinesNeedVerbosityFour(t *testing.T) {
	to, lines := recorded(4)
	l := logrus.New()
	l.SetOutput(&bytes.Buffer{})
	routeLogrus(l, to)
	if l.GetLevel() != logrus.DebugLevel {
		t.Errorf("at -v=4 logrus's level is %s, want debug", l.GetLevel())
	}
	l.Debug("Handling backend connection request")
	l.Trace("frame")
	got := strings.Join(*lines, "\n")
	if !strings.Contains(got, `"level"=4 "msg"="Handling backend connection request"`) {
		t.Errorf("at -v=4 the debug line is missing or at the wrong level:\n%s", got)
	}
	if strings.Contains(got, "frame") {
		t.Errorf("at -v=4 a trace line was written:\n%s", got)
	}
}

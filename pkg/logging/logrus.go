package logging

import (
	"fmt"
	"io"
	"sort"
	"sync"

	"github.com/go-logr/logr"
	"github.com/sirupsen/logrus"
	"k8s.io/klog/v2"
)

// Verbosity at which logrus's levels below Info are written: klog's -v=4
// shows kine's and remotedialer's debug lines, -v=6 their trace lines.
const (
	debugVerbosity = 4
	traceVerbosity = 6
)

var routeOnce sync.Once

// RouteLogrusToKlog sends every line written through logrus's standard
// logger — kine's and remotedialer's — to klog instead of logrus's own
// output. Errors stay errors, warnings and infos are infos at -v=0
// (warnings say so), debug lines need -v=4 and trace lines -v=6; logrus
// fields become key/value pairs. It takes effect once; later calls do
// nothing.
func RouteLogrusToKlog() {
	routeOnce.Do(func() { routeLogrus(logrus.StandardLogger(), klog.Background().WithName("logrus")) })
}

func routeLogrus(l *logrus.Logger, to logr.Logger) {
	l.SetOutput(io.Discard)
	l.SetFormatter(discardFormatter{})
	l.SetLevel(levelFor(to))
	l.ReplaceHooks(logrus.LevelHooks{})
	l.AddHook(klogHook{to: to})
}

// levelFor is the most verbose logrus level that klog would write, so
// logrus does not build lines klog would drop.
func levelFor(to logr.Logger) logrus.Level {
	switch {
	case to.V(traceVerbosity).Enabled():
		return logrus.TraceLevel
	case to.V(debugVerbosity).Enabled():
		return logrus.DebugLevel
	}
	return logrus.InfoLevel
}

// klogHook writes each logrus entry to a logr.Logger backed by klog.
type klogHook struct{ to logr.Logger }

func (klogHook) Levels() []logrus.Level { return logrus.AllLevels }

func (h klogHook) Fire(e *logrus.Entry) error {
	kv := fields(e.Data)
	switch e.Level {
	case logrus.PanicLevel, logrus.FatalLevel, logrus.ErrorLevel:
		var err error
		if v, ok := e.Data[logrus.ErrorKey].(error); ok {
			err = v
		}
		h.to.Error(err, e.Message, kv...)
	case logrus.WarnLevel:
		h.to.Info(e.Message, append([]any{"severity", "warning"}, kv...)...)
	case logrus.InfoLevel:
		h.to.Info(e.Message, kv...)
	case logrus.DebugLevel:
		h.to.V(debugVerbosity).Info(e.Message, kv...)
	default:
		h.to.V(traceVerbosity).Info(e.Message, kv...)
	}
	return nil
}

// fields are logrus's fields as sorted key/value pairs; the error of an
// error line is passed as the error, not again as a field.
func fields(data logrus.Fields) []any {
	keys := make([]string, 0, len(data))
	for k := range data {
		if k == logrus.ErrorKey {
			if _, ok := data[k].(error); ok {
				continue
			}
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	kv := make([]any, 0, 2*len(keys))
	for _, k := range keys {
		v := data[k]
		if s, ok := v.(fmt.Stringer); ok {
			v = s.String()
		}
		kv = append(kv, k, v)
	}
	return kv
}

// discardFormatter formats nothing: the hook has written the line.
type discardFormatter struct{}

func (discardFormatter) Format(*logrus.Entry) ([]byte, error) { return nil, nil }

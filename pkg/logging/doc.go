// Package logging sets up the logs of Janus's commands, once, in their
// Complete step: component-base's logs API (--logging-format text or
// json, -v, --vmodule), and a bridge that carries the logrus output of
// kine and remotedialer into klog at matching levels, so that every line
// a command writes has one format. It configures logging only; what a
// line says is for the code that logs it.
package logging

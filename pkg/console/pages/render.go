package pages

import (
	"bytes"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/klog/v2"

	"github.com/infroware/janus/pkg/console/live"
	"github.com/infroware/janus/pkg/console/signin"
)

// APIError is an error as the API returned it.
type APIError struct {
	Code    int32  `json:"code"`
	Reason  string `json:"reason"`
	Message string `json:"message"`
}

// APIErrorOf turns err into what a page shows: the API's own Status when
// there is one.
func APIErrorOf(err error) *APIError {
	var status apierrors.APIStatus
	if errors.As(err, &status) {
		s := status.Status()
		return &APIError{Code: s.Code, Reason: string(s.Reason), Message: s.Message}
	}
	return &APIError{Code: http.StatusBadGateway, Reason: "Unavailable", Message: err.Error()}
}

// page is what every template gets.
type page struct {
	Title    string
	Nav      string
	User     signin.Identity
	Notice   string
	APIError *APIError
	// Data is what the page's "content" template gets.
	Data any
	// Live, when set, keeps the content current without a reload.
	Live *live.Page
}

type renderer struct {
	pages map[string]*template.Template
	now   func() time.Time
}

func newRenderer(files fs.FS, now func() time.Time) (*renderer, error) {
	r := &renderer{pages: map[string]*template.Template{}, now: now}
	funcs := template.FuncMap{
		"join":     strings.Join,
		"rfc3339":  func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
		"relative": func(t time.Time) string { return Relative(t, r.now()) },
		// clock is an absolute time short enough for a phone's line.
		"clock": func(t time.Time) string { return t.UTC().Format("Jan 2 15:04:05 UTC") },
	}
	for _, name := range []string{"myrequests", "request", "approvals", "detail", "error", "signedout"} {
		// decisions.html holds the decision forms the Approvals and detail pages share.
		t, err := template.New(name).Funcs(funcs).ParseFS(files, "templates/layout.html", "templates/decisions.html", "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("parsing template %s: %w", name, err)
		}
		r.pages[name] = t
	}
	return r, nil
}

func (r *renderer) render(w http.ResponseWriter, status int, name string, p page) {
	var buf bytes.Buffer
	if err := r.pages[name].ExecuteTemplate(&buf, "layout", p); err != nil {
		klog.ErrorS(err, "Rendering a page", "page", name)
		http.Error(w, "rendering the page failed", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// renderAPIError shows err with the API's status code.
func (r *renderer) renderAPIError(w http.ResponseWriter, user signin.Identity, title, back string, err error) {
	e := APIErrorOf(err)
	status := int(e.Code)
	if status < 400 || status > 599 {
		status = http.StatusBadGateway
	}
	r.render(w, status, "error", page{Title: title, User: user, APIError: e, Data: struct{ Back string }{back}})
}

// Relative says when t is from now: "in 12m", "3m ago", "now".
func Relative(t, now time.Time) string {
	d := t.Sub(now)
	future := d > 0
	if !future {
		d = -d
	}
	var s string
	switch {
	case d < 30*time.Second:
		return "now"
	case d < time.Hour:
		s = fmt.Sprintf("%dm", int((d+30*time.Second)/time.Minute))
	case d < 48*time.Hour:
		h := int(d / time.Hour)
		m := int((d - time.Duration(h)*time.Hour + 30*time.Second) / time.Minute)
		if m == 60 {
			h, m = h+1, 0
		}
		if m == 0 {
			s = fmt.Sprintf("%dh", h)
		} else {
			s = fmt.Sprintf("%dh%dm", h, m)
		}
	default:
		s = fmt.Sprintf("%dd", int(d/(24*time.Hour)))
	}
	if future {
		return "in " + s
	}
	return s + " ago"
}

func timeOf(t *metav1.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.Time
}

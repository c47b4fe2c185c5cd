package terminal

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"k8s.io/klog/v2"

	"github.com/infroware/janus/pkg/apis/janus/v1alpha1"
	"github.com/infroware/janus/pkg/console/pages"
	"github.com/infroware/janus/pkg/console/signin"
	"github.com/infroware/janus/pkg/generated/clientset/versioned/scheme"
	"github.com/infroware/janus/pkg/targetreads"
)

// Bounds of the sidebar's log.
const (
	defaultTail = 200
	maxTail     = 5000
	// maxLogFollow is how long a followed log streams before the browser
	// asks again (passing sign-in and the API's gate again).
	maxLogFollow = 10 * time.Minute
)

// serveLogs streams a pod's log through accessrequests/NAME/log as the
// person, as plain text: ?namespace=&pod=[&container=][&tail=N][&follow=1].
func (h *Handler) serveLogs(w http.ResponseWriter, r *http.Request) {
	id, _ := signin.FromContext(r.Context())
	q := r.URL.Query()
	tail := int64(defaultTail)
	if s := q.Get("tail"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 || n > maxTail {
			writeStatus(w, &pages.APIError{Code: http.StatusBadRequest, Reason: "BadRequest", Message: "tail must be a number of lines from 0 to " + strconv.Itoa(maxTail)})
			return
		}
		tail = n
	}
	opts := &v1alpha1.AccessRequestLogOptions{
		Namespace: q.Get("namespace"), Pod: q.Get("pod"), Container: q.Get("container"),
		Follow: q.Get("follow") == "1", TailLines: &tail,
	}
	c, err := h.clients(id)
	if err != nil {
		writeStatus(w, pages.APIErrorOf(err))
		return
	}
	ctx := r.Context()
	if opts.Follow {
		var cancel func()
		ctx, cancel = context.WithTimeout(ctx, maxLogFollow)
		defer cancel()
	}
	stream, err := c.Janus.JanusV1alpha1().RESTClient().Get().
		Resource("accessrequests").Name(r.PathValue("name")).SubResource("log").
		VersionedParams(opts, scheme.ParameterCodec).Stream(ctx)
	if err != nil {
		writeStatus(w, pages.APIErrorOf(err))
		return
	}
	defer stream.Close()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	flusher, _ := w.(http.Flusher)
	buf := make([]byte, 16<<10)
	for {
		n, err := stream.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return
			}
			if flusher != nil {
				flusher.Flush()
			}
		}
		if err != nil {
			klog.V(4).InfoS("Log stream ended", "user", id.Username, "pod", opts.Pod, "err", err)
			return
		}
	}
}

// eventView is one Event as the sidebar lists it.
type eventView struct {
	Type    string `json:"type"`
	Reason  string `json:"reason"`
	Message string `json:"message"`
	Object  string `json:"object"`
	Count   int32  `json:"count"`
	Last    string `json:"last"`
}

// serveEvents lists the Events of a namespace or pod through
// accessrequests/NAME/events as the person, as JSON.
func (h *Handler) serveEvents(w http.ResponseWriter, r *http.Request) {
	id, _ := signin.FromContext(r.Context())
	c, err := h.clients(id)
	if err != nil {
		writeStatus(w, pages.APIErrorOf(err))
		return
	}
	q := r.URL.Query()
	list, err := targetreads.Events(r.Context(), c.Janus.JanusV1alpha1(), r.PathValue("name"), &v1alpha1.AccessRequestEventsOptions{Namespace: q.Get("namespace"), Pod: q.Get("pod")})
	if err != nil {
		writeStatus(w, pages.APIErrorOf(err))
		return
	}
	items := []eventView{}
	for _, e := range list.Items {
		last := e.LastTimestamp.Time
		if last.IsZero() {
			last = e.FirstTimestamp.Time
		}
		v := eventView{Type: e.Type, Reason: e.Reason, Message: e.Message, Count: e.Count, Object: e.InvolvedObject.Kind + "/" + e.InvolvedObject.Name}
		if !last.IsZero() {
			v.Last = last.UTC().Format(time.RFC3339)
		}
		items = append(items, v)
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(struct {
		Items     []eventView `json:"items"`
		Truncated bool        `json:"truncated,omitempty"`
	}{items, list.Truncated})
}

// writeStatus answers with the API's error as JSON, with its code.
func writeStatus(w http.ResponseWriter, e *pages.APIError) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(statusCode(e.Code))
	_ = json.NewEncoder(w).Encode(e)
}

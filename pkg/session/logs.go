package session

import (
	"bufio"
	"context"
	"net/http"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/klog/v2"
)

// ServeLog relays one log stream (pods/log at the agent, path and query as
// for Spec) over a stream connection of its own, flushing what arrives so
// that a followed log reads live. It ends when the user goes away or the
// agent ends the stream (the log ended, or the grant went).
func (e *Engine) ServeLog(w http.ResponseWriter, req *http.Request, cluster, path, query string, responder Responder) {
	ctx := req.Context()
	conn, err := e.cfg.Streams.OpenStream(ctx, cluster)
	if err != nil {
		responder.Error(streamError(cluster, err))
		return
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()

	out, _ := http.NewRequest(http.MethodGet, "http://agent"+path+"?"+query, nil)
	out.Header = http.Header{"Accept": {"*/*"}}
	resp, err := agentRequest(conn, bufio.NewReaderSize(conn, agentReadBuffer), out)
	if err != nil {
		responder.Error(apierrors.NewServiceUnavailable("the agent of cluster " + cluster + " did not open the log stream: " + err.Error()))
		return
	}
	if resp.StatusCode != http.StatusOK {
		responder.Error(answerError(resp))
		return
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "" {
		w.Header().Set("Content-Type", ct)
	}
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	flusher, _ := w.(http.Flusher)
	bp := copyBuffers.Get().(*[]byte)
	defer copyBuffers.Put(bp)
	buf := (*bp)[:cap(*bp)]
	for {
		n, err := resp.Body.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return
			}
			if flusher != nil {
				flusher.Flush()
			}
		}
		if err != nil {
			klog.V(4).InfoS("Log stream ended", "cluster", cluster, "path", path, "err", err)
			return
		}
	}
}

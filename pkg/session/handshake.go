package session

import (
	"bufio"
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/remotecommand"

	"github.com/infroware/janus/pkg/tunnel"
)

// execProtocols are the remote-command protocols a session may speak, in
// Janus's preference: both end with a Status on the error channel, which
// is how the engine tells a command that ended from a stream that was cut.
var execProtocols = []string{remotecommand.StreamProtocolV5Name, remotecommand.StreamProtocolV4Name}

// handshakeTimeout bounds the agent's answer to a stream's first request.
const handshakeTimeout = 30 * time.Second

// maxErrorBody bounds an error answer read from the agent.
const maxErrorBody = 64 << 10

// offeredProtocols returns the exec protocols the client offers, in its
// order; credentials smuggled in as protocols never pass.
func offeredProtocols(req *http.Request) []string {
	var out []string
	for _, p := range tunnel.StreamProtocols(req.Header.Values("Sec-Websocket-Protocol")) {
		for _, ok := range execProtocols {
			if p == ok {
				out = append(out, p)
			}
		}
	}
	return out
}

// acceptKey is the Sec-WebSocket-Accept answering key (RFC 6455 §4.2.2).
func acceptKey(key string) string {
	h := sha1.New()
	h.Write([]byte(key))
	h.Write([]byte("258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	return base64.StdEncoding.EncodeToString(h.Sum(nil))
}

// validKey reports whether key is a Sec-WebSocket-Key: 16 random bytes,
// base64-encoded.
func validKey(key string) bool {
	b, err := base64.StdEncoding.DecodeString(key)
	return err == nil && len(b) == 16
}

// agentRequest writes the first request of a stream to the agent and
// reads its answer. The answer's body, if any, is left in br.
func agentRequest(conn net.Conn, br *bufio.Reader, req *http.Request) (*http.Response, error) {
	if err := conn.SetDeadline(time.Now().Add(handshakeTimeout)); err != nil {
		return nil, err
	}
	if err := req.Write(conn); err != nil {
		return nil, fmt.Errorf("writing the stream request to the agent: %w", err)
	}
	resp, err := http.ReadResponse(br, req)
	if err != nil {
		return nil, fmt.Errorf("reading the agent's answer: %w", err)
	}
	if err := conn.SetDeadline(time.Time{}); err != nil {
		return nil, err
	}
	return resp, nil
}

// answerError turns an answer of the agent or the target that is not the
// stream into an API error the user can act on: the target's own Status
// (a 403 of its RBAC, a 404 for a missing pod) as it is, the agent's
// tunnel.Error with its code.
func answerError(resp *http.Response) error {
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt == "application/json" {
		var status metav1.Status
		if json.Unmarshal(body, &status) == nil && status.Kind == "Status" {
			return &apierrors.StatusError{ErrStatus: status}
		}
		var agentErr tunnel.Error
		if json.Unmarshal(body, &agentErr) == nil && agentErr.Message != "" {
			return apierrors.NewGenericServerResponse(resp.StatusCode, "", schemaResource, "", agentErr.Message, 0, false)
		}
	}
	msg := strings.TrimSpace(string(body))
	if msg == "" {
		msg = resp.Status
	}
	return apierrors.NewGenericServerResponse(resp.StatusCode, "", schemaResource, "", "the agent answered: "+msg, 0, false)
}

// upgradeResponse is the 101 that opens the user's websocket.
func upgradeResponse(key, protocol string) []byte {
	return []byte("HTTP/1.1 101 Switching Protocols\r\n" +
		"Upgrade: websocket\r\n" +
		"Connection: Upgrade\r\n" +
		"Sec-WebSocket-Accept: " + acceptKey(key) + "\r\n" +
		"Sec-WebSocket-Protocol: " + protocol + "\r\n\r\n")
}

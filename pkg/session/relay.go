package session

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/klog/v2"
)

// Channels of the remote-command websocket protocol: the first payload
// byte of a message.
const (
	channelStdout byte = 1
	channelStderr byte = 2
	channelError  byte = 3
)

const (
	// maxClientMessage bounds one message from the user (stdin, resize):
	// a terminal never sends more.
	maxClientMessage = 64 << 10
	// maxAgentFrame and maxAgentMessage bound what the agent sends. A
	// frame is streamed through, never held, so the bounds are not about
	// memory but about time: Janus's own notices wait for a message's end.
	maxAgentFrame   = 1 << 20
	maxAgentMessage = 4 << 20
	// maxStatusMessage bounds the command's final Status Janus reads.
	maxStatusMessage = 64 << 10
	// agentReadBuffer is the buffer the agent's connection is read
	// through: a full TLS record, so that bulk output moves a record per
	// read and per write. copyBufferSize holds a frame header and such a
	// record.
	agentReadBuffer = 16 << 10
	copyBufferSize  = maxRecordPayload
	// noticePatience is how long Janus's own words wait for a user who is
	// not reading before they are dropped.
	noticePatience = 5 * time.Second
)

var copyBuffers = sync.Pool{New: func() any { b := make([]byte, copyBufferSize); return &b }}

// relay is one exec session's two connections: the user's (hijacked from
// the aggregator's request) and the agent's.
type relay struct {
	engine *Engine
	spec   Spec
	obs    Observer
	ctx    context.Context
	// rec records what the user receives; nil records nothing.
	rec *sessionRecorder

	client  net.Conn
	clientR *bufio.Reader
	agent   net.Conn
	agentR  *bufio.Reader
	// toClient and toAgent gather what is written to each side.
	toClient, toAgent batchWriter

	// writing holds a token while a frame is written to the user: relayed
	// frames and Janus's notices come from different goroutines.
	writing chan struct{}

	in, out atomic.Int64
	idle    *idleTimer
	// commandStatus is the command's final Status message, once the agent
	// relayed it: the session then ended because the command did.
	commandStatus atomic.Pointer[[]byte]
	// terminated carries why the session is cut from outside: an
	// approver terminated it, or the replica was suspended.
	terminated <-chan termination
}

var (
	errUserClosed  = errors.New("closed by the user")
	errAgentClosed = errors.New("the agent closed the stream")
)

// NoticeChannel is where a session's user reads Janus's own lines:
// stderr, or stdout in a terminal session (kubectl exec -t asks for no
// stderr); 0 when the user reads neither.
func NoticeChannel(stdout, stderr bool) byte {
	switch {
	case stderr:
		return channelStderr
	case stdout:
		return channelStdout
	}
	return 0
}

// limitError is a message over one of the bounds.
type limitError struct{ who, what string }

func (e *limitError) Error() string { return e.who + " sent " + e.what }

// run relays until the session ends and says how it went.
func (r *relay) run() Summary {
	r.idle = newIdleTimer(r.engine.cfg.Clock, r.engine.cfg.IdleTimeout)
	defer r.idle.stop()
	ends, why := r.obs.AccessEnds(r.ctx)
	if why != "" {
		ends = r.engine.cfg.Clock.Now()
	}
	expiry := r.engine.cfg.Clock.NewTimer(r.untilEnd(ends))
	defer expiry.Stop()

	userDone := make(chan error, 1)
	agentDone := make(chan error, 1)
	go func() { userDone <- r.upstream() }()
	go func() { agentDone <- r.downstream() }()

	var s Summary
	upstreamOpen, downstreamOpen := true, true
	for s.Reason == "" {
		select {
		case err := <-userDone:
			upstreamOpen = false
			s.Reason, s.Cause = "closed by the user", EndUserClosed
			var limit *limitError
			switch {
			case errors.As(err, &limit):
				s.Reason, s.Cause = limit.Error(), EndLimit
				r.closeClient(closeTooBig)
			case errors.Is(err, errProtocol):
				s.Reason, s.Cause = "the user broke the websocket protocol: "+err.Error(), EndProtocolError
				r.closeClient(closeProtocolError)
			}
		case err := <-agentDone:
			downstreamOpen = false
			if status := r.commandStatus.Load(); status != nil {
				s.Reason, s.Cause = commandEnded(*status), EndCommand
				r.closeClient(closeNormal)
				break
			}
			s.Cut = true
			told := metav1.StatusReasonServiceUnavailable
			var limit *limitError
			switch {
			case errors.As(err, &limit):
				s.Reason, s.Cause = limit.Error(), EndLimit
			case errors.Is(err, errProtocol):
				s.Reason, s.Cause = "the agent broke the websocket protocol: "+err.Error(), EndProtocolError
			default:
				s.Reason, s.Cause = "connection to the pod lost", EndConnectionLost
				if _, why := r.obs.AccessEnds(r.ctx); why != "" {
					s.Reason, s.Cause, told = why, EndAccessEnded, metav1.StatusReasonForbidden
				}
			}
			r.tellUser(told, s.Reason)
		case t := <-r.terminated:
			s.Reason, s.Cause, s.Cut = t.why, t.cause, true
			downstreamOpen = !r.stopAgent(agentDone, downstreamOpen)
			r.tellUser(t.told, t.why)
		case <-r.rec.failed():
			s.Reason, s.Cause, s.Cut = recordingCut(r.rec), EndRecordingFailed, true
			downstreamOpen = !r.stopAgent(agentDone, downstreamOpen)
			r.tellUser(metav1.StatusReasonInternalError, s.Reason)
		case <-r.idle.C():
			switch r.idle.fired() {
			case idleWarning:
				r.notify(r.idle.warning())
			case idleExpired:
				s.Reason, s.Cause, s.Cut = "idle", EndIdle, true
				downstreamOpen = !r.stopAgent(agentDone, downstreamOpen)
				r.tellUser(metav1.StatusReasonTimeout, r.idle.closing())
			}
		case <-expiry.C():
			next, why := r.obs.AccessEnds(r.ctx)
			if why == "" {
				// Extended: the access ends later now.
				expiry.Reset(r.untilEnd(next))
				continue
			}
			s.Reason, s.Cause, s.Cut = why, EndAccessEnded, true
			downstreamOpen = !r.stopAgent(agentDone, downstreamOpen)
			r.tellUser(metav1.StatusReasonForbidden, why)
		}
	}
	r.agent.Close()
	r.client.Close()
	if upstreamOpen {
		<-userDone
	}
	if downstreamOpen {
		<-agentDone
	}
	s.BytesIn, s.BytesOut = r.in.Load(), r.out.Load()
	return s
}

// untilEnd is how long until the access ends at ends; a request without
// an end yet is looked at again in an hour.
func (r *relay) untilEnd(ends time.Time) time.Duration {
	if ends.IsZero() {
		return time.Hour
	}
	return ends.Sub(r.engine.cfg.Clock.Now())
}

// stopAgent ends the agent's side and waits for its relay to stop, so
// that nothing it relays can follow Janus's last words. It reports
// whether the downstream goroutine was waited for.
func (r *relay) stopAgent(agentDone <-chan error, open bool) bool {
	if !open {
		return false
	}
	// A user who is not reading must not keep the relay from stopping.
	_ = r.client.SetWriteDeadline(time.Now().Add(noticePatience))
	r.agent.Close()
	<-agentDone
	_ = r.client.SetWriteDeadline(time.Time{})
	return true
}

// commandEnded describes the command's own final Status.
func commandEnded(raw []byte) string {
	var status metav1.Status
	if json.Unmarshal(raw, &status) != nil || status.Status == metav1.StatusSuccess {
		return "command ended"
	}
	return sanitize("command failed: " + status.Message)
}

// upstream relays the user's frames to the agent until the user closes.
func (r *relay) upstream() error {
	var messageLen int64
	inMessage := false
	var tap payloadSeer
	recTap := &upstreamTap{rec: r.rec}
	for {
		h, err := readFrameHeader(r.clientR)
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || errors.Is(err, io.ErrUnexpectedEOF) {
				return errUserClosed
			}
			if errors.Is(err, errProtocol) {
				return err
			}
			return errUserClosed
		}
		if !h.masked {
			return fmt.Errorf("%w: the user's frames must be masked", errProtocol)
		}
		if !h.control() {
			if err := checkMessage(&h, &inMessage, &messageLen, maxClientMessage); err != nil {
				if errors.Is(err, errProtocol) {
					return err
				}
				return &limitError{"the user", err.Error()}
			}
			r.idle.touch()
			r.in.Add(h.length)
			sessionBytes.WithLabelValues("in").Add(float64(h.length))
		}
		tap = nil
		if r.rec != nil && !h.control() {
			recTap.begin(&h)
			tap = recTap
		}
		if err := forwardFrame(&h, r.clientR, &r.toAgent, tap); err != nil {
			return errUserClosed
		}
		if tap != nil && h.fin {
			recTap.end()
		}
		if r.clientR.Buffered() == 0 {
			if err := r.toAgent.Flush(); err != nil {
				return errUserClosed
			}
		}
		if h.opcode == opClose {
			return errUserClosed
		}
	}
}

// checkMessage follows the fragments of data messages and bounds them.
func checkMessage(h *frameHeader, inMessage *bool, length *int64, limit int64) error {
	switch {
	case h.opcode == opContinuation && !*inMessage:
		return fmt.Errorf("%w: a continuation frame outside a message", errProtocol)
	case h.opcode != opContinuation && *inMessage:
		return fmt.Errorf("%w: a new message inside a fragmented one", errProtocol)
	case h.opcode != opContinuation:
		*length = 0
	}
	*length += h.length
	if *length > limit {
		return fmt.Errorf("a message over %d bytes", limit)
	}
	*inMessage = !h.fin
	return nil
}

// downstream relays the agent's frames to the user until the agent
// closes, and notes the command's final Status as it passes.
func (r *relay) downstream() error {
	var messageLen int64
	inMessage := false
	status := statusTracker{rec: r.rec}
	for {
		if r.agentR.Buffered() == 0 {
			if err := r.flushToUser(); err != nil {
				return errAgentClosed
			}
		}
		h, err := readFrameHeader(r.agentR)
		if err != nil {
			if errors.Is(err, errProtocol) {
				return err
			}
			return errAgentClosed
		}
		if h.masked {
			return fmt.Errorf("%w: the agent's frames must not be masked", errProtocol)
		}
		if h.opcode == opClose {
			// The user's close comes from Janus, after the last word.
			_, _ = r.agentR.Discard(int(h.length))
			return errAgentClosed
		}
		tracker := &status
		if h.control() {
			tracker = nil
		} else {
			if h.length > maxAgentFrame {
				return &limitError{"the agent", fmt.Sprintf("a frame over %d bytes", maxAgentFrame)}
			}
			if err := checkMessage(&h, &inMessage, &messageLen, maxAgentMessage); err != nil {
				if errors.Is(err, errProtocol) {
					return err
				}
				return &limitError{"the agent", err.Error()}
			}
			r.idle.touch()
			r.out.Add(h.length)
			sessionBytes.WithLabelValues("out").Add(float64(h.length))
			status.newMessage = h.opcode != opContinuation
		}
		if err := r.toUser(&h, tracker); err != nil {
			return errAgentClosed
		}
		if tracker != nil && status.inStatus && h.fin {
			final := append([]byte(nil), status.payload...)
			r.commandStatus.Store(&final)
			status.inStatus = false
		}
	}
}

// statusTracker follows the agent's messages for the command's final
// Status on the error channel, and hands the recorder what the user
// receives on stdout and stderr.
type statusTracker struct {
	newMessage bool
	inStatus   bool
	payload    []byte

	rec       *sessionRecorder
	recording bool
}

// see is shown a frame's payload part by part.
func (s *statusTracker) see(first bool, payload []byte) {
	if first && s.newMessage {
		s.inStatus = len(payload) > 0 && payload[0] == channelError
		s.recording = len(payload) > 0 && (payload[0] == channelStdout || payload[0] == channelStderr)
		s.payload = s.payload[:0]
		if len(payload) > 0 {
			payload = payload[1:]
		}
	}
	if s.recording {
		s.rec.output(payload)
	}
	if s.inStatus && len(s.payload)+len(payload) <= maxStatusMessage {
		s.payload = append(s.payload, payload...)
	}
}

// payloadSeer is shown a forwarded frame's payload part by part.
type payloadSeer interface {
	see(first bool, payload []byte)
}

// toUser relays one frame to the user with the write token held.
func (r *relay) toUser(h *frameHeader, status *statusTracker) error {
	r.writing <- struct{}{}
	defer func() { <-r.writing }()
	var seer payloadSeer
	if status != nil {
		seer = status
	}
	return forwardFrame(h, r.agentR, &r.toClient, seer)
}

// flushToUser writes out what is gathered for the user.
func (r *relay) flushToUser() error {
	r.writing <- struct{}{}
	defer func() { <-r.writing }()
	return r.toClient.Flush()
}

// forwardFrame copies one frame, header and payload as they came, from
// src's buffer to dst, which it flushes before it waits for more of the
// frame. status, if set, is shown the payload.
func forwardFrame(h *frameHeader, src *bufio.Reader, dst *batchWriter, status payloadSeer) error {
	if _, err := dst.Write(h.raw[:h.size]); err != nil {
		return err
	}
	first := true
	for remaining := h.length; remaining > 0; {
		if src.Buffered() == 0 {
			if err := dst.Flush(); err != nil {
				return err
			}
			if _, err := src.Peek(1); err != nil {
				return err
			}
		}
		chunk, _ := src.Peek(int(min(int64(src.Buffered()), remaining)))
		if status != nil {
			status.see(first, chunk)
		}
		first = false
		if _, err := dst.Write(chunk); err != nil {
			return err
		}
		_, _ = src.Discard(len(chunk))
		remaining -= int64(len(chunk))
	}
	return nil
}

// closeClient ends the user's websocket with code.
func (r *relay) closeClient(code uint16) {
	r.writeNotice(closeFrame(code), nil)
}

// tellUser writes why on the user's terminal and ends the session with a
// Failure status, as the remote-command protocol does, then closes.
func (r *relay) tellUser(reason metav1.StatusReason, why string) {
	line := "janus: " + trimJanus(sanitize(why))
	r.notify(line)
	status, _ := json.Marshal(metav1.Status{
		TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"},
		Status:   metav1.StatusFailure,
		Reason:   reason,
		Message:  line,
	})
	frame := appendFrame(nil, opBinary, append([]byte{channelError}, status...))
	frame = append(frame, closeFrame(closeNormal)...)
	r.writeNotice(frame, nil)
}

// notify writes a line of Janus's own on the user's terminal.
// The recording marks it, and holds its bytes among the output.
func (r *relay) notify(line string) {
	r.rec.marker(sanitize(line))
	if r.spec.NoticeChannel == 0 {
		return
	}
	said := []byte("\r\n" + sanitize(line) + "\r\n")
	r.writeNotice(appendFrame(nil, opBinary, append([]byte{r.spec.NoticeChannel}, said...)), said)
}

// writeNotice writes frames of Janus's own between relayed frames, and
// records said (what the frames put on the user's terminal) in their
// place among the output. It gives up after noticePatience rather than
// wait on a user who is not reading.
func (r *relay) writeNotice(frames, said []byte) {
	patience := time.NewTimer(noticePatience)
	defer patience.Stop()
	select {
	case r.writing <- struct{}{}:
	case <-patience.C:
		klog.V(2).InfoS("Dropping a notice: the user is not reading", "request", r.spec.Request, "session", r.spec.ID)
		return
	}
	defer func() { <-r.writing }()
	if said != nil {
		r.rec.output(said)
	}
	_ = r.client.SetWriteDeadline(time.Now().Add(noticePatience))
	defer func() { _ = r.client.SetWriteDeadline(time.Time{}) }()
	_, err := r.toClient.Write(frames)
	if err == nil {
		err = r.toClient.Flush()
	}
	if err != nil {
		klog.V(2).InfoS("Writing a notice to the user", "request", r.spec.Request, "session", r.spec.ID, "err", err)
	}
}

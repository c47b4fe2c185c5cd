package tunnelserver

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/infroware/janus/pkg/tunnel"
)

// AgentError is a refusal or failure reported by an agent.
type AgentError struct {
	StatusCode int
	Message    string
	// Refused is true when the agent's own policy forbids the call.
	Refused bool
}

func (e *AgentError) Error() string { return e.Message }

// AgentClient calls one cluster's agent through its tunnel.
type AgentClient struct {
	cluster string
	http    *http.Client
}

func newAgentClient(cluster string, dial func(ctx context.Context) (net.Conn, error)) *AgentClient {
	transport := &http.Transport{
		DialContext:         func(ctx context.Context, _, _ string) (net.Conn, error) { return dial(ctx) },
		MaxIdleConnsPerHost: 8,
		IdleConnTimeout:     90 * time.Second,
	}
	return &AgentClient{
		cluster: cluster,
		http:    &http.Client{Timeout: 30 * time.Second, Transport: transport},
	}
}

// Info asks the agent about itself and its cluster.
func (c *AgentClient) Info(ctx context.Context) (tunnel.AgentInfo, error) {
	var info tunnel.AgentInfo
	return info, c.call(ctx, callInfo, http.MethodGet, tunnel.PathInfo, nil, &info)
}

// EnsureGrant creates or refreshes the grant of one request.
func (c *AgentClient) EnsureGrant(ctx context.Context, spec tunnel.GrantSpec) (tunnel.GrantStatus, error) {
	var status tunnel.GrantStatus
	return status, c.call(ctx, callEnsureGrant, http.MethodPut, tunnel.PathGrants+url.PathEscape(spec.Request), spec, &status)
}

// RemoveGrant deletes the grant of one request; a missing grant is success.
func (c *AgentClient) RemoveGrant(ctx context.Context, request string) error {
	return c.call(ctx, callRemoveGrant, http.MethodDelete, tunnel.PathGrants+url.PathEscape(request), nil, nil)
}

// Reconcile makes the cluster hold exactly the active grants.
func (c *AgentClient) Reconcile(ctx context.Context, req tunnel.ReconcileRequest) (tunnel.ReconcileResult, error) {
	var result tunnel.ReconcileResult
	return result, c.call(ctx, callReconcile, http.MethodPost, tunnel.PathReconcile, req, &result)
}

// Pods reads the pods of namespace with request's token.
func (c *AgentClient) Pods(ctx context.Context, request, namespace string) (tunnel.PodList, error) {
	var list tunnel.PodList
	return list, c.call(ctx, callPods, http.MethodGet, tunnel.ReadPath(tunnel.PathPods, request, namespace), nil, &list)
}

// Events reads the Events of namespace, or of one pod in it when pod is
// set, with request's token.
func (c *AgentClient) Events(ctx context.Context, request, namespace, pod string) (tunnel.EventList, error) {
	path := tunnel.ReadPath(tunnel.PathEvents, request, namespace)
	if pod != "" {
		path += "?" + url.Values{tunnel.QueryPod: {pod}}.Encode()
	}
	var list tunnel.EventList
	return list, c.call(ctx, callEvents, http.MethodGet, path, nil, &list)
}

// call makes one call of the agent API and counts how it went.
func (c *AgentClient) call(ctx context.Context, name agentCall, method, path string, in, out any) error {
	err := c.do(ctx, method, path, in, out)
	agentCalls.WithLabelValues(string(name), callResult(err)).Inc()
	return err
}

func (c *AgentClient) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		data, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("encoding %s %s: %w", method, path, err)
		}
		body = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://"+tunnel.AgentAddress+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("calling agent of cluster %s: %w", c.cluster, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return fmt.Errorf("reading answer of agent of cluster %s: %w", c.cluster, err)
	}
	if resp.StatusCode >= 300 {
		var e tunnel.Error
		if json.Unmarshal(data, &e) != nil || e.Message == "" {
			e.Message = fmt.Sprintf("agent of cluster %s answered %s", c.cluster, resp.Status)
		}
		return &AgentError{StatusCode: resp.StatusCode, Message: e.Message, Refused: e.Refused}
	}
	if out == nil || len(data) == 0 {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("decoding answer of agent of cluster %s: %w", c.cluster, err)
	}
	return nil
}

// Package health is janus-agent's health and metrics port: /healthz and
// /readyz answer 200 only while the agent's tunnel to janus-apiserver is
// up, and 503 with the reason otherwise; /metrics serves the agent's own
// metrics (legacyregistry). It learns of the tunnel from the connector's
// callbacks and must not reach the target cluster or Janus itself: it
// reports, it does not probe.
package health

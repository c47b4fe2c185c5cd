package apiserver

import (
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/apiserver/pkg/authentication/authenticatorfactory"
	"k8s.io/apiserver/pkg/server/dynamiccertificates"
)

// caContent is a CAContentProvider whose bundle the test sets.
type caContent struct {
	dynamiccertificates.CAContentProvider
	bundle atomic.Pointer[[]byte]
}

func (c *caContent) CurrentCABundleContent() []byte {
	if b := c.bundle.Load(); b != nil {
		return *b
	}
	return nil
}

func TestFrontProxyCAReadyWaitsForTheCAOrItsGrace(t *testing.T) {
	clock := time.Unix(1_000_000, 0)
	now := func() time.Time { return clock }
	if err := frontProxyCAReady(nil, now).Check(nil); err != nil {
		t.Errorf("without request-header authentication: %v, want it to pass", err)
	}

	ca := &caContent{}
	check := frontProxyCAReady(&authenticatorfactory.RequestHeaderConfig{CAContentProvider: ca}, now)
	if check.Name() != "front-proxy-ca" {
		t.Errorf("check named %q", check.Name())
	}
	if err := check.Check(nil); err == nil {
		t.Error("no CA read yet, but the check passes")
	}
	pem := []byte("-----BEGIN CERTIFICATE-----")
	ca.bundle.Store(&pem)
	if err := check.Check(nil); err != nil {
		t.Errorf("with the CA read: %v, want it to pass", err)
	}

	never := frontProxyCAReady(&authenticatorfactory.RequestHeaderConfig{CAContentProvider: &caContent{}}, now)
	clock = clock.Add(frontProxyCAGrace - time.Millisecond)
	if err := never.Check(nil); err == nil {
		t.Error("no CA read yet, within the grace, but the check passes")
	}
	clock = clock.Add(time.Millisecond)
	if err := never.Check(nil); err != nil {
		t.Errorf("no CA read within the grace: %v, want it to pass", err)
	}
}

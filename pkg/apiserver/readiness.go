package apiserver

import (
	"errors"
	"net/http"
	"sync"
	"time"

	"k8s.io/apiserver/pkg/authentication/authenticatorfactory"
	"k8s.io/apiserver/pkg/server/healthz"
	"k8s.io/klog/v2"
)

// frontProxyCAGrace bounds how long the front-proxy CA is waited for: a
// cluster whose kube-apiserver publishes none must not keep Janus unready.
const frontProxyCAGrace = 15 * time.Second

// frontProxyCAReady is a readiness check that fails until the CA the
// aggregator's proxy client certificate is verified with has been read.
// k8s.io/apiserver reads it from the kube-system/extension-apiserver-
// authentication ConfigMap through an informer started with the server,
// and /readyz does not wait for it: a restarted replica said ready with
// no CA yet and answered the first requests the aggregator passed it as
// system:anonymous (403). Without request-header authentication it
// passes.
func frontProxyCAReady(cfg *authenticatorfactory.RequestHeaderConfig, now func() time.Time) healthz.HealthChecker {
	start := now()
	var once sync.Once
	return healthz.NamedCheck("front-proxy-ca", func(*http.Request) error {
		if cfg == nil || cfg.CAContentProvider == nil || len(cfg.CAContentProvider.CurrentCABundleContent()) > 0 {
			return nil
		}
		if now().Sub(start) >= frontProxyCAGrace {
			once.Do(func() {
				klog.InfoS("Ready without a front-proxy CA, none read within the grace; requests the aggregator passes are anonymous until one is", "grace", frontProxyCAGrace)
			})
			return nil
		}
		return errors.New("the front-proxy CA (requestheader-client-ca-file of kube-system/extension-apiserver-authentication) is not read yet")
	})
}

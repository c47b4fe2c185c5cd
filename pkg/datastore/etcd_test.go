package datastore

import (
	"strings"
	"testing"

	"k8s.io/apiserver/pkg/storage/storagebackend"
)

func TestValidateEtcdEndpoints(t *testing.T) {
	cases := []struct {
		name      string
		endpoint  string
		tls       EtcdTLS
		wantError string
	}{
		{name: "plaintext etcd", endpoint: "etcd://etcd-0:2379,etcd-1:2379"},
		{name: "etcd over TLS", endpoint: "https://etcd-0:2379,etcd-1:2379", tls: EtcdTLS{CAFile: "ca.crt", CertFile: "c.crt", KeyFile: "c.key"}},
		{name: "etcd over TLS, scheme repeated", endpoint: "https://etcd-0:2379,https://etcd-1:2379", tls: EtcdTLS{CAFile: "ca.crt"}},
		{name: "etcd over TLS with the system's roots", endpoint: "https://etcd.example.com:2379"},
		{name: "a member without a port", endpoint: "https://etcd-0", wantError: `etcd member "etcd-0" needs host:port`},
		{name: "a certificate without its key", endpoint: "https://etcd-0:2379", tls: EtcdTLS{CertFile: "c.crt"}, wantError: "go together"},
		{name: "TLS files with plaintext etcd", endpoint: "etcd://etcd-0:2379", tls: EtcdTLS{CAFile: "ca.crt"}, wantError: "etcd:// is plaintext"},
		{name: "TLS files with postgres", endpoint: "postgres://db/janus", tls: EtcdTLS{CAFile: "ca.crt"}, wantError: "need an https:// --datastore-endpoint"},
		{name: "plain http is not an etcd endpoint", endpoint: "http://etcd-0:2379", wantError: "unsupported scheme"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := NewOptions()
			o.Endpoint, o.EtcdTLS = tc.endpoint, tc.tls
			errs := o.Validate()
			switch {
			case tc.wantError == "" && len(errs) > 0:
				t.Fatalf("Validate: %v", errs)
			case tc.wantError != "" && (len(errs) == 0 || !strings.Contains(errs[0].Error(), tc.wantError)):
				t.Fatalf("Validate: %v, want an error saying %q", errs, tc.wantError)
			}
		})
	}
}

func TestEtcdTLSFilesReachTheStorageTransport(t *testing.T) {
	o := NewOptions()
	o.Endpoint = "https://etcd-0:2379"
	o.EtcdTLS = EtcdTLS{CAFile: "ca.crt", CertFile: "c.crt", KeyFile: "c.key"}
	var transport storagebackend.TransportConfig
	o.ApplyTo(&transport)
	if transport.TrustedCAFile != "ca.crt" || transport.CertFile != "c.crt" || transport.KeyFile != "c.key" {
		t.Errorf("transport got %+v", transport)
	}
}

func TestEtcdTLSFileErrorsNameTheFile(t *testing.T) {
	missing := t.TempDir() + "/missing-ca.crt"
	o := NewOptions()
	o.Endpoint = "https://127.0.0.1:1"
	o.EtcdTLS.CAFile = missing
	_, err := o.Start(t.Context())
	if err == nil || !strings.Contains(err.Error(), "--datastore-etcd-ca-file") || !strings.Contains(err.Error(), missing) {
		t.Errorf("Start with an unreadable CA: %v, want an error naming --datastore-etcd-ca-file %s", err, missing)
	}
}

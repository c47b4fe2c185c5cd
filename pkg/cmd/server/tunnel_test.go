package server

import (
	"strings"
	"testing"
)

func TestTunnelOptionsValidate(t *testing.T) {
	cases := []struct {
		name      string
		change    func(*TunnelOptions)
		wantError string
	}{
		{name: "off by default, /connect on the API port", change: func(*TunnelOptions) {}},
		{name: "a tunnel port reusing the serving certificate", change: func(o *TunnelOptions) { o.Port = 8132 }},
		{name: "a tunnel port of its own, the API port without /connect", change: func(o *TunnelOptions) {
			o.Port, o.CertFile, o.KeyFile, o.OnAPIPort = 8132, "tunnel.crt", "tunnel.key", false
		}},
		{name: "not a port", change: func(o *TunnelOptions) { o.Port = 70000 }, wantError: "--tunnel-port 70000 is not a port"},
		{name: "a certificate without its key", change: func(o *TunnelOptions) { o.Port, o.CertFile = 8132, "tunnel.crt" }, wantError: "go together"},
		{name: "a certificate without the port", change: func(o *TunnelOptions) { o.CertFile, o.KeyFile = "tunnel.crt", "tunnel.key" }, wantError: "--tunnel-cert-file needs --tunnel-port"},
		{name: "nowhere to connect", change: func(o *TunnelOptions) { o.OnAPIPort = false }, wantError: "agents would have nowhere to connect"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := NewTunnelOptions()
			tc.change(o)
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

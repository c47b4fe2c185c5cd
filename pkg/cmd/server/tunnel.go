package server

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strconv"

	"github.com/spf13/pflag"
	genericapiserver "k8s.io/apiserver/pkg/server"
	"k8s.io/apiserver/pkg/server/dynamiccertificates"
	netutils "k8s.io/utils/net"

	"github.com/infroware/janus/pkg/apiserver"
	"github.com/infroware/janus/pkg/tunnelserver"
)

// TunnelOptions are the flags of the agents' tunnel listener: a port that
// serves /connect and nothing else, so that agents in other networks can
// reach Janus without the API being exposed to them.
type TunnelOptions struct {
	BindAddress net.IP
	// Port is 0 by default: deployments made before the tunnel had a
	// port of its own expose only the API port, and a new listener must
	// not appear on them unasked.
	Port int
	// CertFile and KeyFile serve the tunnel port; without them it
	// reuses the API port's serving certificate, which agents already
	// trust through --janus-ca-file.
	CertFile string
	KeyFile  string
	// OnAPIPort keeps /connect on the API port as well, for agents not
	// yet pointed at the tunnel port.
	OnAPIPort bool

	// Listener, if set, is used instead of binding BindAddress:Port
	// (tests listen on port 0 first).
	Listener net.Listener
}

// NewTunnelOptions returns the defaults: no tunnel port, /connect on the
// API port as before.
func NewTunnelOptions() *TunnelOptions {
	return &TunnelOptions{BindAddress: netutils.ParseIPSloppy("0.0.0.0"), OnAPIPort: true}
}

// AddFlags registers the tunnel flags.
func (o *TunnelOptions) AddFlags(fs *pflag.FlagSet) {
	fs.IPVar(&o.BindAddress, "tunnel-bind-address", o.BindAddress, "Address the agents' tunnel port listens on.")
	fs.IntVar(&o.Port, "tunnel-port", o.Port, "Port serving only the agents' /connect tunnel (every other path is 404), to expose to target clusters instead of the API port; 0 turns it off.")
	fs.StringVar(&o.CertFile, "tunnel-cert-file", o.CertFile, "Serving certificate (PEM) of --tunnel-port, reloaded when the file changes; empty reuses the API port's serving certificate.")
	fs.StringVar(&o.KeyFile, "tunnel-private-key-file", o.KeyFile, "Private key (PEM) of --tunnel-cert-file, reloaded with it.")
	fs.BoolVar(&o.OnAPIPort, "tunnel-on-api-port", o.OnAPIPort, "Also serve /connect on the API port, as before --tunnel-port existed. Turn it off once every agent's --janus-url names the tunnel port.")
}

// Validate reports problems with the tunnel flags.
func (o *TunnelOptions) Validate() []error {
	var errs []error
	if o.Port < 0 || o.Port > 65535 {
		errs = append(errs, fmt.Errorf("--tunnel-port %d is not a port", o.Port))
	}
	if (o.CertFile == "") != (o.KeyFile == "") {
		errs = append(errs, errors.New("--tunnel-cert-file and --tunnel-private-key-file go together"))
	}
	if !o.enabled() {
		if o.CertFile != "" {
			errs = append(errs, errors.New("--tunnel-cert-file needs --tunnel-port"))
		}
		if !o.OnAPIPort {
			errs = append(errs, errors.New("--tunnel-on-api-port=false needs --tunnel-port: agents would have nowhere to connect"))
		}
	}
	return errs
}

func (o *TunnelOptions) enabled() bool { return o.Port != 0 || o.Listener != nil }

// ApplyTo binds the tunnel port and loads its certificate, so that a port
// in use or an unreadable key stops the start; serving begins in a
// post-start hook. serving is the API port's, whose certificate is reused
// when the tunnel has none of its own.
func (o *TunnelOptions) ApplyTo(serving *genericapiserver.SecureServingInfo, extra *apiserver.ExtraConfig) error {
	extra.NoTunnelOnAPIPort = !o.OnAPIPort
	if !o.enabled() {
		return nil
	}
	var cert dynamiccertificates.CertKeyContentProvider
	if o.CertFile != "" {
		c, err := dynamiccertificates.NewDynamicServingContentFromFiles("tunnel-serving-cert", o.CertFile, o.KeyFile)
		if err != nil {
			return fmt.Errorf("loading --tunnel-cert-file: %w", err)
		}
		certPEM, keyPEM := c.CurrentCertKeyContent()
		if _, err := tls.X509KeyPair(certPEM, keyPEM); err != nil {
			return fmt.Errorf("parsing --tunnel-cert-file %s with --tunnel-private-key-file %s: %w", o.CertFile, o.KeyFile, err)
		}
		cert = c
	} else {
		// The API port's certificate may be one that is made only once
		// the server runs (--tls-self-managed-secret): it is read at each
		// handshake, not here.
		if serving == nil || serving.Cert == nil {
			return errors.New("--tunnel-port without --tunnel-cert-file reuses the API port's serving certificate, and there is none")
		}
		cert = serving.Cert
	}
	listener := o.Listener
	if listener == nil {
		address := net.JoinHostPort(o.BindAddress.String(), strconv.Itoa(o.Port))
		var err error
		if listener, err = net.Listen("tcp", address); err != nil {
			return fmt.Errorf("listening on --tunnel-port %s: %w", address, err)
		}
	}
	minTLS := uint16(tls.VersionTLS12)
	if serving != nil && serving.MinTLSVersion > minTLS {
		minTLS = serving.MinTLSVersion
	}
	extra.TunnelListener = &tunnelserver.Listener{Listener: listener, Cert: cert, WatchCert: o.CertFile != "", MinTLSVersion: minTLS}
	return nil
}

package server

import (
	"bytes"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"

	"github.com/spf13/pflag"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/infroware/janus/pkg/apiserver"
	"github.com/infroware/janus/pkg/tunnelserver"
)

// minPeerTokenBytes is the shortest peer token accepted: 256 bits of hex.
const minPeerTokenBytes = 32

// PeerOptions are the flags of peering between replicas: each reaches the
// tunnels the others hold, so that an agent connected to any replica is
// reached from all of them.
type PeerOptions struct {
	// Service is <namespace>/<name> of the headless Service listing the
	// replicas; empty, with Static empty too, turns peering off (a single
	// replica).
	Service string
	// Static lists the replicas as name=host:port, for deployments
	// without a peer Service (and the loopback testbed, whose addresses
	// no EndpointSlice may hold).
	Static     []string
	TokenFile  string
	CAFile     string
	ServerName string
	// SelfManagedCA, set with --tls-self-managed-secret, stands in for an
	// empty CAFile: it returns that Secret's CAs as they are at each dial
	// (nil before its Manager is built).
	SelfManagedCA func() []byte

	namespace, name string
}

// NewPeerOptions returns the defaults: no peering.
func NewPeerOptions() *PeerOptions { return &PeerOptions{} }

// AddFlags registers the peering flags.
func (o *PeerOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.Service, "peer-service", o.Service, "<namespace>/<name> of the headless Service whose EndpointSlices list the janus-apiserver replicas (at their port named \"tunnel\", or their only port; each endpoint named by its hostname or Pod, which is that replica's --replica-name). Set, the replicas peer over /connect so that grants, exec and log reach an agent connected to any of them. Needs --peer-token-file and --peer-ca-file (or --tls-self-managed-secret).")
	fs.StringSliceVar(&o.Static, "peers", o.Static, "The janus-apiserver replicas as <replica-name>=<host>:<port> of their /connect, instead of --peer-service: for replicas that are not Pods behind a Service. Needs --peer-token-file, --peer-ca-file and --peer-server-name.")
	fs.StringVar(&o.TokenFile, "peer-token-file", o.TokenFile, "File holding the secret every replica shares to authenticate peer connections (at least 32 bytes; surrounding white space is ignored). Read once at start.")
	fs.StringVar(&o.CAFile, "peer-ca-file", o.CAFile, "CA bundle (PEM) that verifies the serving certificates of the peers' port named in --peer-service before the peer token is sent. Empty with --tls-self-managed-secret: the CAs in that Secret, as they are at each dial (the peers then serve its certificate: with --tunnel-port, not --tunnel-cert-file).")
	fs.StringVar(&o.ServerName, "peer-server-name", o.ServerName, "Name the peers' serving certificates are verified for; empty is <name>.<namespace>.svc of --peer-service.")
}

// Complete splits the Service's name and defaults the server name.
func (o *PeerOptions) Complete() {
	if ns, name, ok := strings.Cut(o.Service, "/"); ok {
		o.namespace, o.name = ns, name
		if o.ServerName == "" {
			o.ServerName = name + "." + ns + ".svc"
		}
	}
}

// Validate reports problems with the peering flags.
func (o *PeerOptions) Validate() []error {
	if o.Service == "" && len(o.Static) == 0 {
		if o.TokenFile != "" || o.CAFile != "" || o.ServerName != "" {
			return []error{errors.New("--peer-token-file, --peer-ca-file and --peer-server-name need --peer-service or --peers")}
		}
		return nil
	}
	var errs []error
	if o.Service != "" {
		if len(o.Static) > 0 {
			errs = append(errs, errors.New("--peer-service and --peers are mutually exclusive"))
		}
		ns, name, ok := strings.Cut(o.Service, "/")
		if !ok || len(validation.IsDNS1123Label(ns)) > 0 || len(validation.IsDNS1035Label(name)) > 0 {
			errs = append(errs, fmt.Errorf("--peer-service %q is not <namespace>/<service name>", o.Service))
		}
	} else if o.ServerName == "" {
		errs = append(errs, errors.New("--peers needs --peer-server-name: the name the peers' certificates are verified for"))
	}
	if _, err := o.staticPeers(); err != nil {
		errs = append(errs, err)
	}
	if o.TokenFile == "" {
		errs = append(errs, errors.New("peering needs --peer-token-file: peers authenticate with it"))
	}
	if o.CAFile == "" && o.SelfManagedCA == nil {
		errs = append(errs, errors.New("peering needs --peer-ca-file (or --tls-self-managed-secret): the peer token goes only to a verified peer"))
	}
	return errs
}

// ApplyTo reads the token and the CA and configures peering as replica.
func (o *PeerOptions) ApplyTo(extra *apiserver.ExtraConfig, replica string) error {
	if o.Service == "" && len(o.Static) == 0 {
		return nil
	}
	static, err := o.staticPeers()
	if err != nil {
		return err
	}
	raw, err := os.ReadFile(o.TokenFile)
	if err != nil {
		return fmt.Errorf("reading --peer-token-file: %w", err)
	}
	token := bytes.TrimSpace(raw)
	if len(token) < minPeerTokenBytes {
		return fmt.Errorf("--peer-token-file %s holds %d bytes; a peer token has at least %d", o.TokenFile, len(token), minPeerTokenBytes)
	}
	cfg := tunnelserver.PeerConfig{ReplicaName: replica, Token: token, ServerName: o.ServerName}
	if o.CAFile != "" {
		caPEM, err := os.ReadFile(o.CAFile)
		if err != nil {
			return fmt.Errorf("reading --peer-ca-file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(caPEM) {
			return fmt.Errorf("--peer-ca-file %s holds no PEM certificate", o.CAFile)
		}
		cfg.RootCAs = pool
	} else {
		cfg.CABundle = o.SelfManagedCA
	}
	extra.Peering = &apiserver.Peering{
		Namespace: o.namespace,
		Service:   o.name,
		Static:    static,
		Config:    cfg,
	}
	return nil
}

// staticPeers parses --peers.
func (o *PeerOptions) staticPeers() ([]tunnelserver.Peer, error) {
	var peers []tunnelserver.Peer
	for _, p := range o.Static {
		name, address, ok := strings.Cut(p, "=")
		if !ok || name == "" {
			return nil, fmt.Errorf("--peers entry %q is not <replica-name>=<host>:<port>", p)
		}
		if _, _, err := net.SplitHostPort(address); err != nil {
			return nil, fmt.Errorf("--peers entry %q: %w", p, err)
		}
		peers = append(peers, tunnelserver.Peer{Name: name, Address: address})
	}
	return peers, nil
}

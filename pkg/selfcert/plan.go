package selfcert

import (
	"bytes"
	"fmt"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// The keys of the Secret. tls.crt, tls.key and ca.crt are what a
// kubernetes.io/tls Secret usually holds, so the Secret can be mounted or
// read by other tools as it is; ca.crt is the whole trusted bundle.
const (
	ServingCertKey   = corev1.TLSCertKey       // serving certificate
	ServingKeyKey    = corev1.TLSPrivateKeyKey // its key
	CABundleKey      = "ca.crt"                // every CA to trust: what spec.caBundle must equal
	SigningCertKey   = "signing-ca.crt"        // the CA that signs tls.crt
	SigningKeyKey    = "signing-ca.key"
	NextCertKey      = "next-ca.crt" // a new CA, trusted but not yet signing (the overlap)
	NextKeyKey       = "next-ca.key"
	PreviousCertKey  = "previous-ca.crt" // the CA before, trusted until the last certificate it signed expired
	previousUntilKey = "previous-ca-until"
)

// ManagedByLabel marks a Secret this package made or may overwrite.
const ManagedByLabel = "app.kubernetes.io/managed-by"

// ManagedByValue is the value of ManagedByLabel.
const ManagedByValue = "janus-apiserver"

// Lifetimes says how long certificates live and overlap.
type Lifetimes struct {
	// CA is the life of a CA; a new one is made at two thirds of it.
	CA time.Duration
	// Serving is the life of a serving certificate; it is renewed at two
	// thirds of it.
	Serving time.Duration
	// CAOverlap is how long a new CA is trusted before it signs, so that
	// every client of the bundle (the aggregator, operators' copies) has it
	// before a certificate it signed is served.
	CAOverlap time.Duration
}

// DefaultLifetimes: a CA for ten years, because the only party trusting it
// is the aggregator through a caBundle Janus keeps itself, and a rare CA
// rotation is one that cannot surprise anybody; a serving certificate for
// 90 days, because its key sits in every replica's memory and renewing it
// costs nothing (it is picked up without a restart); 30 days of overlap,
// far longer than any watch or cache needs, so that a bundle copied by
// hand can be refreshed in a month's routine.
var DefaultLifetimes = Lifetimes{CA: 10 * 365 * 24 * time.Hour, Serving: 90 * 24 * time.Hour, CAOverlap: 30 * 24 * time.Hour}

func (l Lifetimes) validate() error {
	if l.CA <= 0 || l.Serving <= 0 || l.CAOverlap <= 0 {
		return fmt.Errorf("lifetimes must be positive: %+v", l)
	}
	// The switch to a new CA must come before the old one ends, with room
	// for the last certificate the old one signed.
	if l.CA/3 <= l.CAOverlap+l.Serving {
		return fmt.Errorf("a third of the CA's life (%s) must exceed the overlap (%s) plus a serving certificate's life (%s)", l.CA/3, l.CAOverlap, l.Serving)
	}
	return nil
}

// state is what the Secret holds, parsed. Unparseable parts are nil.
type state struct {
	serving, signing, next, previous *keyPair
	previousUntil                    time.Time
}

func parseState(data map[string][]byte) state {
	var s state
	s.serving, _ = parsePair(data[ServingCertKey], data[ServingKeyKey])
	if len(data[SigningKeyKey]) > 0 {
		s.signing, _ = parsePair(data[SigningCertKey], data[SigningKeyKey])
	}
	if len(data[NextKeyKey]) > 0 {
		s.next, _ = parsePair(data[NextCertKey], data[NextKeyKey])
	}
	if len(data[PreviousCertKey]) > 0 {
		s.previous, _ = parsePair(data[PreviousCertKey], nil)
		s.previousUntil, _ = time.Parse(time.RFC3339, string(data[previousUntilKey]))
	}
	if s.serving != nil && s.serving.key == nil {
		s.serving = nil
	}
	return s
}

// bundle is the PEM of every CA to trust: the signing one first.
func (s state) bundle() []byte {
	var b bytes.Buffer
	for _, ca := range []*keyPair{s.signing, s.next, s.previous} {
		if ca != nil {
			b.Write(ca.certPEM)
		}
	}
	return b.Bytes()
}

func (s state) data() map[string][]byte {
	d := map[string][]byte{
		ServingCertKey: s.serving.certPEM,
		ServingKeyKey:  s.serving.keyPEM,
		SigningCertKey: s.signing.certPEM,
		SigningKeyKey:  s.signing.keyPEM,
		CABundleKey:    s.bundle(),
	}
	if s.next != nil {
		d[NextCertKey], d[NextKeyKey] = s.next.certPEM, s.next.keyPEM
	}
	if s.previous != nil {
		d[PreviousCertKey] = s.previous.certPEM
		d[previousUntilKey] = []byte(s.previousUntil.UTC().Format(time.RFC3339))
	}
	return d
}

// plan is what the Secret should hold at now, and when it must be looked
// at again at the latest. It changes nothing that is still good: a
// replica that adopts a Secret another wrote gets the same bytes back.
func plan(current map[string][]byte, now time.Time, l Lifetimes, dnsNames []string) (map[string][]byte, time.Time, []string, error) {
	s := parseState(current)
	var reasons []string

	if s.signing == nil || !now.Before(s.signing.cert.NotAfter) {
		// Nothing to overlap with: an unusable or expired CA is replaced
		// at once (a replica that was down past the switch ends up here).
		ca, err := newCA(now, l.CA)
		if err != nil {
			return nil, time.Time{}, nil, err
		}
		reasons = append(reasons, "no usable CA")
		s = state{signing: ca}
	}
	if s.next == nil && !now.Before(renewalTime(s.signing.cert)) {
		next, err := newCA(now, l.CA)
		if err != nil {
			return nil, time.Time{}, nil, err
		}
		reasons = append(reasons, "new CA for the overlap")
		s.next = next
	}
	if s.next != nil && !now.Before(s.next.cert.NotBefore.Add(backdate+l.CAOverlap)) {
		// The old CA stays trusted while the last certificate it signed
		// may still be served.
		until := now.Add(l.Serving)
		if s.serving != nil && signedBy(s.serving.cert, s.signing.cert) {
			until = s.serving.cert.NotAfter
		}
		reasons = append(reasons, "new CA signs from now on")
		s.previous, s.previousUntil = &keyPair{cert: s.signing.cert, certPEM: s.signing.certPEM}, until
		s.signing, s.next = s.next, nil
	}
	if s.previous != nil && !now.Before(s.previousUntil) {
		reasons = append(reasons, "previous CA retired")
		s.previous = nil
	}

	names := dnsNames
	switch {
	case s.serving == nil:
		reasons = append(reasons, "no usable serving certificate")
	case !signedBy(s.serving.cert, s.signing.cert):
		reasons = append(reasons, "serving certificate not signed by the signing CA")
	case !now.Before(renewalTime(s.serving.cert)):
		reasons = append(reasons, "serving certificate at two thirds of its life")
	case !hasNames(s.serving.cert, dnsNames):
		// Names are only added: replicas started with different names
		// then converge on the union instead of taking turns.
		names = append(slices.Clone(s.serving.cert.DNSNames), dnsNames...)
		slices.Sort(names)
		names = slices.Compact(names)
		reasons = append(reasons, "serving certificate lacks DNS names")
	default:
		names = nil
	}
	if names != nil {
		serving, err := issueServing(s.signing, now, l.Serving, names)
		if err != nil {
			return nil, time.Time{}, nil, err
		}
		s.serving = serving
	}

	next := renewalTime(s.serving.cert)
	if s.next == nil {
		next = earliest(next, renewalTime(s.signing.cert))
	} else {
		next = earliest(next, s.next.cert.NotBefore.Add(backdate+l.CAOverlap))
	}
	if s.previous != nil {
		next = earliest(next, s.previousUntil)
	}
	return s.data(), next, reasons, nil
}

func earliest(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func sameData(a, b map[string][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || !bytes.Equal(v, w) {
			return false
		}
	}
	return true
}

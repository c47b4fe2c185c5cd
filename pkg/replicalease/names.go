package replicalease

import (
	"crypto/sha256"
	"encoding/hex"

	"k8s.io/apimachinery/pkg/util/validation"
)

const (
	// Label marks the replicas' Leases, so that they are listed apart from
	// the leader election's and anyone else's.
	Label = "janus.infroware.io/replica-lease"
	// namePrefix starts every replica Lease's name.
	namePrefix = "janus-replica-"
)

// LeaseName is the name of replica's Lease: the replica's name after the
// prefix when that makes a valid object name (a Pod's name always does),
// or else a digest of it. The Lease's holderIdentity is always the name
// itself.
func LeaseName(replica string) string {
	if name := namePrefix + replica; len(validation.IsDNS1123Subdomain(name)) == 0 {
		return name
	}
	sum := sha256.Sum256([]byte(replica))
	return namePrefix + hex.EncodeToString(sum[:8])
}

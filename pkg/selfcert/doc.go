// Package selfcert keeps janus-apiserver's serving certificate without an
// operator: it creates (or adopts) one Secret holding a CA and a serving
// certificate that CA signed, serves whatever that Secret holds, rotates
// both before they expire, and keeps spec.caBundle of one APIService equal
// to the CAs the Secret trusts; those CAs are also what the replicas verify
// each other with when they peer (Manager.CABundle). Every replica runs it; they agree through
// optimistic concurrency on the Secret and the APIService, not through a
// leader. It must not touch any other Secret or APIService, nor any field
// of the APIService but spec.caBundle.
package selfcert

// Package targetreads is the typed client of accessrequests/pods and
// accessrequests/events, the reads a requester makes in the target
// cluster through Janus. client-gen cannot generate it: its GET
// subresource methods take only metav1.GetOptions, not the namespace and
// pod these reads need. It only builds calls on the generated clientset's
// REST client; it must not decide anything the server decides.
package targetreads

// Package janus holds the internal (hub) types of the janus.infroware.io API
// group: AccessRequest, Cluster and the action objects posted to an
// AccessRequest's subresources. Nothing outside the API server should
// serialise these types; clients use the versioned packages.
//
// +k8s:deepcopy-gen=package
// +groupName=janus.infroware.io
package janus

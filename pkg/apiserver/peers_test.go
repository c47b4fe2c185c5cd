package apiserver

import (
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/utils/ptr"

	"github.com/infroware/janus/pkg/tunnelserver"
)

func TestPeersAreTheEndpointsAtTheTunnelPort(t *testing.T) {
	slices := []*discoveryv1.EndpointSlice{
		{
			AddressType: discoveryv1.AddressTypeIPv4,
			Ports:       []discoveryv1.EndpointPort{{Name: ptr.To("https"), Port: ptr.To[int32](443)}, {Name: ptr.To("tunnel"), Port: ptr.To[int32](8132)}},
			Endpoints: []discoveryv1.Endpoint{
				{Addresses: []string{"10.0.0.1"}, TargetRef: &corev1.ObjectReference{Kind: "Pod", Name: "janus-0"}},
				// Not ready still counts: it may hold tunnels.
				{Addresses: []string{"10.0.0.2"}, Hostname: ptr.To("janus-1"), Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(false)}},
				{Addresses: []string{"10.0.0.3"}}, // no name: cannot be told from a stranger
				// Terminating: reached, not waited for.
				{Addresses: []string{"10.0.0.6"}, Hostname: ptr.To("janus-6"), Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(false), Terminating: ptr.To(true)}},
			},
		},
		{
			AddressType: discoveryv1.AddressTypeIPv6,
			Ports:       []discoveryv1.EndpointPort{{Port: ptr.To[int32](8132)}},
			Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{"fd00::4"}, Hostname: ptr.To("janus-2")}},
		},
		{
			AddressType: discoveryv1.AddressTypeIPv4, // two ports, none named tunnel
			Ports:       []discoveryv1.EndpointPort{{Name: ptr.To("a"), Port: ptr.To[int32](1)}, {Name: ptr.To("b"), Port: ptr.To[int32](2)}},
			Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{"10.0.0.5"}, Hostname: ptr.To("janus-5")}},
		},
	}
	want := []tunnelserver.Peer{{Name: "janus-0", Address: "10.0.0.1:8132"}, {Name: "janus-1", Address: "10.0.0.2:8132"}, {Name: "janus-6", Address: "10.0.0.6:8132", ShuttingDown: true}, {Name: "janus-2", Address: "[fd00::4]:8132"}}
	if got := peersOf(slices); !reflect.DeepEqual(got, want) {
		t.Errorf("peersOf: %+v, want %+v", got, want)
	}
}

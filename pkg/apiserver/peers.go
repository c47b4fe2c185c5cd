package apiserver

import (
	"fmt"
	"net"
	"strconv"

	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	genericapiserver "k8s.io/apiserver/pkg/server"
	kubeinformers "k8s.io/client-go/informers"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"
	"k8s.io/utils/ptr"

	"github.com/infroware/janus/pkg/tunnelserver"
)

// Peering configures how the replicas find and trust each other.
type Peering struct {
	// Namespace and Service name the (headless) Service whose
	// EndpointSlices list the replicas.
	Namespace string
	Service   string
	// Static, used when Service is empty, lists the replicas.
	Static []tunnelserver.Peer
	// Config is this replica's side of the peering.
	Config tunnelserver.PeerConfig
}

// peerPortName is the EndpointSlice port peers dial when a slice has
// several: the replicas' tunnel port.
const peerPortName = "tunnel"

// startPeering turns peering on and keeps the peers equal to the replicas
// the Service's EndpointSlices list.
func startPeering(hook genericapiserver.PostStartHookContext, extra *ExtraConfig, tunnels *tunnelserver.Server) error {
	p := extra.Peering
	if p.Service == "" {
		if err := tunnels.EnablePeering(hook.Context, p.Config); err != nil {
			return err
		}
		tunnels.SetPeers(p.Static)
		return nil
	}
	if extra.KubeClient == nil {
		return fmt.Errorf("peering through Service %s/%s needs a client of the central cluster (--kubeconfig)", p.Namespace, p.Service)
	}
	if err := tunnels.EnablePeering(hook.Context, p.Config); err != nil {
		return err
	}
	factory := kubeinformers.NewSharedInformerFactoryWithOptions(extra.KubeClient, 0,
		kubeinformers.WithNamespace(p.Namespace),
		kubeinformers.WithTweakListOptions(func(o *metav1.ListOptions) {
			o.LabelSelector = labels.SelectorFromSet(labels.Set{discoveryv1.LabelServiceName: p.Service}).String()
		}))
	slices := factory.Discovery().V1().EndpointSlices()
	update := func(any) {
		list, err := slices.Lister().List(labels.Everything())
		if err != nil {
			klog.ErrorS(err, "Listing the peers' EndpointSlices")
			return
		}
		tunnels.SetPeers(peersOf(list))
	}
	if _, err := slices.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    update,
		UpdateFunc: func(_, obj any) { update(obj) },
		DeleteFunc: update,
	}); err != nil {
		return fmt.Errorf("following the EndpointSlices of Service %s/%s: %w", p.Namespace, p.Service, err)
	}
	factory.Start(hook.Done())
	// A list with no slice adds none: set the peers once the first list
	// is in, so that readiness knows the peers were read.
	go func() {
		if cache.WaitForCacheSync(hook.Done(), slices.Informer().HasSynced) {
			update(nil)
		}
	}()
	return nil
}

// peersOf reads the replicas out of EndpointSlices: each endpoint's name
// is its hostname or its Pod's (the replica's --replica-name), its
// address the first one at the slice's tunnel port. Endpoints that are not
// ready still count: a replica that is starting or shutting down may hold
// tunnels the others must reach, so the peer Service should publish
// addresses that are not ready. One terminating is marked shutting down,
// so that a replica starting beside it in a rolling update does not wait
// for its link.
func peersOf(slices []*discoveryv1.EndpointSlice) []tunnelserver.Peer {
	var peers []tunnelserver.Peer
	for _, slice := range slices {
		if slice.AddressType != discoveryv1.AddressTypeIPv4 && slice.AddressType != discoveryv1.AddressTypeIPv6 {
			continue
		}
		port, ok := peerPort(slice.Ports)
		if !ok {
			continue
		}
		for _, ep := range slice.Endpoints {
			name := ""
			switch {
			case ep.Hostname != nil && *ep.Hostname != "":
				name = *ep.Hostname
			case ep.TargetRef != nil && ep.TargetRef.Kind == "Pod":
				name = ep.TargetRef.Name
			}
			if name == "" || len(ep.Addresses) == 0 {
				continue
			}
			peers = append(peers, tunnelserver.Peer{
				Name: name, Address: net.JoinHostPort(ep.Addresses[0], strconv.Itoa(int(port))),
				ShuttingDown: ptr.Deref(ep.Conditions.Terminating, false),
			})
		}
	}
	return peers
}

// peerPort is the port named peerPortName, or the only port.
func peerPort(ports []discoveryv1.EndpointPort) (int32, bool) {
	for _, p := range ports {
		if p.Name != nil && *p.Name == peerPortName && p.Port != nil {
			return *p.Port, true
		}
	}
	if len(ports) == 1 && ports[0].Port != nil {
		return *ports[0].Port, true
	}
	return 0, false
}

package apiserver

import (
	"fmt"

	"k8s.io/apiserver/pkg/registry/rest"
	genericapiserver "k8s.io/apiserver/pkg/server"

	"github.com/infroware/janus/pkg/apis/janus"
	"github.com/infroware/janus/pkg/apis/janus/v1alpha1"
	"github.com/infroware/janus/pkg/apis/janus/validation"
	"github.com/infroware/janus/pkg/registry/janus/accessrequest"
	"github.com/infroware/janus/pkg/registry/janus/cluster"
)

// ExtraConfig is the Janus-specific configuration.
type ExtraConfig struct {
	// Policy holds the server-wide limits on requests.
	Policy validation.Policy
	// AllowSelfApproval lets requesters approve their own requests (for
	// single-person playgrounds only).
	AllowSelfApproval bool
}

// Config is the configuration of a Janus API server.
type Config struct {
	GenericConfig *genericapiserver.RecommendedConfig
	ExtraConfig   ExtraConfig
}

type completedConfig struct {
	GenericConfig genericapiserver.CompletedConfig
	ExtraConfig   *ExtraConfig
}

// CompletedConfig is a Config whose defaults are filled in; only it can
// build a server.
type CompletedConfig struct {
	*completedConfig
}

// JanusServer is the running API server.
type JanusServer struct {
	GenericAPIServer *genericapiserver.GenericAPIServer
}

// Complete fills in the defaults.
func (cfg *Config) Complete() CompletedConfig {
	return CompletedConfig{&completedConfig{cfg.GenericConfig.Complete(), &cfg.ExtraConfig}}
}

// New builds the server and installs the janus.infroware.io API group.
func (c completedConfig) New() (*JanusServer, error) {
	genericServer, err := c.GenericConfig.New("janus-apiserver", genericapiserver.NewEmptyDelegate())
	if err != nil {
		return nil, fmt.Errorf("building generic API server: %w", err)
	}

	clusters, clusterStatus, err := cluster.NewREST(Scheme, c.GenericConfig.RESTOptionsGetter)
	if err != nil {
		return nil, err
	}
	requests, err := accessrequest.NewStorage(Scheme, c.GenericConfig.RESTOptionsGetter, accessrequest.Options{
		Clusters:          clusters,
		Authorizer:        c.GenericConfig.Authorization.Authorizer,
		Policy:            c.ExtraConfig.Policy,
		AllowSelfApproval: c.ExtraConfig.AllowSelfApproval,
	})
	if err != nil {
		return nil, err
	}

	storage := requests.Resources()
	storage["clusters"] = clusters
	storage["clusters/status"] = clusterStatus

	apiGroupInfo := genericapiserver.NewDefaultAPIGroupInfo(janus.GroupName, Scheme, ParameterCodec, Codecs)
	apiGroupInfo.VersionedResourcesStorageMap[v1alpha1.SchemeGroupVersion.Version] = map[string]rest.Storage(storage)
	if err := genericServer.InstallAPIGroup(&apiGroupInfo); err != nil {
		return nil, fmt.Errorf("installing API group %s: %w", janus.GroupName, err)
	}
	return &JanusServer{GenericAPIServer: genericServer}, nil
}

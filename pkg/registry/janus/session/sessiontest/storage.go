package sessiontest

import (
	"context"
	"testing"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apiserver/pkg/registry/generic"
	"k8s.io/apiserver/pkg/storage/storagebackend"

	"github.com/infroware/janus/pkg/apis/janus"
	"github.com/infroware/janus/pkg/apis/janus/install"
	"github.com/infroware/janus/pkg/apis/janus/v1alpha1"
	"github.com/infroware/janus/pkg/datastore"
	sessionregistry "github.com/infroware/janus/pkg/registry/janus/session"
)

// NewStorage returns the storage of Sessions on a datastore of the test's
// own, stopped when the test ends; opts, if given, are the subresources'.
func NewStorage(t testing.TB, opts ...sessionregistry.Options) *sessionregistry.Storage {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	ds := datastore.NewOptions()
	ds.DataDir = t.TempDir()
	endpoints, err := ds.Start(ctx)
	if err != nil {
		t.Fatalf("starting the datastore: %v", err)
	}
	scheme := runtime.NewScheme()
	install.Install(scheme)
	codecs := serializer.NewCodecFactory(scheme)
	cfg := storagebackend.NewDefaultConfig("/registry", codecs.LegacyCodec(v1alpha1.SchemeGroupVersion))
	cfg.Transport.ServerList = endpoints
	resource := janus.Resource("sessions")
	storage, err := sessionregistry.NewStorage(scheme, generic.RESTOptions{
		StorageConfig:           cfg.ForResource(resource),
		Decorator:               generic.UndecoratedStorage,
		DeleteCollectionWorkers: 1,
		ResourcePrefix:          resource.Group + "/" + resource.Resource,
	}, append(opts, sessionregistry.Options{})[0])
	if err != nil {
		t.Fatalf("building the session storage: %v", err)
	}
	t.Cleanup(storage.Session.Destroy)
	return storage
}

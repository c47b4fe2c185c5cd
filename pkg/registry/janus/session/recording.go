package session

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"
	"k8s.io/apiserver/pkg/registry/rest"

	"github.com/infroware/janus/pkg/apis/janus"
	"github.com/infroware/janus/pkg/recording"
)

// ContentType is the media type of recordings and of attach streams.
const ContentType = "application/x-asciicast"

// RecordingREST serves sessions/NAME/recording: GET the asciicast as it
// is stored, so that its sha256 is status.recording.sha256. The session's
// user, the cluster's approvers and its auditors may read it.
type RecordingREST struct {
	store      *genericregistry.Store
	recordings recording.Store
	gate       gate
}

var (
	_ rest.Getter          = &RecordingREST{}
	_ rest.StorageMetadata = &RecordingREST{}
)

func (r *RecordingREST) New() runtime.Object { return &janus.Session{} }

func (r *RecordingREST) Destroy() {}

// ProducesMIMETypes implements rest.StorageMetadata.
func (r *RecordingREST) ProducesMIMETypes(string) []string { return []string{ContentType} }

// ProducesObject implements rest.StorageMetadata: the body is a document,
// not an object.
func (r *RecordingREST) ProducesObject(string) interface{} { return "" }

func (r *RecordingREST) Get(ctx context.Context, name string, _ *metav1.GetOptions) (runtime.Object, error) {
	s, err := getSession(ctx, r.store, name)
	if err != nil {
		return nil, err
	}
	if err := r.gate.authorizeRecording(ctx, s); err != nil {
		return nil, err
	}
	if s.Status.Recording == nil || r.recordings == nil {
		return nil, notFound(name, fmt.Sprintf("session %s was not recorded", name))
	}
	return &streamer{open: func(ctx context.Context) (io.ReadCloser, error) {
		rc, err := recording.Open(ctx, r.recordings, name)
		if errors.Is(err, recording.ErrNotFound) {
			return nil, notFound(name, fmt.Sprintf("the recording of session %s is not in the recording store", name))
		}
		if err != nil {
			return nil, apierrors.NewInternalError(fmt.Errorf("reading the recording of session %s: %w", name, err))
		}
		return rc, nil
	}}, nil
}

func getSession(ctx context.Context, store *genericregistry.Store, name string) (*janus.Session, error) {
	obj, err := store.Get(ctx, name, &metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	return obj.(*janus.Session), nil
}

// notFound is a 404 that says what is missing.
func notFound(name, message string) error {
	return &apierrors.StatusError{ErrStatus: metav1.Status{
		Status: metav1.StatusFailure, Code: http.StatusNotFound, Reason: metav1.StatusReasonNotFound,
		Message: message,
		Details: &metav1.StatusDetails{Group: janus.GroupName, Kind: "sessions", Name: name},
	}}
}

// streamer is a document the API server streams as it reads it
// (rest.ResourceStreamer), flushed as it comes when flush is set.
type streamer struct {
	open  func(ctx context.Context) (io.ReadCloser, error)
	flush bool
}

var _ rest.ResourceStreamer = &streamer{}

func (s *streamer) GetObjectKind() schema.ObjectKind { return schema.EmptyObjectKind }

func (s *streamer) DeepCopyObject() runtime.Object {
	panic("a session stream is read once and cannot be copied")
}

func (s *streamer) InputStream(ctx context.Context, _, _ string) (io.ReadCloser, bool, string, error) {
	rc, err := s.open(ctx)
	if err != nil {
		return nil, false, "", err
	}
	return rc, s.flush, ContentType, nil
}

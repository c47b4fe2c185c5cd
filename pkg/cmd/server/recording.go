package server

import (
	"fmt"
	"strings"

	"github.com/spf13/pflag"

	"github.com/infroware/janus/pkg/recording"
	"github.com/infroware/janus/pkg/session"
)

// RecordingOptions are the flags of session recording.
type RecordingOptions struct {
	// Store is --recording-store: empty for <data-dir>/recordings, a
	// directory, or s3://bucket/prefix.
	Store            string
	S3Endpoint       string
	S3Region         string
	S3Credentials    string
	RecordInput      bool
	RecordingFailure string
}

// NewRecordingOptions returns the defaults: recordings in the data
// directory, no input, fail closed.
func NewRecordingOptions() *RecordingOptions {
	return &RecordingOptions{RecordingFailure: string(session.RecordingFailClose)}
}

// AddFlags registers the recording flags.
func (o *RecordingOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.Store, "recording-store", o.Store, "Where exec sessions are recorded (asciicast v2, in chunks of a second, with the sha256 of the whole document on the Session): a directory, s3://bucket/prefix for S3-compatible object storage shared by several replicas, or empty for <data-dir>/recordings.")
	fs.StringVar(&o.S3Endpoint, "recording-s3-endpoint", o.S3Endpoint, "URL of the S3-compatible server of an s3:// --recording-store (addressed path-style); empty for AWS S3 in --recording-s3-region.")
	fs.StringVar(&o.S3Region, "recording-s3-region", "us-east-1", "Region of an s3:// --recording-store.")
	fs.StringVar(&o.S3Credentials, "recording-s3-credentials-file", o.S3Credentials, "AWS shared-credentials file (its [default] profile) for an s3:// --recording-store, re-read on every write; empty for AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN from the environment.")
	fs.BoolVar(&o.RecordInput, "record-input", o.RecordInput, "Also record what users type (asciicast \"i\" events). Off by default: people type passwords.")
	fs.StringVar(&o.RecordingFailure, "recording-failure", o.RecordingFailure, "What becomes of a session that cannot be recorded: close (refuse it, or cut it with a notice when its recording fails mid-session) or continue (run it unrecorded and log it).")
}

// Validate reports problems with the recording flags.
func (o *RecordingOptions) Validate() []error {
	var errs []error
	switch session.RecordingFailure(o.RecordingFailure) {
	case session.RecordingFailClose, session.RecordingFailContinue:
	default:
		errs = append(errs, fmt.Errorf("--recording-failure must be close or continue, not %q", o.RecordingFailure))
	}
	if strings.HasPrefix(o.Store, "s3://") {
		if _, _, err := recording.ParseS3URL(o.Store); err != nil {
			errs = append(errs, fmt.Errorf("--recording-store: %w", err))
		}
	} else if o.S3Endpoint != "" || o.S3Credentials != "" {
		errs = append(errs, fmt.Errorf("--recording-s3-endpoint and --recording-s3-credentials-file need an s3:// --recording-store"))
	}
	return errs
}

// Shared reports whether the store is one every replica reaches: object
// storage. A directory is the replica's own, unless a shared volume.
func (o *RecordingOptions) Shared() bool { return strings.HasPrefix(o.Store, "s3://") }

// Config opens the store and says how the engine records.
func (o *RecordingOptions) Config(dataDir string) (*session.RecordingConfig, error) {
	store, err := recording.OpenStore(o.Store, dataDir, recording.S3Config{
		Endpoint: o.S3Endpoint, Region: o.S3Region, CredentialsFile: o.S3Credentials,
	})
	if err != nil {
		return nil, fmt.Errorf("opening the recording store: %w", err)
	}
	return &session.RecordingConfig{
		Store: store, RecordInput: o.RecordInput, Failure: session.RecordingFailure(o.RecordingFailure),
	}, nil
}

package recording

import (
	"fmt"
	"path/filepath"
	"strings"
)

// OpenStore opens the store --recording-store names: empty for
// <dataDir>/recordings, s3://bucket/prefix for a bucket (s3 says how to
// reach it), or a directory.
func OpenStore(spec, dataDir string, s3 S3Config) (Store, error) {
	switch {
	case spec == "":
		if dataDir == "" {
			return nil, fmt.Errorf("--recording-store is empty and there is no --data-dir to keep recordings in")
		}
		return NewDirStore(filepath.Join(dataDir, "recordings"))
	case strings.HasPrefix(spec, "s3://"):
		bucket, prefix, err := ParseS3URL(spec)
		if err != nil {
			return nil, fmt.Errorf("--recording-store: %w", err)
		}
		s3.Bucket, s3.Prefix = bucket, prefix
		return NewS3Store(s3)
	case strings.Contains(spec, "://"):
		return nil, fmt.Errorf("--recording-store %q: want a directory or s3://bucket/prefix", spec)
	}
	return NewDirStore(spec)
}

package recording

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The S3 credentials come from --recording-s3-credentials-file, read
// again for every request so a rotated Secret is used at once; a file that
// cannot be used is named in the error, never quoted.
func TestS3CredentialsFileIsReadForEveryRequestAndNeverQuoted(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "credentials")
	write := func(content string) {
		t.Helper()
		if err := os.WriteFile(file, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	store := &S3Store{cfg: S3Config{CredentialsFile: file}}

	write("[default]\naws_access_key_id = AKIDFIRST\naws_secret_access_key = first-secret\n")
	if c, err := store.credentials(); err != nil || c.accessKey != "AKIDFIRST" || c.secretKey != "first-secret" {
		t.Fatalf("credentials: %+v %v", c, err)
	}
	write("[default]\naws_access_key_id = AKIDSECOND\naws_secret_access_key = second-secret\n")
	if c, err := store.credentials(); err != nil || c.secretKey != "second-secret" {
		t.Fatalf("credentials after rotation: %+v %v, want the new file's", c, err)
	}

	const leaked = "half-a-secret-key"
	write("[other]\naws_secret_access_key = " + leaked + "\n[another]\n")
	for _, path := range []string{file, filepath.Join(dir, "missing"), dir} {
		store.cfg.CredentialsFile = path
		_, err := store.credentials()
		if err == nil || !strings.Contains(err.Error(), path) || strings.Contains(err.Error(), leaked) {
			t.Errorf("credentials from %s: %v, want an error naming the file and not its content", path, err)
		}
	}
}

package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/infroware/janus/pkg/recording"
)

// TestSessionRecordingLandsInTheS3Bucket restarts janus-apiserver with an
// s3:// recording store on a real S3-compatible server (versitygw) and
// runs a session through the aggregator: the Session points into the
// bucket, the objects are there (read from the server's own files, not
// through Janus's S3 client), they join into the document the API serves
// as the recording, and its sha256 is the one on the Session.
func TestSessionRecordingLandsInTheS3Bucket(t *testing.T) {
	s3, err := bed.StartS3(bg(t), "janus-recordings")
	if err != nil {
		t.Fatal(err)
	}
	restartJanusWith(t, "--recording-store=s3://janus-recordings/e2e",
		"--recording-s3-endpoint="+s3.Endpoint, "--recording-s3-credentials-file="+s3.CredentialsFile)

	ar := activeRequest(t, time.Hour, "payments")
	ctx, cancel := context.WithTimeout(context.Background(), execDeadline)
	defer cancel()
	out, errOut, err := execAs(ctx, t, "alice", ar.Name, "payments", "payments-api-0", "sh", "-c", `printf 's3-recorded-%s\n' $((6*7))`)
	if err != nil {
		t.Fatalf("exec through Janus: %v (stderr %q)", err, errOut)
	}
	if out != "s3-recorded-42\n" {
		t.Fatalf("stdout %q", out)
	}
	id := endedSessionRecording(t, ar.Name)
	var rec struct{ location, sha string }
	eventually(t, "the Session holds the sealed recording", func() error {
		sessions, err := requestSessions(t, ar.Name)
		if err != nil {
			return err
		}
		r := sessions[0].Status.Recording
		if r == nil || r.SHA256 == "" {
			return fmt.Errorf("status.recording %+v, want one with a sha256", r)
		}
		rec.location, rec.sha = r.Location, r.SHA256
		return nil
	})
	if want := "s3://janus-recordings/e2e/" + id + "/"; rec.location != want {
		t.Errorf("status.recording.location %q, want %q", rec.location, want)
	}

	// What the bucket holds, as the server keeps it on disk.
	dir := filepath.Join(s3.ObjectDir, "janus-recordings", "e2e", id)
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("the recording is not in the bucket: %v", err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	slices.Sort(names)
	if !slices.Contains(names, "00000000.cast") || !slices.Contains(names, "seal.json") {
		t.Fatalf("the bucket holds %v under %s; want the header chunk and seal.json", names, dir)
	}
	var doc []byte
	for _, n := range names {
		if !strings.HasSuffix(n, ".cast") {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil {
			t.Fatal(err)
		}
		doc = append(doc, data...)
	}
	if sum := sha256.Sum256(doc); hex.EncodeToString(sum[:]) != rec.sha {
		t.Errorf("the chunks in the bucket hash to %x, the Session says %s", sum, rec.sha)
	}
	_, events, err := recording.Parse(doc)
	if err != nil {
		t.Fatalf("parsing the recording from the bucket: %v", err)
	}
	if got := recording.Output(events); !bytes.Equal(got, []byte(out)) {
		t.Errorf("the bucket's recording holds output %q, the client received %q", got, out)
	}

	served, err := fetchRecording(t, janusAs(t, "alice"), id)
	if err != nil {
		t.Fatalf("alice fetching her recording from the S3 store: %v", err)
	}
	if !bytes.Equal(served, doc) {
		t.Errorf("sessions/%s/recording serves %d bytes, the bucket holds %d", id, len(served), len(doc))
	}
}

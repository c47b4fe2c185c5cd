package kubectljanus

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1alpha1 "github.com/infroware/janus/pkg/apis/janus/v1alpha1"
	"github.com/infroware/janus/pkg/recording"
)

type verifyOptions struct {
	*Options
	name string
}

func newVerifyCommand(o *Options) *cobra.Command {
	v := &verifyOptions{Options: o}
	return &cobra.Command{
		Use:   "verify SESSION",
		Short: "Check that a closed session's recording is the one Janus sealed",
		Long: `Fetch a closed session's recording and check it against its Session: the
size and sha256 of what was received must be what Janus recorded when the
session closed, the document must be asciicast v2 throughout, and its header
must name the session, its request, user, cluster and pod. Exits 0 when all
of that holds, and otherwise says what does not and exits 1. An open
session has no final digest yet.`,
		Example:           `  kubectl janus verify alice-x7k2p-4f2a9`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeSessionNames(o, v1alpha1.SessionClosed),
		RunE: func(cmd *cobra.Command, args []string) error {
			v.name = args[0]
			return v.run(cmd.Context())
		},
	}
}

func (v *verifyOptions) run(ctx context.Context) error {
	c, err := v.clients()
	if err != nil {
		return err
	}
	se, err := c.sessions().Get(ctx, v.name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	if err := verifiable(se); err != nil {
		return err
	}
	stream, err := c.sessionSubresource(v.name, "recording").Stream(ctx)
	if err != nil {
		return err
	}
	defer stream.Close()
	doc, err := io.ReadAll(stream)
	if err != nil {
		return fmt.Errorf("reading the recording of session %s (%d bytes received): %w", v.name, len(doc), err)
	}
	verified, err := verifyRecording(se, doc)
	if err != nil {
		return err
	}
	fmt.Fprintln(v.Out, verified)
	return nil
}

// verifiable tells whether the Session holds a final digest to check a
// recording against.
func verifiable(se *v1alpha1.Session) error {
	switch rec := se.Status.Recording; {
	case se.Status.Phase != v1alpha1.SessionClosed:
		return fmt.Errorf("session %s is still open: its recording has no final digest until the session closes; verify it then", se.Name)
	case rec == nil:
		return fmt.Errorf("session %s has no recording", se.Name)
	case rec.SHA256 == "":
		return fmt.Errorf("session %s is closed but records no digest of its recording, so there is nothing to verify it against", se.Name)
	}
	return nil
}

// verifyRecording checks doc, the recording as received, against what the
// Session records. It returns the line to print when all holds, or an
// error listing every check that failed.
func verifyRecording(se *v1alpha1.Session, doc []byte) (string, error) {
	rec := se.Status.Recording
	sum := sha256.Sum256(doc)
	digest := hex.EncodeToString(sum[:])
	var problems []string
	if int64(len(doc)) != rec.Size {
		problems = append(problems, fmt.Sprintf("it is %d bytes, the Session records %d", len(doc), rec.Size))
	}
	if !strings.EqualFold(digest, rec.SHA256) {
		problems = append(problems, fmt.Sprintf("its sha256 is %s, the Session records %s", digest, rec.SHA256))
	}
	if rec.Format != "" && rec.Format != recording.Format {
		problems = append(problems, fmt.Sprintf("the Session records its format as %q, not %s", rec.Format, recording.Format))
	}
	h, events, err := recording.Parse(doc)
	if err != nil {
		problems = append(problems, "it is not an asciicast v2 document: "+err.Error())
	} else {
		problems = append(problems, headerMismatches(h.Janus, se)...)
	}
	if len(problems) > 0 {
		return "", errors.New("session " + se.Name + ": the recording does not verify:\n  " + strings.Join(problems, "\n  "))
	}
	var length float64
	if len(events) > 0 {
		length = events[len(events)-1].Time
	}
	return fmt.Sprintf("session %s: recording verified (%s, sha256 %s…, %s, %s events)",
		se.Name, sizeText(len(doc)), digest[:12], lengthText(length), thousands(len(events))), nil
}

// headerMismatches are the ways the recording's header describes another
// session than se.
func headerMismatches(h recording.Metadata, se *v1alpha1.Session) []string {
	var out []string
	for _, f := range []struct{ what, header, session string }{
		{"session", h.Session, se.Name},
		{"request", h.Request, se.Spec.Request},
		{"user", h.User, se.Spec.User.Username},
		{"cluster", h.Cluster, se.Spec.Cluster},
		{"namespace", h.Namespace, se.Spec.Namespace},
		{"pod", h.Pod, se.Spec.Pod},
	} {
		if f.header != f.session {
			out = append(out, fmt.Sprintf("its header names %s %q, the Session %q", f.what, oneLine(f.header), oneLine(f.session)))
		}
	}
	return out
}

// sizeText is n bytes in binary units, as people read sizes.
func sizeText(n int) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB"}
	v, i := float64(n), 0
	for v >= 1024 && i < len(units)-1 {
		v /= 1024
		i++
	}
	if i == 0 || v >= 10 {
		return fmt.Sprintf("%.0f %s", math.Round(v), units[i])
	}
	return fmt.Sprintf("%.1f %s", v, units[i])
}

// lengthText is how long a recording runs: 3 min 12 s.
func lengthText(seconds float64) string {
	d := time.Duration(seconds * float64(time.Second)).Round(time.Second)
	if seconds < 10 {
		return strconv.FormatFloat(seconds, 'f', 1, 64) + " s"
	}
	h, m, s := int(d.Hours()), int(d.Minutes())%60, int(d.Seconds())%60
	switch {
	case h > 0:
		return fmt.Sprintf("%d h %d min %d s", h, m, s)
	case m > 0:
		return fmt.Sprintf("%d min %d s", m, s)
	}
	return fmt.Sprintf("%d s", s)
}

// thousands writes n with commas between groups of three digits.
func thousands(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

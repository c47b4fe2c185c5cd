package kubectljanus

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	utilexec "k8s.io/client-go/util/exec"
	"k8s.io/streaming/pkg/httpstream"
)

// hintedError is an error with a next step for the user, printed on its
// own line after the error.
type hintedError struct {
	err  error
	hint string
}

func (e *hintedError) Error() string { return e.err.Error() }
func (e *hintedError) Unwrap() error { return e.err }

// errorMessage is what kubectl would print for err, and its exit code: 1,
// or the remote command's exit code after exec. It follows kubectl's
// cmdutil.CheckErr, which lives in k8s.io/kubectl and is not a dependency.
func errorMessage(err error) (string, int) {
	var exitErr utilexec.ExitError
	if errors.As(err, &exitErr) {
		return exitErr.Error(), exitErr.ExitStatus()
	}
	msg := standardMessage(err)
	var hinted *hintedError
	if errors.As(err, &hinted) {
		msg += "\n" + hinted.hint
	}
	return msg, 1
}

func standardMessage(err error) string {
	// A refused exec upgrade carries the server's Status, which client-go
	// wraps without Unwrap; kubectl shows the Status.
	var upgrade *httpstream.UpgradeFailureError
	if errors.As(err, &upgrade) && upgrade.Cause != nil {
		err = upgrade.Cause
	}
	var status *apierrors.StatusError
	if errors.As(err, &status) {
		if apierrors.IsInvalid(status) {
			return invalidMessage(status.Status())
		}
		return serverMessage(status.Status())
	}
	var apiStatus apierrors.APIStatus
	if errors.As(err, &apiStatus) {
		return serverMessage(apiStatus.Status())
	}
	if clientcmd.IsConfigurationInvalid(err) {
		return "Error in configuration: " + err.Error()
	}
	var urlErr *url.Error
	if errors.As(err, &urlErr) {
		if strings.Contains(urlErr.Err.Error(), "connection refused") {
			host := urlErr.URL
			if u, err := url.Parse(urlErr.URL); err == nil {
				host = u.Host
			}
			return fmt.Sprintf("The connection to the server %s was refused - did you specify the right host or port?", host)
		}
		return fmt.Sprintf("Unable to connect to the server: %v", urlErr.Err)
	}
	msg := err.Error()
	if !strings.HasPrefix(msg, "error: ") {
		msg = "error: " + msg
	}
	return msg
}

func serverMessage(s metav1.Status) string {
	switch {
	case s.Reason == metav1.StatusReasonUnauthorized:
		return fmt.Sprintf("error: You must be logged in to the server (%s)", s.Message)
	case s.Reason != "":
		return fmt.Sprintf("Error from server (%s): %s", s.Reason, s.Message)
	}
	return "Error from server: " + s.Message
}

// invalidMessage lists a 422's field errors as kubectl does: one cause on
// the same line, several as a bulleted list.
func invalidMessage(s metav1.Status) string {
	d := s.Details
	if d == nil {
		if s.Message != "" {
			return "The request is invalid: " + s.Message
		}
		return "The request is invalid"
	}
	prefix := "The request is invalid"
	if d.Kind != "" || d.Name != "" {
		prefix = fmt.Sprintf("The %s %q is invalid", d.Kind, d.Name)
	} else if s.Message != "" && len(d.Causes) == 0 {
		prefix += ": " + s.Message
	}
	var causes []string
	seen := map[string]bool{}
	for _, c := range d.Causes {
		msg := fmt.Sprintf("%s: %s", c.Field, c.Message)
		if !seen[msg] {
			seen[msg] = true
			causes = append(causes, msg)
		}
	}
	switch len(causes) {
	case 0:
		return prefix
	case 1:
		return prefix + ": " + causes[0]
	}
	return prefix + ": \n* " + strings.Join(causes, "\n* ")
}

// withConflictHint tells the user what to do when a decision was refused
// because the request is not, or no longer, in the state it was made for.
func withConflictHint(err error, name string) error {
	if !apierrors.IsConflict(err) {
		return err
	}
	return &hintedError{err: err, hint: fmt.Sprintf(
		"Nothing was applied. Look at the request again with 'kubectl janus describe %s' before deciding.", name)}
}

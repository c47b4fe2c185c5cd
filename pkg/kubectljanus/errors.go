package kubectljanus

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	utilexec "k8s.io/client-go/util/exec"
	cmdutil "k8s.io/kubectl/pkg/cmd/util"
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

// errorMessage is what kubectl prints for err, and its exit code: 1, or
// the remote command's exit code after exec. kubectl's CheckErr writes
// both; it recognises only unwrapped errors, so the cause is found first.
func errorMessage(err error) (string, int) {
	msg, code := kubectlCheck(kubectlCause(err))
	var hinted *hintedError
	if errors.As(err, &hinted) {
		msg += "\n" + hinted.hint
	}
	return msg, code
}

// kubectlCause is the error inside err that kubectl knows how to print.
func kubectlCause(err error) error {
	var exitErr utilexec.ExitError
	if errors.As(err, &exitErr) {
		return exitErr
	}
	// A refused exec upgrade carries the server's Status, which client-go
	// wraps without Unwrap; kubectl shows the Status.
	var upgrade *httpstream.UpgradeFailureError
	if errors.As(err, &upgrade) && upgrade.Cause != nil {
		err = upgrade.Cause
	}
	var status *apierrors.StatusError
	if errors.As(err, &status) {
		return status
	}
	var urlErr *url.Error
	if errors.As(err, &urlErr) {
		return urlErr
	}
	return err
}

// checkMu serialises kubectlCheck: kubectl's fatal handler is global.
var checkMu sync.Mutex

// kubectlCheck runs kubectl's CheckErr with its fatal handler catching the
// message and code instead of exiting.
func kubectlCheck(err error) (msg string, code int) {
	checkMu.Lock()
	defer checkMu.Unlock()
	cmdutil.BehaviorOnFatal(func(m string, c int) { msg, code = m, c })
	defer cmdutil.DefaultBehaviorOnFatal()
	cmdutil.CheckErr(err)
	return strings.TrimSuffix(msg, "\n"), code
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

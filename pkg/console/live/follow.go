package live

import (
	"context"
	"errors"
	"fmt"
	"html"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"

	v1alpha1client "github.com/infroware/janus/pkg/generated/clientset/versioned/typed/janus/v1alpha1"
)

// watchTimeout bounds each watch, so a long stream re-watches (and RBAC
// decides again) now and then even when the API keeps it open.
const watchTimeout = 2 * time.Minute

// maxFailures is how many API errors in a row a stream survives before it
// ends and leaves reconnecting to the browser.
const maxFailures = 4

// errEnded is a stream ended on purpose, the browser told why.
var errEnded = errors.New("ended")

// follower turns the watch of one scope into events.
type follower struct {
	requests v1alpha1client.AccessRequestInterface
	list     metav1.ListOptions
	out      *sender
	opts     Options
}

// run watches from rv (the list the page showed; empty: from now) until ctx
// ends, the browser goes away or the API refuses.
func (f *follower) run(ctx context.Context, rv string) error {
	tick := time.NewTicker(f.opts.Tick)
	defer tick.Stop()
	heartbeat := time.NewTicker(f.opts.Heartbeat)
	defer heartbeat.Stop()
	failures := 0
	for {
		fresh := rv == ""
		if fresh {
			latest, err := f.latest(ctx)
			if err != nil {
				if done, endErr := f.failed(ctx, err, &failures); done {
					return endErr
				}
				continue
			}
			rv = latest
		}
		opts := f.list
		opts.ResourceVersion = rv
		opts.AllowWatchBookmarks = true
		timeout := int64(watchTimeout.Seconds())
		opts.TimeoutSeconds = &timeout
		w, err := f.requests.Watch(ctx, opts)
		if err != nil {
			if gap(err) && !fresh {
				// Too old (or not one the API knows): start again from
				// now, and have the page re-fetch what it may have missed.
				rv = ""
				if err := f.changed(""); err != nil {
					return err
				}
				continue
			}
			if done, endErr := f.failed(ctx, err, &failures); done {
				return endErr
			}
			continue
		}
		next, err := f.follow(ctx, w, rv, tick.C, heartbeat.C)
		w.Stop()
		if err == nil {
			failures = 0
			rv = next
			continue
		}
		if gap(err) && !fresh {
			rv = ""
			if err := f.changed(""); err != nil {
				return err
			}
			continue
		}
		var status apierrors.APIStatus
		if errors.As(err, &status) {
			// A gap right after a fresh list is retried as a failure,
			// so it cannot spin.
			rv = next
			if gap(err) {
				rv = ""
			}
			if done, endErr := f.failed(ctx, err, &failures); done {
				return endErr
			}
			continue
		}
		return err
	}
}

// latest is the resourceVersion of the scope's list now.
func (f *follower) latest(ctx context.Context) (string, error) {
	opts := f.list
	opts.Limit = 1
	l, err := f.requests.List(ctx, opts)
	if err != nil {
		return "", fmt.Errorf("listing access requests: %w", err)
	}
	return l.ResourceVersion, nil
}

// follow sends events for w until it closes (nil and the last
// resourceVersion: watch again from there), ctx ends or the browser goes
// away (their error), or the API sends an error (an APIStatus).
func (f *follower) follow(ctx context.Context, w watch.Interface, rv string, tick, heartbeat <-chan time.Time) (string, error) {
	for {
		select {
		case <-ctx.Done():
			return rv, ctx.Err()
		case <-tick:
			if err := f.out.event(eventTick, "", time.Now().UTC().Format(time.RFC3339)); err != nil {
				return rv, err
			}
		case <-heartbeat:
			if err := f.out.comment("keep-alive"); err != nil {
				return rv, err
			}
		case ev, open := <-w.ResultChan():
			if !open {
				return rv, nil
			}
			if ev.Type == watch.Error {
				return rv, apierrors.FromObject(ev.Object)
			}
			if obj, err := meta.Accessor(ev.Object); err == nil && obj.GetResourceVersion() != "" {
				rv = obj.GetResourceVersion()
			}
			if ev.Type == watch.Bookmark {
				// Nothing changed up to rv: a reconnecting browser starts there.
				if err := f.out.id(rv); err != nil {
					return rv, err
				}
				continue
			}
			// Changes that came together are one re-fetch.
			rv = drain(w.ResultChan(), rv)
			if err := f.changed(rv); err != nil {
				return rv, err
			}
		}
	}
}

// drain consumes the events already waiting on ch, returning the last
// resourceVersion among them; an error event or a closed channel is left
// for the next receive to see.
func drain(ch <-chan watch.Event, rv string) string {
	for {
		select {
		case ev, open := <-ch:
			if !open || ev.Type == watch.Error {
				return rv
			}
			if obj, err := meta.Accessor(ev.Object); err == nil && obj.GetResourceVersion() != "" {
				rv = obj.GetResourceVersion()
			}
		default:
			return rv
		}
	}
}

func (f *follower) changed(rv string) error {
	return f.out.event(eventChanged, rv, "changed")
}

// failed handles an API error: a refusal ends the stream with the API's
// words; other errors are retried a few times with a pause, then the
// stream ends and the browser reconnects. done says whether to stop.
func (f *follower) failed(ctx context.Context, err error, failures *int) (bool, error) {
	if ctx.Err() != nil {
		return true, ctx.Err()
	}
	if apierrors.IsForbidden(err) || apierrors.IsUnauthorized(err) {
		msg := err.Error()
		var status apierrors.APIStatus
		if errors.As(err, &status) {
			s := status.Status()
			msg = fmt.Sprintf("%d %s: %s", s.Code, s.Reason, s.Message)
		}
		if sendErr := f.out.event(eventEnded, "", html.EscapeString("This page no longer updates by itself; reload it to see changes. The API said: "+msg)); sendErr != nil {
			return true, sendErr
		}
		return true, fmt.Errorf("%w: %w", errEnded, err)
	}
	*failures++
	if *failures >= maxFailures {
		return true, fmt.Errorf("giving up after %d errors in a row: %w", *failures, err)
	}
	pause := time.Duration(1<<*failures) * 250 * time.Millisecond
	select {
	case <-ctx.Done():
		return true, ctx.Err()
	case <-time.After(pause):
		return false, nil
	}
}

// gap says whether err means the watch cannot resume from its
// resourceVersion: expired (410) or not one the API accepts (400).
func gap(err error) bool {
	return apierrors.IsResourceExpired(err) || apierrors.IsGone(err) || apierrors.IsBadRequest(err)
}

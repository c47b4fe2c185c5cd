package testenv

import (
	"fmt"
	"io"
	"time"
)

// progressInterval is how often a long step says it is still going.
const progressInterval = 15 * time.Second

// longStep announces a step that may take minutes on a cold machine (with
// how long it may take, in expect), says every progressInterval that it is
// still going, and returns the function that ends the announcements.
func longStep(progress io.Writer, what, expect string) (done func()) {
	begin := time.Now()
	fmt.Fprintf(progress, "testbed: %s (%s) ...\n", what, expect)
	stop := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		tick := time.NewTicker(progressInterval)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				fmt.Fprintf(progress, "testbed: still %s (%s so far)\n", what, time.Since(begin).Round(time.Second))
			}
		}
	}()
	return func() {
		close(stop)
		<-finished
	}
}

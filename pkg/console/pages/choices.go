package pages

import "time"

// durationSteps are the durations the decision forms offer.
var durationSteps = []time.Duration{15 * time.Minute, 30 * time.Minute, time.Hour, 2 * time.Hour, 4 * time.Hour}

// extendChoices are the durations an approver may add to an active
// request. The API moves expiresAt by the duration but never past
// activatedAt + the maximum (the Cluster's spec.maxDuration, or the
// server's --max-duration, which the console cannot read). With the
// Cluster's maximum known, steps beyond what is left are not offered and
// what is left is offered itself, so the longest choice reaches the
// maximum; atLimit says nothing is left.
func extendChoices(activatedAt, expiresAt time.Time, clusterMax time.Duration) (choices []string, atLimit bool) {
	if activatedAt.IsZero() || expiresAt.IsZero() {
		return nil, false
	}
	if clusterMax <= 0 {
		for _, d := range durationSteps {
			choices = append(choices, shortDuration(d))
		}
		return choices, false
	}
	left := activatedAt.Add(clusterMax).Sub(expiresAt).Truncate(time.Minute)
	if left < time.Minute {
		return nil, true
	}
	for _, d := range durationSteps {
		if d < left {
			choices = append(choices, shortDuration(d))
		}
	}
	return append(choices, shortDuration(left)), false
}

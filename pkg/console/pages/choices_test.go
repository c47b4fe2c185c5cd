package pages

import (
	"slices"
	"testing"
	"time"
)

func TestDurationChoicesOnlyShorten(t *testing.T) {
	// The API grants the shortest duration any approver set, so a longer
	// choice would be accepted and have no effect: none is offered.
	for _, tc := range []struct {
		requested time.Duration
		want      []string
	}{
		{time.Hour, []string{"15m", "30m"}},
		{8 * time.Hour, []string{"15m", "30m", "1h", "2h", "4h"}},
		{15 * time.Minute, nil},
		{90 * time.Minute, []string{"15m", "30m", "1h"}},
	} {
		if got := durationChoices(tc.requested); !slices.Equal(got, tc.want) {
			t.Errorf("durationChoices(%s) = %v, want %v", tc.requested, got, tc.want)
		}
	}
}

func TestExtendChoicesReachTheClusterMaximum(t *testing.T) {
	began := time.Date(2026, 12, 2, 3, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name        string
		activated   time.Time
		ends        time.Time
		max         time.Duration
		want        []string
		wantAtLimit bool
	}{
		{"no cluster maximum: the steps, the API caps", began, began.Add(time.Hour), 0, []string{"15m", "30m", "1h", "2h", "4h"}, false},
		{"8h maximum, 1h granted: up to the 7h left", began, began.Add(time.Hour), 8 * time.Hour, []string{"15m", "30m", "1h", "2h", "4h", "7h"}, false},
		{"2h maximum, 1h granted", began, began.Add(time.Hour), 2 * time.Hour, []string{"15m", "30m", "1h"}, false},
		{"less than a step left", began, began.Add(time.Hour + 50*time.Minute), 2 * time.Hour, []string{"10m"}, false},
		{"seconds left are not offered", began, began.Add(2*time.Hour - 30*time.Second), 2 * time.Hour, nil, true},
		{"at the limit", began, began.Add(2 * time.Hour), 2 * time.Hour, nil, true},
		{"not active yet", time.Time{}, time.Time{}, 2 * time.Hour, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, atLimit := extendChoices(tc.activated, tc.ends, tc.max)
			if !slices.Equal(got, tc.want) || atLimit != tc.wantAtLimit {
				t.Errorf("extendChoices = %v, atLimit %v; want %v, %v", got, atLimit, tc.want, tc.wantAtLimit)
			}
		})
	}
}

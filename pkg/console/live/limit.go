package live

import "sync"

// limiter bounds the streams one person holds at once.
type limiter struct {
	mu   sync.Mutex
	max  int
	open map[string]int
}

func newLimiter(max int) *limiter {
	return &limiter{max: max, open: map[string]int{}}
}

// acquire takes a stream for user; release gives it back. ok is false, and
// nothing taken, when user already holds max.
func (l *limiter) acquire(user string) (release func(), ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.open[user] >= l.max {
		return nil, false
	}
	l.open[user]++
	var once sync.Once
	return func() {
		once.Do(func() {
			l.mu.Lock()
			defer l.mu.Unlock()
			if l.open[user]--; l.open[user] <= 0 {
				delete(l.open, user)
			}
		})
	}, true
}

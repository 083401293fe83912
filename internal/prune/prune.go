// Package prune holds the walk both orchestrators' prunes share: the UTC
// days an interval covers (the buckets of a finished index), and windows
// of rows no larger than what a call's limit has left.
package prune

import "time"

// day is a UTC day, the span of one finished-index bucket.
const day = 24 * time.Hour

// Days returns the first instants of the UTC days [since, before) covers,
// in order; none when before is not after since.
func Days(since, before time.Time) []time.Time {
	var days []time.Time
	for t := since.UTC().Truncate(day); t.Before(before); t = t.Add(day) {
		days = append(days, t)
	}
	return days
}

// Windows runs run over rows in order, in windows of at most width rows
// and of no more rows than left reports before each window: a window
// never holds more rows than the limit has left, so the limit holds
// whatever each row turns out to be. It stops, reporting more, when left
// reports none left while rows remain, and at run's first error.
func Windows[Row any](rows []Row, width int, left func() int, run func(window []Row) error) (more bool, err error) {
	for len(rows) > 0 {
		n := left()
		if n <= 0 {
			return true, nil
		}
		n = min(n, width, len(rows))
		if err := run(rows[:n]); err != nil {
			return false, err
		}
		rows = rows[n:]
	}
	return false, nil
}

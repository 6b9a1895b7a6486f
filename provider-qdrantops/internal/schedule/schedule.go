// Package schedule is the tick math of a BackupSchedule: when its cron
// schedule fires, which tick a reconcile that woke up late should still run,
// how many it skipped, and the deterministic name of the Backup of a tick. It
// is pure: no clock reads and no I/O, every time is passed in, so the
// controller can requeue for the exact next tick and tests can walk across
// DST changes and years of downtime.
package schedule

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// maxCount bounds how many ticks Due walks to count missed ones, so that a
// "* * * * *" schedule after a year of downtime (525,600 ticks) costs a
// bounded reconcile. Missed stops at this value.
const maxCount = 100000

// searchLimit is how far back prevTick looks for a tick. robfig/cron gives up
// looking forward after five years, so a schedule that fires at all fires at
// least once in such a window.
const searchLimit = 5 * 366 * 24 * time.Hour

// walkTicks is how many ticks prevTick walks in the window that holds the
// latest tick before it halves the window instead. The first window that
// holds a tick of an evenly spaced schedule holds two or three, so hourly or
// minutely schedules cost a couple of Next calls; bursts and seasons such as
// "* * * 1-6 *" are halved.
const walkTicks = 4

// ErrTimeZonePrefix is returned for a spec that carries its own time zone.
var ErrTimeZonePrefix = errors.New("the time zone of a schedule is set by timeZone, not by a CRON_TZ= or TZ= prefix")

// ErrNeverFires is returned for a spec no date satisfies, such as "0 0 30 2 *".
var ErrNeverFires = errors.New("the schedule never fires")

// ErrEveryNotSeconds is returned for an @every delay that is not a whole
// positive number of seconds, which robfig/cron would silently round.
var ErrEveryNotSeconds = errors.New("an @every delay must be a whole number of seconds, at least 1s")

// ErrLocalTimeZone is returned for the time zone "Local", which would make
// the ticks depend on the host the provider runs on.
var ErrLocalTimeZone = errors.New(`the time zone "Local" depends on the provider's host: name an IANA zone such as Europe/Berlin, or leave it empty for UTC`)

// A Schedule is a parsed cron schedule in its time zone. The zero Schedule is
// not usable: build one with Parse.
type Schedule struct {
	cron cron.Schedule
	loc  *time.Location
}

// Location is the schedule's time zone, UTC when it names none.
func (s Schedule) Location() *time.Location { return s.loc }

// Parse parses a robfig/cron/v3 standard schedule: five fields (minute, hour,
// day of the month, month of the year, day of the week) or a descriptor
// (@yearly, @monthly, @weekly, @daily, @hourly, @every <duration>). timeZone is an IANA name, UTC
// when empty. The time zone is only taken from timeZone, so that what admission
// checks and what status shows is the whole story; a spec with a CRON_TZ= or
// TZ= prefix is refused. @every schedules count from the previous tick in
// absolute time and ignore the time zone.
//
// Across DST changes robfig/cron reads the fields as wall-clock time: a tick
// in the hour skipped in spring does not fire that day ("30 2 * * *" in
// Europe/Berlin has no tick on 2026-03-29), and a tick in the hour repeated
// in autumn fires twice, an hour apart (02:30 CEST and 02:30 CET on
// 2026-10-25). Both ticks have their own Unix time, so their Backups have
// their own names.
func Parse(spec, timeZone string) (Schedule, error) {
	trimmed := strings.TrimSpace(spec)
	if strings.HasPrefix(trimmed, "CRON_TZ=") || strings.HasPrefix(trimmed, "TZ=") {
		return Schedule{}, fmt.Errorf("cannot parse schedule %q: %w", spec, ErrTimeZonePrefix)
	}
	if timeZone == "Local" {
		return Schedule{}, fmt.Errorf("cannot load time zone %q: %w", timeZone, ErrLocalTimeZone)
	}
	// LoadLocation("") is UTC.
	loc, err := time.LoadLocation(timeZone)
	if err != nil {
		return Schedule{}, fmt.Errorf("cannot load time zone %q: %w", timeZone, err)
	}
	// robfig rounds an @every delay down to whole seconds, at least one:
	// refuse what it would change rather than run another schedule.
	if d, ok := strings.CutPrefix(trimmed, "@every "); ok {
		if dur, err := time.ParseDuration(strings.TrimSpace(d)); err == nil && (dur < time.Second || dur%time.Second != 0) {
			return Schedule{}, fmt.Errorf("cannot parse schedule %q: %w", spec, ErrEveryNotSeconds)
		}
	}
	c, err := cron.ParseStandard(trimmed)
	if err != nil {
		return Schedule{}, fmt.Errorf("cannot parse schedule %q: %w", spec, err)
	}
	// The parser puts schedules without a prefix in time.Local, which robfig
	// then reads as "the zone of the time passed to Next": pin the zone.
	if s, ok := c.(*cron.SpecSchedule); ok {
		s.Location = loc
	}
	// robfig returns the zero time when it finds no tick within five years.
	if c.Next(time.Unix(0, 0)).IsZero() {
		return Schedule{}, fmt.Errorf("cannot parse schedule %q: %w", spec, ErrNeverFires)
	}
	return Schedule{cron: c, loc: loc}, nil
}

// Next returns the first tick strictly after after, in after's location.
// Ticks fall on whole seconds. It is the zero time when robfig finds no tick
// within five years (a leap-day schedule after 2096): the caller then has no
// tick to wait for.
func (s Schedule) Next(after time.Time) time.Time {
	return s.cron.Next(after)
}

// NextAfter returns the first tick strictly after now of the ticks that
// follow last, the latest tick handled (or the schedule's creation): what a
// reconcile at now waits for. Cron schedules fire at fixed times, so it is
// Next(now); @every schedules count from last, so their ticks stay in step
// with the ones Due returns whenever the controller wakes. Zero when there is
// no such tick within robfig's five years.
func (s Schedule) NextAfter(last, now time.Time) time.Time {
	c, ok := s.cron.(cron.ConstantDelaySchedule)
	if !ok {
		return s.Next(now)
	}
	first := c.Next(last)
	if first.After(now) {
		return first
	}
	return first.Add(time.Duration(int64(now.Sub(first)/c.Delay)+1) * c.Delay)
}

// Period returns the gap between the tick at or before at and the tick after
// it: how often the schedule fires around at (OverdueCutoff says when a
// schedule is overdue). Period is zero when robfig
// finds no tick within five years either side of at (a leap-day schedule
// around 2100, which is no leap year).
func (s Schedule) Period(at time.Time) time.Duration {
	if d, ok := s.cron.(cron.ConstantDelaySchedule); ok {
		return d.Delay
	}
	prev := s.prevTick(at)
	if prev.IsZero() {
		return 0
	}
	next := s.Next(prev)
	if next.IsZero() {
		return 0
	}
	return next.Sub(prev)
}

// OverdueCutoff returns the tick before the latest tick at or before now. A
// schedule whose last successful Backup completed before it has let two ticks
// pass without one: the latest tick's Backup is not missing yet, it has until
// the next tick to complete. The cutoff is zero, and nothing is overdue, when
// fewer than two ticks lie at or before now within the search limit.
//
// last is what NextAfter and Due take: the latest tick handled, or the
// schedule's creation. Cron schedules fire at fixed times and do not read it.
// @every schedules count their ticks from it (to the whole second): last is a
// tick of the series, and so are the ones before it, one Delay apart. Right
// after a tick was handled the cutoff is the tick before it, as for a cron
// schedule; a schedule created at last gets a cutoff before its creation
// until its second tick, so it is not overdue before then.
func (s Schedule) OverdueCutoff(last, now time.Time) time.Time {
	if c, ok := s.cron.(cron.ConstantDelaySchedule); ok {
		next := s.NextAfter(last, now)
		if next.IsZero() {
			return time.Time{}
		}
		return next.Add(-2 * c.Delay)
	}
	latest := s.prevTick(now)
	if latest.IsZero() {
		return time.Time{}
	}
	return s.before(latest)
}

// prevTick returns the latest tick at or before at, or the zero time if there
// is none within searchLimit. It costs O(log) calls of Next, however dense
// the schedule: it looks back from at in windows that double in length, with
// one Next call per window, until one holds a tick. It walks the first few
// ticks of that window, which is the whole of it for most schedules; if there
// are more, it halves the gap between a time lo whose next tick is at or
// before at and at itself until it is a nanosecond wide, and the latest tick
// is the one after lo.
//
// The search is sound because Next never moves back as its argument moves
// on, and because a window is at most about eight years long while its
// latest tick lies in its older half (the younger half held none): every Next
// call in it looks at most about four years ahead, within robfig's five.
func (s Schedule) prevTick(at time.Time) time.Time {
	for w := time.Minute; w <= 2*searchLimit; w *= 2 {
		// Next(t) > t, so the window starts one nanosecond early to include
		// a tick on its first instant.
		t := s.Next(at.Add(-w - time.Nanosecond))
		if t.IsZero() || t.After(at) {
			continue
		}
		for range walkTicks {
			n := s.Next(t)
			if n.IsZero() || n.After(at) {
				return t
			}
			t = n
		}
		// Next(lo) <= at < Next(hi): the latest tick is in (lo, hi].
		lo := t.Add(-time.Nanosecond)
		for hi := at; hi.Sub(lo) > time.Nanosecond; {
			mid := lo.Add(hi.Sub(lo) / 2)
			if n := s.Next(mid); !n.IsZero() && !n.After(at) {
				lo = mid
			} else {
				hi = mid
			}
		}
		return s.Next(lo)
	}
	return time.Time{}
}

// Due is what a reconcile at now should do about the ticks since the last one
// it handled.
type Due struct {
	// Tick is the latest tick t with last < t <= now, zero if there is none.
	Tick time.Time
	// Missed counts the ticks in (last, now] that are not run: all of them
	// when Run is false, all but Tick when Run is true. It stops at 100,000.
	Missed int64
	// Run is true when Tick should get a Backup: it is non-zero and no older
	// than the starting deadline.
	Run bool
	// LatestMissed is the latest of the Missed ticks (Tick itself when Run
	// is false), zero when Missed is 0.
	LatestMissed time.Time
}

// Due returns the tick to run at now, given last, the latest tick already
// handled (or, before the first one, when the schedule was created: Due walks
// from it). After downtime only the latest missed tick is caught up, and only
// when now is at most startingDeadline past it; zero means no deadline. Older
// ticks are counted in Missed.
func (s Schedule) Due(last, now time.Time, startingDeadline time.Duration) Due {
	var d Due
	tick, n := s.ticks(last, now)
	if tick.IsZero() {
		return d
	}
	d.Tick = tick
	d.Run = startingDeadline == 0 || now.Sub(tick) <= startingDeadline
	if d.Run {
		n--
	}
	d.Missed = min(n, maxCount)
	switch {
	case d.Missed == 0:
	case !d.Run:
		d.LatestMissed = tick
	default:
		d.LatestMissed = s.before(tick)
	}
	return d
}

// before returns the tick before tick, which is one; for a cron schedule it
// is zero when that tick is beyond the search limit.
func (s Schedule) before(tick time.Time) time.Time {
	if c, ok := s.cron.(cron.ConstantDelaySchedule); ok {
		return tick.Add(-c.Delay)
	}
	return s.prevTick(tick.Add(-time.Nanosecond))
}

// ticks returns the latest tick in (last, now] and how many ticks that
// interval holds, counted up to one more than maxCount.
func (s Schedule) ticks(last, now time.Time) (time.Time, int64) {
	if c, ok := s.cron.(cron.ConstantDelaySchedule); ok {
		// @every fires every Delay from the last tick (robfig drops the
		// fraction of a second of the time it starts from); count without
		// walking, however long the downtime.
		first := c.Next(last)
		if first.After(now) {
			return time.Time{}, 0
		}
		n := int64(now.Sub(first)/c.Delay) + 1
		return first.Add(time.Duration(n-1) * c.Delay), min(n, maxCount+1)
	}
	var latest time.Time
	var n int64
	for t := s.Next(last); !t.IsZero() && !t.After(now); t = s.Next(t) {
		latest = t
		n++
		if n > maxCount {
			// Too many to count: the latest is found searching back from now.
			return s.prevTick(now), n
		}
	}
	return latest, n
}

package schedule

import (
	"math/rand"
	"reflect"
	"strings"
	"testing"
	"testing/quick"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/robfig/cron/v3"
)

// at parses an RFC 3339 time; the tests' clock is whatever they pass in.
func at(t *testing.T, s string) time.Time {
	t.Helper()
	tm, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatalf("time.Parse(%q): %v", s, err)
	}
	return tm
}

func mustParse(t *testing.T, spec, tz string) Schedule {
	t.Helper()
	s, err := Parse(spec, tz)
	if err != nil {
		t.Fatalf("Parse(%q, %q): %v", spec, tz, err)
	}
	return s
}

func TestParseErrors(t *testing.T) {
	// What the parsers themselves say, so the test checks that the message
	// is carried without copying it.
	cronMessage := func(spec string) string {
		_, err := cron.ParseStandard(spec)
		if err == nil {
			t.Fatalf("cron.ParseStandard(%q) accepted it", spec)
		}
		return err.Error()
	}
	zoneMessage := func(tz string) string {
		_, err := time.LoadLocation(tz)
		if err == nil {
			t.Fatalf("time.LoadLocation(%q) accepted it", tz)
		}
		return err.Error()
	}

	type want struct {
		err     error
		message string
	}
	cases := map[string]struct {
		reason   string
		spec     string
		timeZone string
		want     want
	}{
		"MinuteOutOfRange": {
			reason: "A field out of range is refused with the cron parser's message.",
			spec:   "61 * * * *",
			want:   want{message: cronMessage("61 * * * *")},
		},
		"WrongFieldCount": {
			reason: "Only the standard five fields are accepted: a seconds field is refused.",
			spec:   "0 0 * * * *",
			want:   want{message: cronMessage("0 0 * * * *")},
		},
		"UnknownDescriptor": {
			reason: "An unknown descriptor is refused with the cron parser's message.",
			spec:   "@fortnightly",
			want:   want{message: cronMessage("@fortnightly")},
		},
		"UnknownTimeZone": {
			reason:   "An unknown IANA name is refused with the time package's message.",
			spec:     "@daily",
			timeZone: "Mars/Olympus",
			want:     want{message: zoneMessage("Mars/Olympus")},
		},
		"LocalTimeZone": {
			reason:   "Local would make ticks depend on the provider's host.",
			spec:     "@daily",
			timeZone: "Local",
			want:     want{err: ErrLocalTimeZone},
		},
		"CronTZPrefix": {
			reason: "The time zone comes only from timeZone, so CRON_TZ= is refused.",
			spec:   "CRON_TZ=Europe/Berlin 0 3 * * *",
			want:   want{err: ErrTimeZonePrefix},
		},
		"TZPrefix": {
			reason: "The time zone comes only from timeZone, so TZ= is refused.",
			spec:   " TZ=UTC 0 3 * * *",
			want:   want{err: ErrTimeZonePrefix},
		},
		"NeverFires": {
			reason: "February has no 30th: robfig would return the zero time for ever.",
			spec:   "0 0 30 2 *",
			want:   want{err: ErrNeverFires},
		},
		"EveryZero": {
			reason: "robfig turns @every 0s into every second; refuse it.",
			spec:   "@every 0s",
			want:   want{err: ErrEveryNotSeconds},
		},
		"EveryFraction": {
			reason: "robfig rounds @every 1500ms down to 1s; refuse it.",
			spec:   "@every 1500ms",
			want:   want{err: ErrEveryNotSeconds},
		},
		"EveryGarbage": {
			reason: "A delay that is no duration is refused with the cron parser's message.",
			spec:   "@every often",
			want:   want{message: cronMessage("@every often")},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := Parse(tc.spec, tc.timeZone)
			if err == nil {
				t.Fatalf("\n%s\nParse(%q, %q): want an error, got none", tc.reason, tc.spec, tc.timeZone)
			}
			if tc.want.err != nil {
				if diff := cmp.Diff(tc.want.err, err, cmpopts.EquateErrors()); diff != "" {
					t.Errorf("\n%s\nParse(%q, %q): -want error, +got error:\n%s", tc.reason, tc.spec, tc.timeZone, diff)
				}
			}
			if !strings.Contains(err.Error(), tc.want.message) {
				t.Errorf("\n%s\nParse(%q, %q): error %q does not carry %q", tc.reason, tc.spec, tc.timeZone, err, tc.want.message)
			}
		})
	}
}

func TestNext(t *testing.T) {
	cases := map[string]struct {
		reason   string
		spec     string
		timeZone string
		after    string
		want     []string
	}{
		"BerlinSpringForwardSkipsTheTick": {
			reason: "On 2026-03-29 Berlin jumps from 02:00 to 03:00: robfig reads 02:30 as wall-clock time, finds no such time that day and fires next on the 30th.",
			spec:   "30 2 * * *", timeZone: "Europe/Berlin",
			after: "2026-03-28T12:00:00Z",
			want:  []string{"2026-03-30T02:30:00+02:00", "2026-03-31T02:30:00+02:00"},
		},
		"BerlinFallBackFiresTwice": {
			reason: "On 2026-10-25 Berlin repeats 02:00-03:00: robfig fires 02:30 in both, an hour apart.",
			spec:   "30 2 * * *", timeZone: "Europe/Berlin",
			after: "2026-10-24T12:00:00Z",
			want:  []string{"2026-10-25T02:30:00+02:00", "2026-10-25T02:30:00+01:00", "2026-10-26T02:30:00+01:00"},
		},
		"NewYorkSpringForwardSkipsTheTick": {
			reason: "On 2026-03-08 New York jumps from 02:00 to 03:00: no 02:30 that day.",
			spec:   "30 2 * * *", timeZone: "America/New_York",
			after: "2026-03-07T12:00:00Z",
			want:  []string{"2026-03-09T02:30:00-04:00", "2026-03-10T02:30:00-04:00"},
		},
		"NewYorkFallBackFiresTwice": {
			reason: "On 2026-11-01 New York repeats 01:00-02:00: 01:30 fires in EDT and again in EST.",
			spec:   "30 1 * * *", timeZone: "America/New_York",
			after: "2026-10-31T12:00:00Z",
			want:  []string{"2026-11-01T01:30:00-04:00", "2026-11-01T01:30:00-05:00", "2026-11-02T01:30:00-05:00"},
		},
		"HourlyAcrossBerlinSpringForward": {
			reason: "Hourly ticks stay an hour apart in absolute time across the skipped hour.",
			spec:   "0 * * * *", timeZone: "Europe/Berlin",
			after: "2026-03-28T23:30:00Z",
			want:  []string{"2026-03-29T01:00:00+01:00", "2026-03-29T03:00:00+02:00", "2026-03-29T04:00:00+02:00"},
		},
		"DailyInBerlin": {
			reason: "@daily is midnight in the schedule's zone, 23 hours apart on the spring-forward day.",
			spec:   "@daily", timeZone: "Europe/Berlin",
			after: "2026-03-28T12:00:00Z",
			want:  []string{"2026-03-29T00:00:00+01:00", "2026-03-30T00:00:00+02:00", "2026-03-31T00:00:00+02:00"},
		},
		"DailyInUTCByDefault": {
			reason: "An empty time zone is UTC, whatever the host's zone.",
			spec:   "@daily",
			after:  "2026-03-28T12:00:00+01:00",
			want:   []string{"2026-03-29T00:00:00Z"},
		},
		"EveryNinetyMinutesAcrossDST": {
			reason: "@every counts absolute time from the previous tick: the skipped Berlin hour changes nothing.",
			spec:   "@every 90m", timeZone: "Europe/Berlin",
			after: "2026-03-29T00:00:00Z",
			want:  []string{"2026-03-29T01:30:00Z", "2026-03-29T03:00:00Z", "2026-03-29T04:30:00Z"},
		},
		"EveryDropsTheFraction": {
			reason: "@every starts from the whole second before after, so ticks fall on whole seconds.",
			spec:   "@every 6h",
			after:  "2026-01-01T00:00:00.75Z",
			want:   []string{"2026-01-01T06:00:00Z", "2026-01-01T12:00:00Z"},
		},
		"ThirtyFirstSkipsShortMonths": {
			reason: "0 0 31 * * only fires in months with a 31st: April, June, September skipped.",
			spec:   "0 0 31 * *",
			after:  "2026-03-31T00:00:00Z",
			want:   []string{"2026-05-31T00:00:00Z", "2026-07-31T00:00:00Z", "2026-08-31T00:00:00Z", "2026-10-31T00:00:00Z"},
		},
		"NoLeapDayIn2100": {
			reason: "After 2096-02-29 the next leap day is 2104-02-29, beyond robfig's five-year search: Next is the zero time.",
			spec:   "0 0 29 2 *",
			after:  "2096-02-29T00:00:00Z",
			want:   []string{"0001-01-01T00:00:00Z"},
		},
		"LeapDay": {
			reason: "0 0 29 2 * fires on leap days only.",
			spec:   "0 0 29 2 *",
			after:  "2024-02-29T00:00:00Z",
			want:   []string{"2028-02-29T00:00:00Z", "2032-02-29T00:00:00Z"},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			s := mustParse(t, tc.spec, tc.timeZone)
			want := make([]time.Time, 0, len(tc.want))
			for _, w := range tc.want {
				want = append(want, at(t, w))
			}
			got := make([]time.Time, 0, len(tc.want))
			for tm := at(t, tc.after); len(got) < len(tc.want); {
				tm = s.Next(tm)
				got = append(got, tm)
			}
			// Instants are compared, not locations.
			if diff := cmp.Diff(want, got, cmpopts.EquateApproxTime(0)); diff != "" {
				t.Errorf("\n%s\nNext from %s: -want, +got:\n%s", tc.reason, tc.after, diff)
			}
		})
	}
}

func TestPeriod(t *testing.T) {
	cases := map[string]struct {
		reason   string
		spec     string
		timeZone string
		at       string
		want     time.Duration
	}{
		"EverySixHoursCron": {
			reason: "0 */6 * * * fires every six hours.",
			spec:   "0 */6 * * *",
			at:     "2026-05-04T13:17:00Z",
			want:   6 * time.Hour,
		},
		"EverySixHoursDescriptor": {
			reason: "@every 6h is its delay.",
			spec:   "@every 6h",
			at:     "2026-05-04T13:17:00Z",
			want:   6 * time.Hour,
		},
		"UnevenBeforeTick": {
			reason: "Between 00:00 and 06:00 the gap is the one from 00:00 to 06:00.",
			spec:   "0 0,6 * * *",
			at:     "2026-05-04T05:59:59Z",
			want:   6 * time.Hour,
		},
		"UnevenAtTick": {
			reason: "At a tick the period starts at that tick: 06:00 to the next 00:00.",
			spec:   "0 0,6 * * *",
			at:     "2026-05-04T06:00:00Z",
			want:   18 * time.Hour,
		},
		"BurstBeforeAGap": {
			reason: "After a burst of ticks, every minute of 03:00-03:59, the period starts at the burst's last tick, 03:59.",
			spec:   "* 3 * * *",
			at:     "2026-05-04T05:00:00Z",
			want:   23*time.Hour + time.Minute,
		},
		"DailyOnSpringForward": {
			reason: "The Berlin day of 2026-03-29 has 23 hours.",
			spec:   "@daily", timeZone: "Europe/Berlin",
			at:   "2026-03-29T12:00:00+02:00",
			want: 23 * time.Hour,
		},
		"ThirtyFirstAcrossApril": {
			reason: "From March 31st to May 31st: 61 days.",
			spec:   "0 0 31 * *",
			at:     "2026-04-15T00:00:00Z",
			want:   61 * 24 * time.Hour,
		},
		"NoTickWithinFiveYears": {
			reason: "2100 is no leap year: after 2096-02-29 robfig finds no tick within five years, so there is no period.",
			spec:   "0 0 29 2 *",
			at:     "2100-03-01T00:00:00Z",
			want:   0,
		},
		"LeapDay": {
			reason: "Far from a tick: from the last leap day to the next, 1461 days.",
			spec:   "0 0 29 2 *",
			at:     "2027-01-01T00:00:00Z",
			want:   1461 * 24 * time.Hour,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got := mustParse(t, tc.spec, tc.timeZone).Period(at(t, tc.at))
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("\n%s\nPeriod(%s): -want, +got:\n%s", tc.reason, tc.at, diff)
			}
		})
	}
}

func TestDue(t *testing.T) {
	type args struct {
		spec     string
		timeZone string
		last     string
		now      string
		deadline time.Duration
	}
	type want struct {
		tick         string
		missed       int64
		run          bool
		latestMissed string
	}
	cases := map[string]struct {
		reason string
		args   args
		want   want
	}{
		"NothingDue": {
			reason: "The last tick was handled and the next is still ahead.",
			args:   args{spec: "0 * * * *", last: "2026-05-04T13:00:00Z", now: "2026-05-04T13:59:59Z", deadline: time.Minute},
			want:   want{},
		},
		"NowIsLast": {
			reason: "A tick that was handled is not due again.",
			args:   args{spec: "0 * * * *", last: "2026-05-04T13:00:00Z", now: "2026-05-04T13:00:00Z"},
			want:   want{},
		},
		"OnTime": {
			reason: "The reconcile that wakes at the tick runs it and missed nothing.",
			args:   args{spec: "0 * * * *", last: "2026-05-04T13:00:00Z", now: "2026-05-04T14:00:00.2Z", deadline: time.Minute},
			want:   want{tick: "2026-05-04T14:00:00Z", run: true},
		},
		"DowntimeWithinDeadline": {
			reason: "After ten hours down one catch-up runs, the latest tick, and nine ticks are missed.",
			args:   args{spec: "0 * * * *", last: "2026-05-04T03:00:00Z", now: "2026-05-04T13:10:00Z", deadline: 15 * time.Minute},
			want:   want{tick: "2026-05-04T13:00:00Z", missed: 9, run: true, latestMissed: "2026-05-04T12:00:00Z"},
		},
		"DowntimePastDeadline": {
			reason: "Past the deadline nothing runs and all ten ticks are missed.",
			args:   args{spec: "0 * * * *", last: "2026-05-04T03:00:00Z", now: "2026-05-04T13:20:00Z", deadline: 15 * time.Minute},
			want:   want{tick: "2026-05-04T13:00:00Z", missed: 10, latestMissed: "2026-05-04T13:00:00Z"},
		},
		"DeadlineIsInclusive": {
			reason: "A reconcile exactly at the deadline still runs the tick.",
			args:   args{spec: "0 * * * *", last: "2026-05-04T12:00:00Z", now: "2026-05-04T13:15:00Z", deadline: 15 * time.Minute},
			want:   want{tick: "2026-05-04T13:00:00Z", run: true},
		},
		"NoDeadline": {
			reason: "A zero deadline catches up however late.",
			args:   args{spec: "@daily", timeZone: "Europe/Berlin", last: "2026-03-01T00:00:00+01:00", now: "2026-03-31T23:00:00+02:00"},
			want:   want{tick: "2026-03-31T00:00:00+02:00", missed: 29, run: true, latestMissed: "2026-03-30T00:00:00+02:00"},
		},
		"EveryAfterDowntime": {
			reason: "@every counts from the last tick: ticks at 01:30, 03:00, 04:30 and 06:00; 06:00 runs.",
			args:   args{spec: "@every 90m", last: "2026-03-29T00:00:00Z", now: "2026-03-29T06:05:00Z", deadline: 10 * time.Minute},
			want:   want{tick: "2026-03-29T06:00:00Z", missed: 3, run: true, latestMissed: "2026-03-29T04:30:00Z"},
		},
		"EveryNothingDue": {
			reason: "@every: the next tick is still ahead.",
			args:   args{spec: "@every 90m", last: "2026-03-29T00:00:00Z", now: "2026-03-29T01:29:59Z", deadline: 10 * time.Minute},
			want:   want{},
		},
		"FallBackRepeatedHour": {
			reason: "Down across the Berlin fall-back: both 02:30 ticks are in the window; the CET one runs, the CEST one is missed.",
			args:   args{spec: "30 2 * * *", timeZone: "Europe/Berlin", last: "2026-10-24T02:30:00+02:00", now: "2026-10-25T02:31:00+01:00", deadline: 5 * time.Minute},
			want:   want{tick: "2026-10-25T02:30:00+01:00", missed: 1, run: true, latestMissed: "2026-10-25T02:30:00+02:00"},
		},
		"EveryMinuteAfterAYear": {
			reason: "A year of minutely ticks is not walked to the end: Missed stops at 100,000 and the latest tick is still found.",
			args:   args{spec: "* * * * *", last: "2025-05-04T13:00:00Z", now: "2026-05-04T13:00:30Z", deadline: time.Minute},
			want:   want{tick: "2026-05-04T13:00:00Z", missed: maxCount, run: true, latestMissed: "2026-05-04T12:59:00Z"},
		},
		"EveryMinuteAfterAYearPastDeadline": {
			reason: "Missed stops at 100,000 also when the latest tick is not run.",
			args:   args{spec: "* * * * *", last: "2025-05-04T13:00:00Z", now: "2026-05-04T13:02:30Z", deadline: 10 * time.Second},
			want:   want{tick: "2026-05-04T13:02:00Z", missed: maxCount, latestMissed: "2026-05-04T13:02:00Z"},
		},
		"EverySecondAfterAYear": {
			reason: "@every 1s over a year is counted exactly, then capped.",
			args:   args{spec: "@every 1s", last: "2025-05-04T13:00:00Z", now: "2026-05-04T13:00:00.5Z", deadline: time.Minute},
			want:   want{tick: "2026-05-04T13:00:00Z", missed: maxCount, run: true, latestMissed: "2026-05-04T12:59:59Z"},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			s := mustParse(t, tc.args.spec, tc.args.timeZone)
			got := s.Due(at(t, tc.args.last), at(t, tc.args.now), tc.args.deadline)
			want := Due{Missed: tc.want.missed, Run: tc.want.run}
			if tc.want.tick != "" {
				want.Tick = at(t, tc.want.tick)
			}
			if tc.want.latestMissed != "" {
				want.LatestMissed = at(t, tc.want.latestMissed)
			}
			if diff := cmp.Diff(want, got, cmpopts.EquateApproxTime(0)); diff != "" {
				t.Errorf("\n%s\nDue(...): -want, +got:\n%s", tc.reason, diff)
			}
		})
	}
}

func TestOverdueCutoff(t *testing.T) {
	type args struct {
		spec     string
		timeZone string
		last     string
		now      string
	}
	cases := map[string]struct {
		reason string
		args   args
		want   string // empty for the zero time
	}{
		"Hourly": {
			reason: "At 13:20 the 13:00 Backup still has until 14:00: only a last success before 12:00 misses two ticks.",
			args:   args{spec: "0 * * * *", last: "2026-05-04T13:00:00Z", now: "2026-05-04T13:20:00Z"},
			want:   "2026-05-04T12:00:00Z",
		},
		"HourlyOnTheTick": {
			reason: "A tick at exactly now is the latest tick: the cutoff is the one before it.",
			args:   args{spec: "0 * * * *", last: "2026-05-04T12:00:00Z", now: "2026-05-04T13:00:00Z"},
			want:   "2026-05-04T12:00:00Z",
		},
		"DailyInBerlinAcrossSpringForward": {
			reason: "Berlin midnights on both sides of the 23-hour day of 2026-03-29: the cutoff is the CET midnight, 23 hours before the CEST one.",
			args:   args{spec: "@daily", timeZone: "Europe/Berlin", last: "2026-03-30T00:00:00+02:00", now: "2026-03-30T12:00:00+02:00"},
			want:   "2026-03-29T00:00:00+01:00",
		},
		"DailyInBerlinAcrossFallBack": {
			reason: "Berlin midnights on both sides of the 25-hour day of 2026-10-25.",
			args:   args{spec: "@daily", timeZone: "Europe/Berlin", last: "2026-10-26T00:00:00+01:00", now: "2026-10-26T12:00:00+01:00"},
			want:   "2026-10-25T00:00:00+02:00",
		},
		"RepeatedHourInBerlin": {
			reason: "02:30 fires twice on 2026-10-25, an hour apart: after the CET one the cutoff is the CEST one.",
			args:   args{spec: "30 2 * * *", timeZone: "Europe/Berlin", last: "2026-10-25T02:30:00+01:00", now: "2026-10-25T02:40:00+01:00"},
			want:   "2026-10-25T02:30:00+02:00",
		},
		"WeekdaysOnMonday": {
			reason: "Weekdays only: on Monday just after 03:00 the tick before is Friday's, so a success on Friday is not overdue over the weekend.",
			args:   args{spec: "0 3 * * 1-5", last: "2026-05-04T03:00:00Z", now: "2026-05-04T03:00:30Z"},
			want:   "2026-05-01T03:00:00Z",
		},
		"WeekdaysOnTuesday": {
			reason: "Weekdays only: on Tuesday just after 03:00 the tick before is Monday's.",
			args:   args{spec: "0 3 * * 1-5", last: "2026-05-05T03:00:00Z", now: "2026-05-05T03:00:30Z"},
			want:   "2026-05-04T03:00:00Z",
		},
		"LeapDayBeyondTheSearch": {
			reason: "2100 is no leap year: the tick before 2104-02-29 is 2096-02-29, eight years back and beyond the search, so there is no cutoff.",
			args:   args{spec: "0 0 29 2 *", last: "2104-02-29T00:00:00Z", now: "2104-03-01T00:00:00Z"},
		},
		"EveryFromALastTick": {
			reason: "@every 90m from 00:00: ticks at 01:30, 03:00, 04:30 and 06:00; at 06:05 the cutoff is 04:30.",
			args:   args{spec: "@every 90m", last: "2026-03-29T00:00:00Z", now: "2026-03-29T06:05:00Z"},
			want:   "2026-03-29T04:30:00Z",
		},
		"EveryOneTickPassed": {
			reason: "@every 90m: after the first tick, 01:30, the tick before it is last, 00:00.",
			args:   args{spec: "@every 90m", last: "2026-03-29T00:00:00Z", now: "2026-03-29T01:40:00Z"},
			want:   "2026-03-29T00:00:00Z",
		},
		"EveryCreatedOffASecond": {
			reason: "@every counts from the whole second of last, so a schedule created at 00:00:00.75 gets the cutoff 00:00:00, before its creation: not overdue after one tick.",
			args:   args{spec: "@every 90m", last: "2026-03-29T00:00:00.75Z", now: "2026-03-29T01:30:00.5Z"},
			want:   "2026-03-29T00:00:00Z",
		},
		"EveryNoneYet": {
			reason: "@every 90m, last 00:00, no tick since: last counts as a tick, so the cutoff is the one before it, 22:30 the day before. A schedule whose last success is older is overdue between ticks too, not only until its tick is handled.",
			args:   args{spec: "@every 90m", last: "2026-03-29T00:00:00Z", now: "2026-03-29T01:29:59Z"},
			want:   "2026-03-28T22:30:00Z",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			s := mustParse(t, tc.args.spec, tc.args.timeZone)
			var want time.Time
			if tc.want != "" {
				want = at(t, tc.want)
			}
			got := s.OverdueCutoff(at(t, tc.args.last), at(t, tc.args.now))
			if diff := cmp.Diff(want, got, cmpopts.EquateApproxTime(0)); diff != "" {
				t.Errorf("\n%s\nOverdueCutoff(%s, %s): -want, +got:\n%s", tc.reason, tc.args.last, tc.args.now, diff)
			}
		})
	}
}

// countingCron counts the ticks a Schedule asks robfig for.
type countingCron struct {
	cron.Schedule
	calls int
}

func (c *countingCron) Next(t time.Time) time.Time {
	c.calls++
	return c.Schedule.Next(t)
}

func TestDueIsBounded(t *testing.T) {
	// A "* * * * *" schedule down for a year has 525,600 ticks to count; a
	// reconcile walks at most maxCount of them (and a few to find the latest
	// tick), so its cost does not grow with the downtime.
	s := mustParse(t, "* * * * *", "")
	c := &countingCron{Schedule: s.cron}
	s.cron = c
	got := s.Due(at(t, "2025-05-04T13:00:00Z"), at(t, "2026-05-04T13:00:30Z"), time.Minute)
	if want := at(t, "2026-05-04T13:00:00Z"); !got.Tick.Equal(want) {
		t.Errorf("Due(...).Tick: want %s, got %s", want, got.Tick)
	}
	if limit := maxCount + 10; c.calls > limit {
		t.Errorf("Due(...) asked for %d ticks, want at most %d", c.calls, limit)
	}
}

func TestPrevTickIsBounded(t *testing.T) {
	// prevTick runs on every reconcile (Period, OverdueCutoff): it must cost
	// a few Next calls per doubling window and per halving of the one that
	// holds the tick, not a walk over every tick of that window.
	cases := map[string]struct {
		reason string
		spec   string
		at     string
		want   string
	}{
		"DenseButSeasonal": {
			reason: "Every minute of January to June, asked on 31 December: half a year of minutely ticks lie between the window's start and the latest tick.",
			spec:   "* * * 1-6 *",
			at:     "2026-12-31T23:59:59Z",
			want:   "2026-06-30T23:59:00Z",
		},
		"LeapDay": {
			reason: "Leap days only, asked near 2027: the latest tick is almost three years back.",
			spec:   "0 0 29 2 *",
			at:     "2026-12-31T23:59:59Z",
			want:   "2024-02-29T00:00:00Z",
		},
		"OnTheTick": {
			reason: "A tick at exactly at is the latest one.",
			spec:   "* * * 1-6 *",
			at:     "2026-06-30T23:59:00Z",
			want:   "2026-06-30T23:59:00Z",
		},
	}
	// Twenty-odd doubling windows up to the search limit, then about 60
	// halvings of a nanosecond-precise window of up to eight years.
	const limit = 200
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			s := mustParse(t, tc.spec, "")
			c := &countingCron{Schedule: s.cron}
			s.cron = c
			got := s.prevTick(at(t, tc.at))
			if diff := cmp.Diff(at(t, tc.want), got, cmpopts.EquateApproxTime(0)); diff != "" {
				t.Errorf("\n%s\nprevTick(%s): -want, +got:\n%s", tc.reason, tc.at, diff)
			}
			if c.calls > limit {
				t.Errorf("\n%s\nprevTick(%s) asked for %d ticks, want at most %d", tc.reason, tc.at, c.calls, limit)
			}
		})
	}
}

// dueInput is a schedule, a window (last, now] of up to 40 days around the
// 2026 DST changes, and a starting deadline. Lookback is how far back from
// any time a cron spec surely has two ticks, so a walk that finds the second-
// latest tick need not start far back for a dense spec.
type dueInput struct {
	Spec, TimeZone string
	Lookback       time.Duration
	Last, Now      time.Time
	Deadline       time.Duration
}

func (dueInput) Generate(r *rand.Rand, _ int) reflect.Value {
	const day = 24 * time.Hour
	// Four days hold two ticks of the daily specs even when spring forward
	// skips one; the longest two gaps of "0 0 31 * *" are 61 days each.
	specs := []struct {
		spec, tz string
		lookback time.Duration
	}{
		{"*/7 * * * *", "", day},
		{"30 2 * * *", "Europe/Berlin", 4 * day},
		{"30 1 * * *", "America/New_York", 4 * day},
		{"0 */6 * * *", "America/New_York", 4 * day},
		{"@daily", "Europe/Berlin", 4 * day},
		{"0 0 31 * *", "", 130 * day},
		{"@every 90m", "", 0},
		{"@every 370s", "", 0},
		{"* 3 * * *", "Europe/Berlin", 4 * day},
	}
	deadlines := []time.Duration{0, time.Second, time.Minute, time.Hour, 24 * time.Hour}
	sp := specs[r.Intn(len(specs))]
	// From 2026-02-15, so March and November changes fall in many windows;
	// nanoseconds, so windows start and end off whole seconds too.
	last := time.Unix(1771113600, 0).Add(time.Duration(r.Int63n(int64(270 * 24 * time.Hour))))
	now := last.Add(time.Duration(r.Int63n(int64(40 * 24 * time.Hour))))
	return reflect.ValueOf(dueInput{Spec: sp.spec, TimeZone: sp.tz, Lookback: sp.lookback, Last: last, Now: now, Deadline: deadlines[r.Intn(len(deadlines))]})
}

func TestDueProperties(t *testing.T) {
	// Due and Period agree with walking every tick of (last, now] with Next:
	// the latest one is the Tick, the others are missed, Period at now is the
	// gap from that tick to the next, and OverdueCutoff is the tick before
	// the latest one. This covers @every, which Due counts without walking,
	// and the backward search Period and OverdueCutoff use.
	agree := func(in dueInput) bool {
		s, err := Parse(in.Spec, in.TimeZone)
		if err != nil {
			t.Fatalf("Parse(%q, %q): %v", in.Spec, in.TimeZone, err)
		}
		var ticks []time.Time
		for tm := s.Next(in.Last); !tm.After(in.Now); tm = s.Next(tm) {
			ticks = append(ticks, tm)
		}
		var want Due
		if len(ticks) > 0 {
			want.Tick = ticks[len(ticks)-1]
			want.Run = in.Deadline == 0 || in.Now.Sub(want.Tick) <= in.Deadline
			want.Missed = int64(len(ticks))
			if want.Run {
				want.Missed--
			}
			if want.Missed > 0 {
				want.LatestMissed = ticks[want.Missed-1]
			}
		}
		got := s.Due(in.Last, in.Now, in.Deadline)
		if diff := cmp.Diff(want, got, cmpopts.EquateApproxTime(0)); diff != "" {
			t.Logf("Due(%s, %s, %s) for %q in %q: -want, +got:\n%s", in.Last, in.Now, in.Deadline, in.Spec, in.TimeZone, diff)
			return false
		}
		// The first tick after now, walking from last.
		var next time.Time
		for tm := s.Next(in.Last); !tm.IsZero(); tm = s.Next(tm) {
			if tm.After(in.Now) {
				next = tm
				break
			}
		}
		if got := s.NextAfter(in.Last, in.Now); !got.Equal(next) {
			t.Logf("NextAfter(%s, %s) for %q in %q: want %s, got %s", in.Last, in.Now, in.Spec, in.TimeZone, next, got)
			return false
		}
		// The tick before the latest tick at or before now: for @every the
		// series counts from the whole second of last, for cron schedules the
		// walk starts early enough to hold two ticks.
		var cutoff time.Time
		if c, ok := s.cron.(cron.ConstantDelaySchedule); ok {
			first := in.Last.Truncate(time.Second)
			series := append([]time.Time{first.Add(-c.Delay), first}, ticks...)
			cutoff = series[len(series)-2]
		} else {
			var walked []time.Time
			for tm := s.Next(in.Now.Add(-in.Lookback)); !tm.After(in.Now); tm = s.Next(tm) {
				walked = append(walked, tm)
			}
			if len(walked) >= 2 {
				cutoff = walked[len(walked)-2]
			}
		}
		if got := s.OverdueCutoff(in.Last, in.Now); !got.Equal(cutoff) {
			t.Logf("OverdueCutoff(%s, %s) for %q in %q: want %s, got %s", in.Last, in.Now, in.Spec, in.TimeZone, cutoff, got)
			return false
		}
		if len(ticks) > 0 {
			if want, got := s.Next(want.Tick).Sub(want.Tick), s.Period(in.Now); got != want {
				t.Logf("Period(%s) for %q in %q: want %s, got %s", in.Now, in.Spec, in.TimeZone, want, got)
				return false
			}
		}
		return true
	}
	if err := quick.Check(agree, &quick.Config{MaxCount: 100}); err != nil {
		t.Errorf("Due, NextAfter, Period and OverdueCutoff must agree with a walk over every tick: %v", err)
	}
}

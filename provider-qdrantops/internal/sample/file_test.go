package sample

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const sum = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"

type modifier func(*File)

func file(mods ...modifier) File {
	f := File{FormatVersion: FormatVersion, BackupUID: "uid-1", Collection: "products", Points: []Point{
		{ID: json.RawMessage(`1`), SHA256: sum},
		{ID: json.RawMessage(`"5c56c793-69f3-4fbf-87e6-c4bf54c28c26"`), SHA256: sum},
		{ID: json.RawMessage(`2`), SHA256: sum},
	}}
	for _, m := range mods {
		m(&f)
	}
	return f
}

func withPoints(p ...Point) modifier { return func(f *File) { f.Points = p } }

func TestFileValidate(t *testing.T) {
	cases := map[string]struct {
		reason string
		f      File
		want   string // "" for valid
	}{
		"Valid":        {"Canonical ids, once each, with digests.", file(), ""},
		"NoPoints":     {"An empty collection has an empty sample.", file(withPoints()), ""},
		"Version":      {"Only known formats are valid.", file(func(f *File) { f.FormatVersion = 2 }), "format version 2, want 1"},
		"NoUID":        {"A sample names its Backup.", file(func(f *File) { f.BackupUID = "" }), "names no Backup uid"},
		"NoCollection": {"And its collection.", file(func(f *File) { f.Collection = "" }), "names no collection"},
		"BadSum":       {"Every point has a sha256.", file(withPoints(Point{ID: json.RawMessage(`1`), SHA256: "abc"})), "point 1 has no valid sha256"},
		"UpperCaseSum": {"In lower-case hex.", file(withPoints(Point{ID: json.RawMessage(`1`), SHA256: strings.ToUpper(sum)})), "point 1 has no valid sha256"},
		"Twice":        {"An id appears once.", file(withPoints(Point{ID: json.RawMessage(`1`), SHA256: sum}, Point{ID: json.RawMessage(`1`), SHA256: sum})), "point 1 appears twice"},
		"UpperUUID":    {"A UUID is written as Qdrant writes it.", file(withPoints(Point{ID: json.RawMessage(`"5C56C793-69F3-4FBF-87E6-C4BF54C28C26"`), SHA256: sum})), "is not written as Qdrant writes it"},
		"BadID":        {"Ids are numbers or UUIDs.", file(withPoints(Point{ID: json.RawMessage(`-3`), SHA256: sum})), "neither an unsigned integer nor a UUID"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got := ""
			if err := tc.f.Validate(); err != nil {
				got = err.Error()
			}
			if tc.want == "" && got != "" || tc.want != "" && !strings.Contains(got, tc.want) {
				t.Errorf("%s\nValidate(): want %q, got %q", tc.reason, tc.want, got)
			}
		})
	}
}

func TestFileRoundTrip(t *testing.T) {
	a, err := Encode(file())
	if err != nil {
		t.Fatal(err)
	}
	// The same sample, its points in another order, has the same bytes.
	f := file()
	f.Points[0], f.Points[2] = f.Points[2], f.Points[0]
	b, err := Encode(f)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(a), string(b)); diff != "" {
		t.Errorf("Encode depends on the order of the points: -first, +second:\n%s", diff)
	}
	// Points are in the order a Selector returns their ids.
	s := NewSelector(10)
	for _, p := range file().Points {
		if err := s.Add(p.ID); err != nil {
			t.Fatal(err)
		}
	}
	got, err := Decode(a)
	if err != nil {
		t.Fatal(err)
	}
	var order, want []string
	for _, p := range got.Points {
		order = append(order, string(p.ID))
	}
	for _, id := range s.IDs() {
		want = append(want, string(id))
	}
	if diff := cmp.Diff(want, order); diff != "" {
		t.Errorf("point order: -selector's, +file's:\n%s", diff)
	}
	if got.BackupUID != "uid-1" || got.Collection != "products" || len(got.Points) != 3 {
		t.Errorf("Decode(Encode(f)): %+v", got)
	}
	if _, err := Encode(file(func(f *File) { f.BackupUID = "" })); err == nil {
		t.Error("Encode wrote an invalid file")
	}
}

func TestDecodeRefuses(t *testing.T) {
	cases := map[string]struct {
		reason string
		in     string
		want   string
	}{
		"NotJSON": {"Garbage is not a sample.", "{", "cannot parse sample file"},
		"Future":  {"A newer format is refused, naming both versions.", `{"formatVersion":2}`, "sample file format version 2 is not supported (this provider reads version 1)"},
		"DuplicateID": {"Each id once.", `{"formatVersion":1,"backupUID":"u","collection":"c","points":[{"id":1,"sha256":"` + sum + `"},{"id":1,"sha256":"` + sum + `"}]}`,
			"point 1 appears twice"},
		"Uncanonical": {"Ids as Qdrant writes them.", `{"formatVersion":1,"backupUID":"u","collection":"c","points":[{"id":"5C56C793-69F3-4FBF-87E6-C4BF54C28C26","sha256":"` + sum + `"}]}`,
			"not written as Qdrant writes it"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := Decode([]byte(tc.in))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%s\nDecode: want an error containing %q, got %v", tc.reason, tc.want, err)
			}
		})
	}
}

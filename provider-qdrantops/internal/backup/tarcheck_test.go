package backup

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"testing"
	"testing/iotest"
)

func tarArchive(t *testing.T, size int) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := tar.NewWriter(&buf)
	if err := w.WriteHeader(&tar.Header{Name: "0/segments/a.tar", Mode: 0o644, Size: int64(size)}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(bytes.Repeat([]byte{7}, size)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestTarCheck(t *testing.T) {
	whole := tarArchive(t, 5000)
	zeroContent := func() []byte {
		// A file of zeros: a cut inside it leaves zeros at the end, but not
		// on a block boundary unless the cut falls on one.
		var buf bytes.Buffer
		w := tar.NewWriter(&buf)
		_ = w.WriteHeader(&tar.Header{Name: "z", Mode: 0o644, Size: 8192})
		_, _ = w.Write(make([]byte, 8192))
		_ = w.Close()
		return buf.Bytes()
	}()
	cases := map[string]struct {
		reason string
		stream []byte
		wantOK bool
	}{
		"Whole":                {reason: "A whole archive passes.", stream: whole, wantOK: true},
		"Empty":                {reason: "An empty body is not a snapshot.", stream: nil},
		"NotTar":               {reason: "Bytes that are not a tar archive fail.", stream: bytes.Repeat([]byte("not a tar"), 1000)},
		"NoEndMarker":          {reason: "An archive cut on a block boundary, before its end marker, fails.", stream: whole[:len(whole)-tarEnd]},
		"CutMidBlock":          {reason: "An archive cut mid-block fails.", stream: whole[:len(whole)-700]},
		"OnlyEndMarker":        {reason: "An empty archive holds no shard.", stream: make([]byte, tarEnd)},
		"ZerosCutOffBoundary":  {reason: "A cut inside zero content that is not block-aligned fails.", stream: zeroContent[:tarBlock+3000]},
		"WholeWithZeroContent": {reason: "Zero content does not confuse a whole archive.", stream: zeroContent, wantOK: true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			for _, r := range map[string]io.Reader{
				"OneRead":     bytes.NewReader(tc.stream),
				"ByteAtATime": iotest.OneByteReader(bytes.NewReader(tc.stream)),
				"HalfReads":   iotest.HalfReader(bytes.NewReader(tc.stream)),
			} {
				got, err := io.ReadAll(newTarCheck(r))
				if tc.wantOK != (err == nil) {
					t.Errorf("%s\nReadAll: want ok=%v, got error %v", tc.reason, tc.wantOK, err)
				}
				if err != nil && !errors.Is(err, ErrNotSnapshot) {
					t.Errorf("%s\nwant ErrNotSnapshot, got %v", tc.reason, err)
				}
				if !bytes.Equal(got, tc.stream) {
					t.Errorf("%s\nthe check changed the bytes passing through", tc.reason)
				}
			}
		})
	}
}

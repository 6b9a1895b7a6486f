package backup

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// A shard snapshot is a tar archive (Qdrant writes it with the tar crate):
// it starts with a header block whose checksum is right and ends with the
// end-of-archive marker, two blocks of zeros. Checking both while the bytes
// stream past costs nothing, and catches what the transport may not: a
// stream that ends cleanly but early, an empty body, or something that is
// not a snapshot at all.
const (
	tarBlock = 512
	// tarEnd is the end-of-archive marker's length.
	tarEnd = 2 * tarBlock
)

// ErrNotSnapshot says that a stream is not a whole tar archive.
var ErrNotSnapshot = errors.New("not a whole shard snapshot")

// tarCheck passes a stream through and, at its end, fails instead of
// returning io.EOF unless what passed was a whole tar archive.
type tarCheck struct {
	r     io.Reader
	total int64
	head  [tarBlock]byte
	// tail holds the last tarEnd bytes seen, as a ring.
	tail [tarEnd]byte
}

func newTarCheck(r io.Reader) *tarCheck { return &tarCheck{r: r} }

func (c *tarCheck) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.see(p[:n])
	if err == io.EOF { // io.Reader returns io.EOF itself at the end.
		if verr := c.verify(); verr != nil {
			return n, verr
		}
	}
	return n, err
}

// see records the head and, in a ring where the byte at stream offset o sits
// at o%tarEnd, the last tarEnd bytes.
func (c *tarCheck) see(b []byte) {
	if c.total < tarBlock {
		copy(c.head[c.total:], b)
	}
	skip := max(0, len(b)-tarEnd)
	c.total += int64(skip)
	for _, x := range b[skip:] {
		c.tail[c.total%tarEnd] = x
		c.total++
	}
}

// lastBytes returns the last tarEnd bytes (fewer in a shorter stream) in
// stream order.
func (c *tarCheck) lastBytes() []byte {
	if c.total < tarEnd {
		return c.tail[:c.total]
	}
	i := c.total % tarEnd
	return append(append([]byte(nil), c.tail[i:]...), c.tail[:i]...)
}

func (c *tarCheck) verify() error {
	switch {
	case c.total == 0:
		return fmt.Errorf("%w: the stream is empty", ErrNotSnapshot)
	case c.total < tarBlock+tarEnd || c.total%tarBlock != 0:
		return fmt.Errorf("%w: %d bytes is not a whole number of tar blocks holding at least one entry", ErrNotSnapshot, c.total)
	case !validHeader(c.head[:]):
		return fmt.Errorf("%w: it does not start with a tar header", ErrNotSnapshot)
	case !isZero(c.lastBytes()):
		return fmt.Errorf("%w: it ends without the tar end-of-archive marker (cut short?)", ErrNotSnapshot)
	}
	return nil
}

// validHeader checks a tar header block's checksum: the sum of its bytes,
// the checksum field counted as spaces.
func validHeader(h []byte) bool {
	if isZero(h) {
		return false
	}
	// The checksum is octal, padded with spaces or NULs on either side.
	field := strings.Trim(string(h[148:156]), " \x00")
	want, err := strconv.ParseInt(field, 8, 64)
	if err != nil {
		return false
	}
	var sum int64
	for i, b := range h {
		if i >= 148 && i < 156 {
			b = ' '
		}
		sum += int64(b)
	}
	return sum == want
}

func isZero(b []byte) bool {
	for _, x := range b {
		if x != 0 {
			return false
		}
	}
	return true
}

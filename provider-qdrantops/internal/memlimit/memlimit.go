// Package memlimit sets the Go runtime's memory limit from the container's
// cgroup memory limit. Without it the garbage collector lets the heap grow to
// twice the live heap whatever the container allows, and a provider moving
// large backups is killed by the OOM killer long before the collector feels
// any pressure. With it, the collector works harder as the heap nears the
// limit instead.
package memlimit

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"runtime/debug"
	"strconv"
	"strings"

	"github.com/crossplane/crossplane-runtime/v2/pkg/logging"
)

// DefaultFraction of the cgroup limit becomes the Go memory limit: the rest
// is left for what the Go runtime does not count (thread stacks outside the
// heap, cgo, page cache charged to the container).
const DefaultFraction = 0.9

// unlimitedV1 is the smallest value cgroup v1 reports for "no limit": the
// kernel reports the largest page-aligned int64 (9223372036854771712), and no
// container has 4 EiB of memory.
const unlimitedV1 = 1 << 62

// Options says where to read the limits and how to apply them. Every field
// is injected so that tests run over fake cgroup trees.
type Options struct {
	// FS is the root filesystem; paths in it have no leading slash
	// ("proc/self/cgroup", "sys/fs/cgroup/memory.max").
	FS fs.FS
	// Getenv reads the environment: an operator's GOMEMLIMIT always wins.
	Getenv func(string) string
	// SetMemoryLimit is runtime/debug.SetMemoryLimit.
	SetMemoryLimit func(int64) int64
	// Fraction of the cgroup limit to use; DefaultFraction when zero.
	Fraction float64
}

// A Result says what Set did and why.
type Result struct {
	// Cgroup is the container's memory limit in bytes; 0 when it has none.
	Cgroup int64
	// Limit is the Go memory limit Set applied; 0 when it applied none.
	Limit int64
	// Reason explains the decision, for the log.
	Reason string
}

// Apply sets the Go memory limit of this process from its cgroup and logs
// what it did. A failure is logged, not fatal: the provider then runs as it
// would without this package.
func Apply(log logging.Logger) {
	r, err := Set(Options{FS: os.DirFS("/"), Getenv: os.Getenv, SetMemoryLimit: debug.SetMemoryLimit})
	if err != nil {
		log.Info("Cannot set the Go memory limit from the cgroup", "error", err)
		return
	}
	log.Info("Go memory limit", "limitBytes", r.Limit, "cgroupLimitBytes", r.Cgroup, "reason", r.Reason)
}

// Set applies a Go memory limit of Fraction times the cgroup's memory limit,
// unless GOMEMLIMIT is set (the runtime has already applied it) or the
// process has no cgroup memory limit.
func Set(o Options) (Result, error) {
	if o.Fraction <= 0 || o.Fraction > 1 {
		o.Fraction = DefaultFraction
	}
	if v := o.Getenv("GOMEMLIMIT"); v != "" {
		return Result{Reason: "GOMEMLIMIT=" + v + " is set"}, nil
	}
	limit, err := CgroupLimit(o.FS)
	if err != nil {
		return Result{}, err
	}
	if limit == 0 {
		return Result{Reason: "the cgroup has no memory limit"}, nil
	}
	goLimit := int64(float64(limit) * o.Fraction)
	o.SetMemoryLimit(goLimit)
	return Result{Cgroup: limit, Limit: goLimit, Reason: fmt.Sprintf("%.0f%% of the cgroup memory limit", o.Fraction*100)}, nil
}

// CgroupLimit returns the memory limit, in bytes, of the cgroup the process
// runs in: the smallest limit on the way from its cgroup up to the root of
// the hierarchy, cgroup v2 (memory.max) first, then v1
// (memory.limit_in_bytes). It returns 0 when there is no limit, or no cgroup
// filesystem at all (not Linux, or not mounted).
func CgroupLimit(fsys fs.FS) (int64, error) {
	v2, v1, err := cgroupPaths(fsys)
	if err != nil {
		return 0, err
	}
	// cgroup v2: "0::/kubepods/pod1/ctr". With a cgroup namespace (the
	// default of container runtimes on v2) the path is "/" and the
	// container's cgroup is mounted at the root.
	if limit, found, err := smallest(fsys, "sys/fs/cgroup", v2, "memory.max"); err != nil || found {
		return limit, err
	}
	if limit, found, err := smallest(fsys, "sys/fs/cgroup/memory", v1, "memory.limit_in_bytes"); err != nil || found {
		return limit, err
	}
	return 0, nil
}

// cgroupPaths reads the process's cgroup v2 path and its cgroup v1 memory
// controller path from /proc/self/cgroup; each is "/" when absent.
func cgroupPaths(fsys fs.FS) (v2, v1 string, err error) {
	v2, v1 = "/", "/"
	b, err := fs.ReadFile(fsys, "proc/self/cgroup")
	if errors.Is(err, fs.ErrNotExist) {
		return v2, v1, nil
	}
	if err != nil {
		return "", "", fmt.Errorf("cannot read the process's cgroups: %w", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		// hierarchy-ID:controller-list:cgroup-path
		f := strings.SplitN(sc.Text(), ":", 3)
		if len(f) != 3 {
			continue
		}
		switch {
		case f[0] == "0" && f[1] == "":
			v2 = f[2]
		case hasController(f[1], "memory"):
			v1 = f[2]
		}
	}
	return v2, v1, nil
}

func hasController(list, c string) bool {
	for _, x := range strings.Split(list, ",") {
		if x == c {
			return true
		}
	}
	return false
}

// smallest reads file in the cgroup at dir under mount and in each of its
// ancestors, and returns the smallest limit found: a limit set on a parent
// (the pod's) binds a child that has none. found is false when no such file
// exists at all, that is when this hierarchy is not mounted. A cgroup path
// that is not under the mount (a namespaced mount showing a host path) falls
// back to the mount's root.
func smallest(fsys fs.FS, mount, dir, file string) (limit int64, found bool, err error) {
	dir = strings.TrimPrefix(path.Clean("/"+dir), "/")
	if _, err := fs.Stat(fsys, path.Join(mount, dir)); err != nil {
		dir = ""
	}
	for {
		l, ok, err := readLimit(fsys, path.Join(mount, dir, file))
		if err != nil {
			return 0, false, err
		}
		if ok {
			found = true
			if l > 0 && (limit == 0 || l < limit) {
				limit = l
			}
		}
		if dir == "" {
			return limit, found, nil
		}
		dir = path.Dir(dir)
		if dir == "." {
			dir = ""
		}
	}
}

// readLimit reads one limit file: ok is false when the file does not exist;
// a limit of 0 means none ("max", or v1's huge value).
func readLimit(fsys fs.FS, name string) (limit int64, ok bool, err error) {
	b, err := fs.ReadFile(fsys, name)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("cannot read %s: %w", name, err)
	}
	s := strings.TrimSpace(string(b))
	if s == "max" {
		return 0, true, nil
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, false, fmt.Errorf("cannot parse %s: %w", name, err)
	}
	if v >= unlimitedV1 {
		return 0, true, nil
	}
	return int64(v), true, nil
}

package memlimit

import (
	"io/fs"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

const mib = 1 << 20

func file(s string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(s)} }

func TestCgroupLimit(t *testing.T) {
	type want struct {
		limit int64
		err   error
	}
	cases := map[string]struct {
		reason string
		fs     fstest.MapFS
		want   want
	}{
		"V2Namespaced": {
			reason: "With a cgroup namespace the container's cgroup is the root of the mount.",
			fs: fstest.MapFS{
				"proc/self/cgroup":         file("0::/\n"),
				"sys/fs/cgroup/memory.max": file("536870912\n"),
			},
			want: want{limit: 512 * mib},
		},
		"V2Unlimited": {
			reason: "memory.max reads max when the cgroup has no limit.",
			fs: fstest.MapFS{
				"proc/self/cgroup":         file("0::/\n"),
				"sys/fs/cgroup/memory.max": file("max\n"),
			},
			want: want{limit: 0},
		},
		"V2Nested": {
			reason: "Without a cgroup namespace the process's cgroup is a path under the mount; its own limit counts.",
			fs: fstest.MapFS{
				"proc/self/cgroup":                           file("0::/kubepods/pod1/ctr\n"),
				"sys/fs/cgroup/memory.max":                   file("max\n"),
				"sys/fs/cgroup/kubepods/memory.max":          file("max\n"),
				"sys/fs/cgroup/kubepods/pod1/memory.max":     file("max\n"),
				"sys/fs/cgroup/kubepods/pod1/ctr/memory.max": file("268435456\n"),
			},
			want: want{limit: 256 * mib},
		},
		"V2ParentLimitBinds": {
			reason: "A limit on the pod's cgroup binds a container cgroup that has none.",
			fs: fstest.MapFS{
				"proc/self/cgroup":                           file("0::/kubepods/pod1/ctr\n"),
				"sys/fs/cgroup/memory.max":                   file("max\n"),
				"sys/fs/cgroup/kubepods/pod1/memory.max":     file("1073741824\n"),
				"sys/fs/cgroup/kubepods/pod1/ctr/memory.max": file("max\n"),
			},
			want: want{limit: 1024 * mib},
		},
		"V2SmallestOnThePath": {
			reason: "The smallest limit from the process's cgroup up to the root is the one the kernel enforces.",
			fs: fstest.MapFS{
				"proc/self/cgroup":                           file("0::/kubepods/pod1/ctr\n"),
				"sys/fs/cgroup/kubepods/memory.max":          file("134217728\n"),
				"sys/fs/cgroup/kubepods/pod1/memory.max":     file("1073741824\n"),
				"sys/fs/cgroup/kubepods/pod1/ctr/memory.max": file("536870912\n"),
			},
			want: want{limit: 128 * mib},
		},
		"V2HostPathNotMounted": {
			reason: "A cgroup path that the container's mount does not show falls back to the mount's root, which is the container's cgroup.",
			fs: fstest.MapFS{
				"proc/self/cgroup":         file("0::/kubepods/pod1/ctr\n"),
				"sys/fs/cgroup/memory.max": file("805306368\n"),
			},
			want: want{limit: 768 * mib},
		},
		"V1": {
			reason: "cgroup v1 keeps the limit in the memory controller's memory.limit_in_bytes.",
			fs: fstest.MapFS{
				"proc/self/cgroup":                                      file("12:pids:/docker/abc\n4:cpu,cpuacct:/docker/abc\n3:memory:/docker/abc\n0::/\n"),
				"sys/fs/cgroup/memory/memory.limit_in_bytes":            file("9223372036854771712\n"),
				"sys/fs/cgroup/memory/docker/abc/memory.limit_in_bytes": file("402653184\n"),
			},
			want: want{limit: 384 * mib},
		},
		"V1Unlimited": {
			reason: "cgroup v1 reports no limit as the largest page-aligned int64.",
			fs: fstest.MapFS{
				"proc/self/cgroup":                           file("3:memory:/\n"),
				"sys/fs/cgroup/memory/memory.limit_in_bytes": file("9223372036854771712\n"),
			},
			want: want{limit: 0},
		},
		"V1SharedController": {
			reason: "A v1 hierarchy can mount memory together with other controllers.",
			fs: fstest.MapFS{
				"proc/self/cgroup":                                      file("5:memory,hugetlb:/docker/abc\n"),
				"sys/fs/cgroup/memory/memory.limit_in_bytes":            file("9223372036854771712\n"),
				"sys/fs/cgroup/memory/docker/abc/memory.limit_in_bytes": file("67108864\n"),
			},
			want: want{limit: 64 * mib},
		},
		"NoCgroupFilesystem": {
			reason: "Outside Linux, or without a cgroup mount, there is no limit and no error.",
			fs:     fstest.MapFS{},
			want:   want{limit: 0},
		},
		"Garbage": {
			reason: "A limit that is not a number is an error, not silently no limit.",
			fs: fstest.MapFS{
				"proc/self/cgroup":         file("0::/\n"),
				"sys/fs/cgroup/memory.max": file("lots\n"),
			},
			want: want{err: cmpopts.AnyError},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := CgroupLimit(tc.fs)
			if diff := cmp.Diff(tc.want.err, err, cmpopts.EquateErrors()); diff != "" {
				t.Errorf("%s\nCgroupLimit(...): -want error, +got error:\n%s", tc.reason, diff)
			}
			if diff := cmp.Diff(tc.want.limit, got); diff != "" {
				t.Errorf("%s\nCgroupLimit(...): -want, +got:\n%s", tc.reason, diff)
			}
		})
	}
}

// unreadable fails reading one file with a permission error. It does not
// embed the MapFS, whose ReadFile would bypass Open.
type unreadable struct {
	fs   fstest.MapFS
	name string
}

func (u unreadable) Open(name string) (fs.File, error) {
	if name == u.name {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrPermission}
	}
	return u.fs.Open(name)
}

func TestSet(t *testing.T) {
	limited := fstest.MapFS{
		"proc/self/cgroup":         file("0::/\n"),
		"sys/fs/cgroup/memory.max": file("1073741824\n"),
	}
	type want struct {
		result Result
		set    []int64
		err    error
	}
	cases := map[string]struct {
		reason   string
		fs       fs.FS
		env      map[string]string
		fraction float64
		want     want
	}{
		"FromCgroup": {
			reason: "90% of the cgroup's limit becomes the Go memory limit by default.",
			fs:     limited,
			want: want{
				result: Result{Cgroup: 1024 * mib, Limit: 1024 * mib * 9 / 10, Reason: "90% of the cgroup memory limit"},
				set:    []int64{1024 * mib * 9 / 10},
			},
		},
		"Fraction": {
			reason:   "The fraction is configurable.",
			fs:       limited,
			fraction: 0.5,
			want: want{
				result: Result{Cgroup: 1024 * mib, Limit: 512 * mib, Reason: "50% of the cgroup memory limit"},
				set:    []int64{512 * mib},
			},
		},
		"GOMEMLIMITWins": {
			reason: "An operator's GOMEMLIMIT is already applied by the runtime and must not be overridden.",
			fs:     limited,
			env:    map[string]string{"GOMEMLIMIT": "300MiB"},
			want:   want{result: Result{Reason: "GOMEMLIMIT=300MiB is set"}},
		},
		"NoLimit": {
			reason: "Without a cgroup limit the runtime's default (no limit) stays.",
			fs: fstest.MapFS{
				"proc/self/cgroup":         file("0::/\n"),
				"sys/fs/cgroup/memory.max": file("max\n"),
			},
			want: want{result: Result{Reason: "the cgroup has no memory limit"}},
		},
		"UnreadableCgroups": {
			reason: "A process cgroup list that cannot be read is an error, wrapping the cause, and sets nothing.",
			fs:     unreadable{fs: limited, name: "proc/self/cgroup"},
			want:   want{err: fs.ErrPermission},
		},
		"UnreadableLimit": {
			reason: "A limit that cannot be read is an error, not silently no limit.",
			fs:     unreadable{fs: limited, name: "sys/fs/cgroup/memory.max"},
			want:   want{err: fs.ErrPermission},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			var set []int64
			got, err := Set(Options{
				FS:             tc.fs,
				Getenv:         func(k string) string { return tc.env[k] },
				SetMemoryLimit: func(l int64) int64 { set = append(set, l); return 0 },
				Fraction:       tc.fraction,
			})
			if diff := cmp.Diff(tc.want.err, err, cmpopts.EquateErrors()); diff != "" {
				t.Errorf("%s\nSet(...): -want error, +got error:\n%s", tc.reason, diff)
			}
			if diff := cmp.Diff(tc.want.result, got); diff != "" {
				t.Errorf("%s\nSet(...): -want, +got:\n%s", tc.reason, diff)
			}
			if diff := cmp.Diff(tc.want.set, set); diff != "" {
				t.Errorf("%s\nSetMemoryLimit calls: -want, +got:\n%s", tc.reason, diff)
			}
		})
	}
}

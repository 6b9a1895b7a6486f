package testenv

import "github.com/google/go-cmp/cmp"

// SubsetOf compares maps only on the keys of the first one, so that fields
// the apiserver defaults in a stored object do not count as differences from
// the manifest that created it.
func SubsetOf() cmp.Option {
	return cmp.FilterPath(func(p cmp.Path) bool {
		mi, ok := p.Last().(cmp.MapIndex)
		if !ok {
			return false
		}
		vx, _ := mi.Values()
		return !vx.IsValid()
	}, cmp.Ignore())
}

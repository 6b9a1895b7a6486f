package main

import (
	"fmt"
	"sort"
)

func sprintf(f string, a ...any) string { return fmt.Sprintf(f, a...) }
func sortStrings(s []string)            { sort.Strings(s) }

func nilIfZero(n int) any {
	if n == 0 {
		return nil
	}
	return float64(n)
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

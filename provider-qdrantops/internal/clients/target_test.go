package clients

import (
	"testing"

	"github.com/qdrantops/qdrantops/apis/ops/v1alpha1"
)

func TestTargetName(t *testing.T) {
	cases := map[string]struct {
		reason string
		url    string
		want   string
	}{
		"HostAndPort":  {"The port is not part of the name.", "http://qdrant.legacy.svc:6333", "qdrant.legacy.svc"},
		"HostAndPath":  {"Nor is a path.", "https://qdrant.example.com/prefix/", "qdrant.example.com"},
		"IPv6WithPort": {"An IPv6 host loses its brackets and port.", "http://[fd00::1]:6333", "fd00::1"},
		"IPv6NoPort":   {"An IPv6 host without a port is still whole.", "http://[::1]", "::1"},
		"IPv4":         {"An IPv4 host.", "http://10.0.0.7:6333/", "10.0.0.7"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := TargetName(nil, &v1alpha1.QdrantConnection{URL: tc.url}); got != tc.want {
				t.Errorf("%s\nTargetName(%q): want %q, got %q", tc.reason, tc.url, tc.want, got)
			}
		})
	}
}

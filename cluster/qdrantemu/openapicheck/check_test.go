package openapicheck

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/qdrantops/qdrantops/cluster/qdrantemu"
)

func TestCheckerCatchesContractBreaks(t *testing.T) {
	cases := map[string]struct {
		reason       string
		method, path string
		reqBody      string
		status       int
		respBody     string
		wantProblem  string // "" for a valid exchange
	}{
		"ValidCount": {
			reason: "A count request and its answer as Qdrant defines them.",
			method: "POST", path: "/collections/c/points/count", reqBody: `{"exact":true}`,
			status: 200, respBody: `{"result":{"count":3},"status":"ok","time":0.1}`,
		},
		"ValidErrorEnvelope": {
			reason: "The error envelope validates.",
			method: "GET", path: "/collections/c", status: 404,
			respBody: `{"status":{"error":"Not found: Collection ` + "`c`" + ` doesn't exist!"},"time":0.0}`,
		},
		"ResponseWithWrongType": {
			reason: "A count that is not an integer breaks the contract.",
			method: "POST", path: "/collections/c/points/count", reqBody: `{"exact":true}`,
			status: 200, respBody: `{"result":{"count":"three"},"status":"ok","time":0.1}`,
			wantProblem: "response 200",
		},
		"ResponseMissingRequired": {
			reason: "A snapshot description needs a size.",
			method: "POST", path: "/collections/c/snapshots", status: 200,
			respBody:    `{"result":{"name":"x.snapshot"},"status":"ok","time":0.1}`,
			wantProblem: "size",
		},
		"RequestWithoutRequiredField": {
			reason: "A recover request without a location breaks the contract.",
			method: "PUT", path: "/collections/c/snapshots/recover", reqBody: `{"priority":"snapshot"}`,
			status: 400, respBody: `{"status":{"error":"bad"},"time":0.0}`,
			wantProblem: "request PUT",
		},
		"UnknownOperation": {
			reason: "Paths Qdrant does not have are reported.",
			method: "GET", path: "/collections/c/backups", status: 404,
			wantProblem: "no such operation",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			p := openapiPathOrSkip(t)
			c, err := Load(p)
			if err != nil {
				t.Fatal(err)
			}
			req := httptest.NewRequestWithContext(t.Context(), tc.method, "http://127.0.0.1:1"+tc.path, strings.NewReader(tc.reqBody))
			ex := qdrantemu.Exchange{Request: req, Status: tc.status, ResponseHeader: http.Header{"Content-Type": {"application/json"}}}
			if tc.reqBody != "" {
				req.Header.Set("Content-Type", "application/json")
				ex.RequestBody = []byte(tc.reqBody)
			}
			if tc.respBody != "" {
				ex.ResponseBody = []byte(tc.respBody)
			}
			c.Observe(ex)
			got := strings.Join(c.problems, "\n")
			switch {
			case tc.wantProblem == "" && got != "":
				t.Errorf("%s\nwant no problem, got:\n%s", tc.reason, got)
			case tc.wantProblem != "" && !strings.Contains(got, tc.wantProblem):
				t.Errorf("%s\nwant a problem containing %q, got %q", tc.reason, tc.wantProblem, got)
			}
		})
	}
}

func openapiPathOrSkip(t *testing.T) string {
	t.Helper()
	FromEnv(t) // Skips, saying why, without the schema.
	return mustEnv()
}

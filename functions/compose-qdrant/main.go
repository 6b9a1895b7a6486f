// Command compose-qdrant is the composition function of the QdrantCluster
// XR: it composes the official qdrant Helm chart through provider-helm, the
// cluster's API key and connection Secrets, and optionally a backup bucket and
// a BackupSchedule.
package main

import (
	"crypto/rand"
	"flag"
	"fmt"
	"os"

	"github.com/crossplane/function-sdk-go"
	// The runtime image has no CA bundle: the function trusts the Mozilla
	// roots compiled in when the system has none.
	_ "golang.org/x/crypto/x509roots/fallback"
)

func main() {
	debug := flag.Bool("debug", false, "log at debug level")
	address := flag.String("address", ":9443", "gRPC address to serve on")
	certs := flag.String("tls-certs-dir", os.Getenv("TLS_SERVER_CERTS_DIR"), "folder of the mTLS certificates (tls.crt, tls.key, ca.crt)")
	insecure := flag.Bool("insecure", false, "serve without mTLS, for local runs such as crossplane render")
	metrics := flag.String("metrics-address", "", "address of the Prometheus metrics server; empty disables it")
	flag.Parse()

	log, err := function.NewLogger(*debug)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	err = function.Serve(&Function{log: log, random: rand.Reader},
		function.Listen("tcp", *address),
		function.MTLSCertificates(*certs),
		function.Insecure(*insecure),
		function.WithMetricsServer(*metrics))
	if err != nil {
		log.Info("Function stopped", "error", err)
		os.Exit(1)
	}
}

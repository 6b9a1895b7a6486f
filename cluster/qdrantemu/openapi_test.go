package qdrantemu_test

import "os"

func openapiPath() string { return os.Getenv("QDRANT_OPENAPI") }
